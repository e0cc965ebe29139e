"""Hotel systems' ``POST /checkins`` served straight from ASGI: the command centre's busiest write.

At a thousand check-ins a second, FastAPI's routing over every route of the API and its dependency
resolution cost about twice what storing the check-in does (measured with py-spy on the real process;
see the README's check-in figures). ``CheckinFastPath`` answers a check-in posted with an
``X-API-Key`` (a JSON body, no bearer token) itself: the key from this process's cache (or checked in
a thread), the body validated by the route's own model (``CheckinPost``), stored by the same code as the
route (``checkin_ingest.post_one``), answered with the route's acknowledgement and status. Anything
else goes on to the app untouched, which answers it as always: another path or method, a bearer token,
another content type, a key that is not valid or may not post (401/403 from the route), a body that
does not validate (the route's 422, the body handed on as it came). It sits inside the app's other
middleware (body size limit, security headers, CORS), so those apply as to every request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import HTTPException
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from command_center.api.deps import key_principal
from command_center.records.api import checkin_ingest as ingest
from command_center.records.api.person_views import CheckinPost
from command_center.security.permissions import Permission
from command_center.services import Services

PATH = "/checkins"
_JSON = (b"content-type", b"application/json")


def _api_key(scope: Scope) -> str | None:
    """The API key sent, when the request is one this path serves: a JSON body and no Authorization."""
    key, json_body = None, False
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            key = value.decode("latin-1")
        elif name == b"authorization":
            return None
        elif name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            json_body = kind == b"application/json" or kind.endswith(b"+json")
    return key if json_body else None


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to answer
            raise ConnectionResetError("the client disconnected before sending its check-in")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app, giving back the body already read."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def _answer(send: Send, status: int, body: bytes, extra: Mapping[str, str] | None = None) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CheckinFastPath:
    """Pure ASGI: a hotel's ``POST /checkins`` answered without FastAPI's routing and dependencies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        key = _api_key(scope)
        services: Services | None = getattr(scope["app"].state, "services", None)
        principal = await key_principal(services, key) if services and key else None
        if services is None or principal is None or not principal.can(Permission.CHECKINS_POST):
            await self.app(scope, receive, send)  # the route answers, 401/403 included
            return
        body = await _body(receive)
        try:
            posted = CheckinPost.model_validate_json(body)
        except ValidationError:
            await self.app(scope, _replay(body, receive), send)  # the route's 422, in its words
            return
        client = scope.get("client")
        try:
            status, ack = await ingest.post_one(
                posted,
                principal,
                services.audit,
                services.records,
                services.settings,
                client[0] if client else None,
            )
        except HTTPException as exc:
            answer = json.dumps({"detail": exc.detail}, ensure_ascii=False, separators=(",", ":")).encode()
            await _answer(send, exc.status_code, answer, exc.headers)
            return
        await _answer(send, status, ack.model_dump_json().encode())
