"""Builders for command-centre tests: settings, JPEGs, face hits, a served app."""

from __future__ import annotations

import asyncio
import contextlib
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

from pipeline.contracts import Box, FaceHit
from pipeline.settings import Settings, parse
from tests.services import TEST_SECURITY, free_port

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def settings_for(database_url: str, nats_url: str, tmp_path: Path, models_dir: Path, **cc: Any) -> Settings:
    command_center = {"consumer_name": f"cc-test-{uuid.uuid4().hex[:10]}", "alert_merge_window_s": 60.0}
    command_center.update(cc)
    return parse(
        {
            "environment": "test",
            "data_dir": str(tmp_path),
            "database_url": database_url,
            "nats_url": nats_url,
            "models_dir": str(models_dir),
            "command_center": command_center,
            "security": TEST_SECURITY,
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
    http: httpx.AsyncClient
    app: FastAPI


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[Served]:
    """Run the app with uvicorn on a free port in this event loop."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            yield Served(url, f"ws://127.0.0.1:{port}", http, app)
    finally:
        server.should_exit = True
        await task
