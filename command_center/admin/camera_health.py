"""Cameras' health as their workers report it (pipeline.camera_health): kept per camera, logged when it
changes, and pushed to the operators of the camera's district on the live feed (``camera_health``
messages beside the alerts), so a camera that refuses its login is noticed and fixed, not left dark."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from nats.aio.msg import Msg
from pydantic import ValidationError

from command_center.alerts.feed import AlertFeed
from command_center.listening import Listening
from pipeline.camera_health import CameraHealth
from pipeline.settings import CameraConfig
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)


class CameraHealthBoard(Listening):
    def __init__(self, cameras: Mapping[str, CameraConfig], feed: AlertFeed, names: Subjects) -> None:
        self._cameras = cameras
        self._feed = feed
        self._latest: dict[str, CameraHealth] = {}
        self._subject = names.camera_health_all()

    def get(self, camera_id: str) -> CameraHealth | None:
        """The camera's last notice, if it is in a bad state (an ``ok`` clears it)."""
        return self._latest.get(camera_id)

    def problems(self) -> list[CameraHealth]:
        return [self._latest[k] for k in sorted(self._latest)]

    async def _on_message(self, msg: Msg) -> None:
        try:
            notice = CameraHealth.from_bytes(msg.data)
        except ValidationError as exc:
            log.warning("ignored an invalid CameraHealth: %s", exc.errors(include_input=False)[:1])
            return
        self.take(notice)

    def take(self, notice: CameraHealth) -> None:
        before = self._latest.get(notice.camera_id)
        if notice.state == "ok":
            if before is None:
                return
            del self._latest[notice.camera_id]
        else:
            self._latest[notice.camera_id] = notice
        changed = before is None or before.state != notice.state or before.refusals != notice.refusals
        if not changed:
            return  # a repeat with the heartbeat
        log.log(
            logging.INFO if notice.state == "ok" else logging.WARNING,
            "%s",
            notice.summary,
            extra={"camera_id": notice.camera_id, "worker_id": notice.worker_id},
        )
        camera = self._cameras.get(notice.camera_id)
        district = camera.district if camera is not None else ""
        body = {"type": "camera_health", "summary": notice.summary, "health": notice.model_dump(mode="json")}
        self._feed.broadcast(json.dumps(body), district)
