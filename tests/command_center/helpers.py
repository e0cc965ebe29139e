"""Builders for command-centre tests: settings, JPEGs, face hits, a served app (signed in as an admin)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI
from websockets.typing import Subprotocol

from command_center.security.authn import TokenPair
from command_center.security.permissions import Role
from command_center.security.users import StaffUser
from pipeline.contracts import Box, EvidenceSource, FaceEvidence, FaceHit
from pipeline.settings import Settings, parse
from tests.services import TEST_SECURITY, deployment_audit_key

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
METRICS_TOKEN = "test-scraper-token-0123456789"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def settings_for(
    database_url: str,
    nats_url: str,
    tmp_path: Path,
    models_dir: Path,
    *,
    redis_url: str = "redis://127.0.0.1:6379/0",
    cameras: list[dict[str, str]] | None = None,
    **cc: Any,
) -> Settings:
    """Test settings; one-time codes go to ``tmp_path/sms_outbox.jsonl`` (read them with ``read_code``).

    With ``cameras`` given, hits from any other camera are dead-lettered, as in production; without, the
    test's hits come from made-up cameras (``camera()``) and are accepted."""
    command_center: dict[str, Any] = {
        "consumer_name": f"cc-test-{uuid.uuid4().hex[:10]}",
        "unknown_cameras": "dead_letter" if cameras else "accept",
        "metrics_token": METRICS_TOKEN,
        "alert_merge_window_s": 60.0,
        "episodes": {},  # every category on the 60 s default window
    }
    command_center.update(cc)
    return parse(
        {
            "environment": "test",
            "data_dir": str(tmp_path),
            "database_url": database_url,
            "nats_url": nats_url,
            "redis_url": redis_url,
            "models_dir": str(models_dir),
            "command_center": command_center,
            # Not the default fleet: a demo run on this machine leaves its cameras in that catalogue.
            "worker": {"fleet": "tests"},
            "security": {
                **TEST_SECURITY,
                "audit_key": deployment_audit_key(),
                "sms_backend": "outbox",
                "sms_outbox": str(tmp_path / "sms_outbox.jsonl"),
            },
            "cameras": cameras or [],
        }
    )


def camera() -> str:
    return f"cam-{uuid.uuid4().hex[:10]}"


def jpeg(bgr: tuple[int, int, int], size: int = 32) -> bytes:
    image = np.zeros((size, size, 3), np.uint8)
    image[:] = bgr
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes()


def hit(
    camera_id: str,
    *,
    profile_id: int = 7,
    similarity: float = 0.6,
    at: datetime = T0,
    crop: bytes | None = None,
    event_id: uuid.UUID | None = None,
) -> FaceHit:
    extra = {"event_id": event_id} if event_id else {}
    return FaceHit(
        camera_id=camera_id,
        worker_id="worker-test",
        captured_at=at,
        frame_sent_at=at - timedelta(milliseconds=40),
        box=Box(x=10, y=20, w=64, h=64),
        landmarks=[(1.0, 2.0)] * 5,
        detector_score=0.9,
        similarity=similarity,
        threshold=0.42,
        profile_id=profile_id,
        profile_name=f"Person {profile_id}",
        category="wanted",
        embedder_model="mobilefacenet",
        crop_jpeg=crop if crop is not None else jpeg((0, 0, 255)),
        scene_jpeg=jpeg((40, 40, 40), 96),
        **extra,
    )


MAIN_STREAM = EvidenceSource(stream="main", width=1920, height=1080, offset_ms=12.0, correlation=0.93)


def main_stream_images(of: FaceHit, crop: bytes) -> FaceEvidence:
    """The sharper images a sub-stream camera's worker sends after hit ``of``."""
    return FaceEvidence(
        camera_id=of.camera_id,
        worker_id=of.worker_id,
        hit_id=of.event_id,
        crop_jpeg=crop,
        scene_jpeg=jpeg((90, 90, 90), 192),
        evidence=MAIN_STREAM,
    )


async def eventually(check: Callable[[], Awaitable[Any]], within_s: float = 10.0) -> Any:
    """Retry ``check`` until it returns something truthy (returned) or the time is up."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within_s}s (last: {result!r})")
        await asyncio.sleep(0.05)


@dataclass
class Served:
    url: str
    ws_url: str
    http: httpx.AsyncClient  # signed in as ``admin``
    app: FastAPI
    anon: httpx.AsyncClient | None = None  # no credentials at all
    admin: TokenPair | None = None

    @property
    def token(self) -> str:
        assert self.admin is not None
        return self.admin.access_token


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[Served]:
    """Run the app with uvicorn on a free port in this event loop; ``http`` is signed in as an admin.

    The socket is bound here and handed to uvicorn, so no other process can take the port between
    choosing it and listening on it (as with a port chosen first and bound later, on a busy machine)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        admin = await staff_session(app, Role.ADMIN)
        async with (
            httpx.AsyncClient(base_url=url, timeout=10, headers=bearer(admin.access_token)) as http,
            httpx.AsyncClient(base_url=url, timeout=10) as anon,
        ):
            yield Served(url, f"ws://127.0.0.1:{port}", http, app, anon, admin)
    finally:
        server.should_exit = True
        await task
        sock.close()


# -- staff accounts and sign-in ----------------------------------------------------------------------


def government_id() -> str:
    return f"T-{uuid.uuid4().hex[:12].upper()}"


def mobile() -> str:
    return f"+9230{uuid.uuid4().int % 10**8:08d}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ws_auth(token: str) -> list[Subprotocol]:
    """What a WebSocket client offers to authenticate: the subprotocols ``bearer, <token>``."""
    return [Subprotocol("bearer"), Subprotocol(token)]


async def add_user(app: FastAPI, role: Role, districts: tuple[str, ...] = (), **fields: Any) -> StaffUser:
    values = {"government_id": government_id(), "mobile": mobile(), "name": f"Officer {role.value}"}
    values.update(fields)
    users = app.state.services.auth.users
    user: StaffUser = await asyncio.to_thread(users.add, role=role.value, districts=districts, **values)
    return user


async def staff_session(app: FastAPI, role: Role, districts: tuple[str, ...] = ()) -> TokenPair:
    """A new account of this role, signed in directly (no SMS): for tests about something else."""
    user = await add_user(app, role, districts)
    pair: TokenPair = await app.state.services.auth.open_session(user)
    return pair


def codes_sent(outbox: Path, to: str) -> list[str]:
    if not outbox.exists():
        return []
    messages = [json.loads(line) for line in outbox.read_text().splitlines()]
    return [re.findall(r"code is ([0-9]+)", m["text"])[0] for m in messages if m["to"] == to]


async def read_code(outbox: Path, to: str, *, after: int = 0) -> str:
    """The code of the ``after``-th message sent to this number (codes are sent after the answer)."""
    sent: list[str] = await eventually(lambda: _more_than(outbox, to, after), 10)
    return sent[after]


async def _more_than(outbox: Path, to: str, count: int) -> list[str] | None:
    sent = codes_sent(outbox, to)
    return sent if len(sent) > count else None


async def otp_sign_in(http: httpx.AsyncClient, outbox: Path, user: StaffUser) -> dict[str, Any]:
    """The real flow: login → code from the SMS outbox → verify → tokens."""
    already = len(codes_sent(outbox, user.mobile))
    body = {"government_id": user.government_id, "mobile": user.mobile}
    response = await http.post("/auth/login", json=body)
    assert response.status_code == 202, response.text
    code = await read_code(outbox, user.mobile, after=already)
    response = await http.post("/auth/verify", json={**body, "code": code})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens
