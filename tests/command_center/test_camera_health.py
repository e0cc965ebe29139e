"""Camera-health notices from workers reach the command centre over NATS: kept while bad, logged once
per change (without any password), cleared by ``ok``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import nats
import pytest

from command_center.admin.camera_health import CameraHealthBoard
from command_center.alerts.feed import AlertFeed
from pipeline.camera_health import CameraHealth
from pipeline.contracts import utcnow
from pipeline.settings import CameraConfig
from tests.command_center.helpers import eventually
from tests.names import subjects


def _now(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check


def test_a_refused_login_is_kept_logged_once_and_cleared(
    nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="command_center.admin.camera_health")
    camera = CameraConfig(id="health-cam", url="rtsp://10.0.0.9/main", district="Saddar")

    async def scenario() -> list[CameraHealth | None]:
        nc = await nats.connect(nats_url)
        board = CameraHealthBoard({camera.id: camera}, AlertFeed(), subjects)
        await board.subscribe(nc)
        seen: list[CameraHealth | None] = []
        try:
            refused = CameraHealth(
                camera_id=camera.id,
                worker_id="w1",
                state="login_refused",
                detail="Server returned 401 Unauthorized: 'rtsp://admin:hunter2-secret@10.0.0.9/main'",
                refusals=1,
                retry_at=utcnow() + timedelta(seconds=300),
            )
            for _ in range(3):  # the worker repeats it with every heartbeat
                await nc.publish(subjects.camera_health(camera.id), refused.to_bytes())
            await nc.flush()
            await eventually(_now(lambda: board.get(camera.id) is not None))
            seen.append(board.get(camera.id))
            ok = CameraHealth(camera_id=camera.id, worker_id="w1", state="ok")
            await nc.publish(subjects.camera_health(camera.id), ok.to_bytes())
            await eventually(_now(lambda: board.get(camera.id) is None))
            seen.append(board.get(camera.id))
        finally:
            await board.close()
            await nc.close()
        return seen

    bad, cleared = asyncio.run(scenario())
    assert bad is not None and bad.state == "login_refused" and cleared is None
    assert "hunter2-secret" not in bad.detail and "rtsp://***@10.0.0.9/main" in bad.detail
    lines = [r.getMessage() for r in caplog.records]
    assert sum("login refused" in line for line in lines) == 1  # once, not per repeat
    assert any("login accepted" in line for line in lines)
    assert "hunter2-secret" not in caplog.text
