"""RTSP login for simulated cameras (Basic or Digest), counting every login attempt per camera.

A camera with ``auth`` in its scenario (or ``SimCamera.auth``) answers 401 to a request without valid
credentials, as a real camera does; one without is open to anyone. The server keeps one ``RTSPAuth``: each
protected camera's account gets a role that only its own mounts grant. Every request that carries an
``Authorization`` header counts as an attempt on the camera it names (``LoginCounts``), refused if its
credentials were not the camera's, so a test can tell how often a client tried a wrong password.
"""

from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Literal

from camera_sim.gst import Gst, GstRtspServer

AuthMethod = Literal["basic", "digest"]
ANONYMOUS_ROLE = "anonymous"
_ROLE_KEY = "media.factory.role"


@dataclass(frozen=True, slots=True)
class SimAuth:
    username: str
    password: str
    method: AuthMethod = "digest"

    def __repr__(self) -> str:  # never the password, even in a test's failure output
        return f"SimAuth(username={self.username!r}, method={self.method!r})"


@dataclass(slots=True)
class LoginCounts:
    """Logins per camera (DESCRIBE requests carrying credentials): all of them, and those refused."""

    attempts: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


def role_of(camera_id: str, auth: SimAuth | None) -> str:
    return ANONYMOUS_ROLE if auth is None else f"camera-{camera_id}"


def grant(factory: GstRtspServer.RTSPMediaFactory, role: str, roles: set[str]) -> None:
    """Let holders of ``role`` (every one, for the anonymous role) see and play the factory's stream.

    Every other role is listed as refused: a role a factory does not list gets 404, not the 401 that asks
    a client for (other) credentials.
    """
    for each in roles | {role, ANONYMOUS_ROLE}:
        allowed = "true" if role in (each, ANONYMOUS_ROLE) else "false"
        text = f"{each}, media.factory.access=(boolean){allowed}, media.factory.construct=(boolean){allowed}"
        structure, _ = Gst.Structure.from_string(text)
        factory.add_role_from_structure(structure)


def _token(role: str) -> GstRtspServer.RTSPToken:
    token = GstRtspServer.RTSPToken()
    token.set_string(_ROLE_KEY, role)
    return token


class CountingAuth(GstRtspServer.RTSPAuth):  # type: ignore[misc]
    """The server's RTSPAuth: GStreamer checks the credentials; this counts the attempts per camera."""

    def __init__(self, cameras: dict[str, SimAuth | None]) -> None:
        super().__init__()
        self._roles = {camera_id: role_of(camera_id, auth) for camera_id, auth in cameras.items()}
        self.counts = {camera_id: LoginCounts() for camera_id, auth in cameras.items() if auth is not None}
        # No default token (a client without one gets the 401 that asks for credentials); a request for
        # an open camera is given this one instead.
        self._anonymous = _token(ANONYMOUS_ROLE)
        methods = {auth.method for auth in cameras.values() if auth is not None}
        digest_users: dict[str, str] = {}
        from gi.repository import GstRtsp

        if len(methods) > 1:
            raise ValueError("the cameras of one simulator use one login method (basic or digest)")

        for camera_id, auth in cameras.items():
            if auth is None:
                continue
            token = _token(self._roles[camera_id])
            if auth.method == "basic":
                self.add_basic(GstRtspServer.RTSPAuth.make_basic(auth.username, auth.password), token)
            else:
                if digest_users.setdefault(auth.username, auth.password) != auth.password:
                    raise ValueError(f"digest user {auth.username!r} has two passwords: not supported")
                self.add_digest(auth.username, auth.password, token)
        if methods:
            basic = methods == {"basic"}
            self.set_supported_methods(
                GstRtsp.RTSPAuthMethod.BASIC if basic else GstRtsp.RTSPAuthMethod.DIGEST
            )

    def do_authenticate(self, ctx: Any) -> bool:
        from gi.repository import GstRtsp

        result, _header = ctx.request.get_header(GstRtsp.RTSPHeaderField.AUTHORIZATION, 0)
        accepted: bool = GstRtspServer.RTSPAuth.do_authenticate(self, ctx)
        camera_id = self._camera_of(ctx.request)
        counts = self.counts.get(camera_id) if camera_id is not None else None
        if counts is None and ctx.token is None:
            ctx.set_token(self._anonymous)
        if result != GstRtsp.RTSPResult.OK or ctx.method != GstRtsp.RTSPMethod.DESCRIBE:
            return accepted  # no credentials offered (the 401 that asks for them), or not a login
        if counts is not None and camera_id is not None:
            token = ctx.token
            role = token.get_string(_ROLE_KEY) if token is not None else None
            with counts.lock:
                counts.attempts += 1
                if role != self._roles[camera_id]:
                    counts.refused += 1
        return accepted

    def _camera_of(self, request: Any) -> str | None:
        """The camera a request's URI names (its first path segment)."""
        parsed = request.parse_request()
        uri = parsed[2] if len(parsed) > 2 else None
        if not uri:
            return None
        path = urllib.parse.urlsplit(uri).path.strip("/")
        camera_id = path.split("/", 1)[0]
        return camera_id if camera_id in self._roles else None
