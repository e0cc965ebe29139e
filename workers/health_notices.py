"""Sends a worker's camera health notices (pipeline.camera_health) from the camera threads to NATS.

A source thread reports a refused login or its recovery; the notice is published on the worker's event
loop at once, and each camera still in a bad state is sent again with every heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from nats.aio.client import Client

from pipeline.camera_health import CameraHealth
from pipeline.contracts import utcnow
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)


class HealthNotices:
    def __init__(self, worker_id: str, loop: asyncio.AbstractEventLoop, nc: Client, names: Subjects) -> None:
        self._worker_id = worker_id
        self._loop = loop
        self._nc = nc
        self._names = names
        self._bad: dict[str, CameraHealth] = {}

    def login_refused(self, camera_id: str, reason: str, refusals: int, retry_in_s: float) -> None:
        """From a camera's thread: the login was refused; the next attempt is in ``retry_in_s``."""
        notice = CameraHealth(
            camera_id=camera_id,
            worker_id=self._worker_id,
            state="login_refused",
            detail=reason[:500],
            refusals=refusals,
            retry_at=utcnow() + timedelta(seconds=retry_in_s),
        )
        self._loop.call_soon_threadsafe(self._send, notice)

    def login_accepted(self, camera_id: str) -> None:
        notice = CameraHealth(camera_id=camera_id, worker_id=self._worker_id, state="ok")
        self._loop.call_soon_threadsafe(self._send, notice)

    def forget(self, camera_id: str) -> None:
        """The camera is no longer this worker's: stop repeating its state (on the loop)."""
        self._bad.pop(camera_id, None)

    async def repeat(self) -> None:
        """With each heartbeat: the cameras still in a bad state, again."""
        for notice in list(self._bad.values()):
            await self._publish(notice.model_copy(update={"emitted_at": utcnow()}))

    def _send(self, notice: CameraHealth) -> None:
        if notice.state == "ok":
            self._bad.pop(notice.camera_id, None)
        else:
            self._bad[notice.camera_id] = notice
        self._loop.create_task(self._publish(notice))

    async def _publish(self, notice: CameraHealth) -> None:
        try:
            await self._nc.publish(self._names.camera_health(notice.camera_id), notice.to_bytes())
        except Exception as exc:
            log.warning("camera %s: health notice not sent: %s", notice.camera_id, exc)
