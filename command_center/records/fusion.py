"""Face + plate fusion: a CRO person's face and one of their known vehicles seen close together.

Every replica hears every alert event (``alert_events()``). A face alert (created or updated) of a
watchlist profile linked to a CRO person, or a plate alert of a hotlist entry among a person's known
vehicles, is paired with the person's alerts of the other kind whose sightings lie within
``fusion.window_s`` of it, from cameras at most ``fusion.distance_m`` apart (the same camera, or two
cameras with positions). Each such pair raises one ``fusion`` alert through ``AlertStore.record_hit``,
like a camera hit, on the face's camera, one priority step more urgent than the more urgent of the two
(at most 1), with both alerts' links and crops. The hit id is derived from (person, face alert, plate
alert): a redelivered event, a later update of either alert, or a second replica stores nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from sqlalchemy import Engine

from command_center.alerts.sightings import Sighting
from command_center.alerts.store import Alert, AlertStore
from command_center.alerts.views import stored_event
from command_center.dispatch.positions import haversine_m
from command_center.records.person_alerts import subjects_of
from command_center.records.screening import placeholder_jpeg
from command_center.records.store import PersonStore
from command_center.records.types import Person
from pipeline.contracts import AlertEvent
from pipeline.settings import CameraConfig
from pipeline.settings.fusion import FusionSettings
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

HIT_NAMESPACE = uuid.UUID("0b7e2f51-3c9a-4e6d-8f14-5a2c9d7e1b38")
WORKER_ID = "fusion"
FUSED_KINDS = ("face", "plate")


@dataclass(frozen=True, slots=True)
class Pair:
    person: Person
    face: Alert
    plate: Alert
    gap_s: float
    distance_m: float

    @property
    def hit_id(self) -> uuid.UUID:
        return uuid.uuid5(HIT_NAMESPACE, f"fusion:{self.person.id}:{self.face.id}:{self.plate.id}")

    @property
    def priority(self) -> int:
        return max(1, min(self.face.priority, self.plate.priority) - 1)


def gap_s(a: Alert, b: Alert) -> float:
    """Seconds between two alerts' sightings (0 when their episodes overlap)."""
    return max(0.0, (max(a.first_seen, b.first_seen) - min(a.last_seen, b.last_seen)).total_seconds())


def _from_checkin(alert: Alert) -> bool:
    return (alert.details or {}).get("source") == "checkin"


class FaceVehicleFusion:
    def __init__(
        self,
        settings: FusionSettings,
        engine: Engine,
        persons: PersonStore,
        alerts: AlertStore,
        cameras: Mapping[str, CameraConfig],
        nc: NATS,
        names: Subjects,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._persons = persons
        self._alerts = alerts
        self._cameras = cameras  # camera id -> camera, live (the command centre's camera directory)
        self._nc = nc
        self._names = names
        self._subscription: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._settings.enabled:
            self._subscription = await self._nc.subscribe(self._names.alert_events(), cb=self._on_alert_event)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _on_alert_event(self, msg: Msg) -> None:
        try:
            event = AlertEvent.from_bytes(msg.data)
        except (ValidationError, ValueError):
            return
        if event.kind not in ("created", "updated") or event.alert.kind not in FUSED_KINDS:
            return
        task = asyncio.create_task(self._consider_logged(event.alert_id), name=f"fusion:{event.alert_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consider_logged(self, alert_id: int) -> None:
        try:
            await self.consider(alert_id)
        except Exception:
            log.exception("could not fuse alert %s with its person's other sightings", alert_id)

    async def consider(self, alert_id: int) -> list[int]:
        """Raise the fusion alerts of this face or plate alert; returns their ids (new or not)."""
        alert = await asyncio.to_thread(self._alerts.get_alert, alert_id)
        if alert is None or alert.kind not in FUSED_KINDS or _from_checkin(alert):
            return []
        pairs = await asyncio.to_thread(self.pairs, alert)
        return [await self._raise(pair) for pair in pairs]

    def pairs(self, alert: Alert) -> list[Pair]:
        """Every (person, face alert, plate alert) this alert makes within the window and distance."""
        if alert.kind == "face":
            persons, other = self._persons.by_watchlist_profile(alert.profile_id), "plate"
        else:
            plate = (alert.details or {}).get("plate")
            persons = self._persons.by_vehicle(alert.profile_id, plate if isinstance(plate, str) else "")
            other = "face"
        window = timedelta(seconds=self._settings.window_s)
        found = []
        for person in persons:
            about = subjects_of(self._engine, self._persons.record(person.id)).by_kind()
            near = self._alerts.list_about(
                {other: about[other]}, since=alert.first_seen - window, until=alert.last_seen + window
            )
            for counterpart in near:
                face, plate_alert = (alert, counterpart) if other == "plate" else (counterpart, alert)
                pair = self._pair(person, face, plate_alert)
                if pair is not None:
                    found.append(pair)
        return found

    def _pair(self, person: Person, face: Alert, plate: Alert) -> Pair | None:
        if _from_checkin(face) or _from_checkin(plate):
            return None
        gap = gap_s(face, plate)
        distance = self._distance_m(face.camera_id, plate.camera_id)
        if distance is None or gap > self._settings.window_s or distance > self._settings.distance_m:
            return None
        return Pair(person, face, plate, gap, distance)

    def _distance_m(self, a: str, b: str) -> float | None:
        """Metres between two cameras: 0 for the same camera, None when either has no position."""
        if a == b:
            return 0.0
        one, two = self._cameras.get(a), self._cameras.get(b)
        if one is None or two is None or one.latitude is None or one.longitude is None:
            return None
        if two.latitude is None or two.longitude is None:
            return None
        return haversine_m(one.latitude, one.longitude, two.latitude, two.longitude)

    async def _raise(self, pair: Pair) -> int:
        # Every later sighting of either alert considers the pair again: one raised already is found by
        # its hit id, without reading the crops or taking the audit chain's lock to be told it is there.
        raised = await asyncio.to_thread(self._alerts.alert_of_hit, pair.hit_id)
        if raised is not None:
            return raised.id
        face_crop = await asyncio.to_thread(self._alerts.evidence, pair.face.id, "crop")
        plate_crop = await asyncio.to_thread(self._alerts.evidence, pair.plate.id, "crop")
        sighting = Sighting(
            hit_id=pair.hit_id,
            kind="fusion",
            camera_id=pair.face.camera_id,
            worker_id=WORKER_ID,
            subject_id=pair.person.id,
            subject_name=pair.person.name,
            category=pair.person.category,
            score=pair.face.best_similarity,
            detector_score=1.0,
            box={"x": 0.0, "y": 0.0, "w": 0.0, "h": 0.0},
            frame_sent_at=None,
            captured_at=max(pair.face.last_seen, pair.plate.last_seen),
            timings={},
            crop_jpeg=face_crop or placeholder_jpeg(),
            scene_jpeg=plate_crop or placeholder_jpeg(),
            priority=pair.priority,
            district=pair.face.district,
            details=self._details(pair),
        )
        outcome = await asyncio.to_thread(self._alerts.record_hit, sighting, datetime.now(UTC))
        if not outcome.duplicate and not outcome.quiet:
            try:
                await self._nc.publish(self._names.alert_events(), stored_event(outcome).to_bytes())
            except Exception as exc:
                log.warning("could not announce fusion alert %s: %s", outcome.alert.id, exc)
        return outcome.alert.id

    def _details(self, pair: Pair) -> dict[str, Any]:
        plate = (pair.plate.details or {}).get("plate") or pair.plate.profile_name
        return {
            "source": "fusion",
            "person_id": pair.person.id,
            "gap_s": round(pair.gap_s, 1),
            "distance_m": round(pair.distance_m, 1),
            "window_s": self._settings.window_s,
            "face_alert": self._part(pair.face, profile_id=pair.face.profile_id),
            "plate_alert": self._part(pair.plate, entry_id=pair.plate.profile_id, plate=plate),
        }

    def _part(self, alert: Alert, **extra: Any) -> dict[str, Any]:
        camera = self._cameras.get(alert.camera_id)
        return {
            "id": alert.id,
            "url": f"/alerts/{alert.id}",
            "crop": f"/alerts/{alert.id}/evidence/crop",
            "camera_id": alert.camera_id,
            "camera_name": camera.name if camera is not None else "",
            "latitude": camera.latitude if camera is not None else None,
            "longitude": camera.longitude if camera is not None else None,
            "priority": alert.priority,
            "first_seen": alert.first_seen.isoformat(),
            "last_seen": alert.last_seen.isoformat(),
            **extra,
        }
