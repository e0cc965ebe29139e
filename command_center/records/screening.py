"""Screening of hotel check-ins: the guest's CNIC against the CRO, the guest photo against the watchlist.

It runs after the hotel has its acknowledgement (so the answer, and how long it took, is the same
whether or not the guest matched), from a task per check-in; at start-up every check-in not yet
screened is screened (a replica that stopped half-way loses nothing). A match opens or updates an alert
through ``AlertStore.record_hit`` like a camera hit, on the pseudo-camera ``hotel-<id>`` in the hotel's
district, announces it on ``alert_events()``, and tells the person's followers. The hit id is derived
from the check-in and the subject, so screening the same check-in twice raises nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

import cv2
import numpy as np
from nats.aio.client import Client as NATS
from sqlalchemy import Engine

from command_center.alerts.sightings import Sighting, SightingKind
from command_center.alerts.store import AlertStore, HitOutcome
from command_center.alerts.views import stored_event
from command_center.records.checkins import PLAIN_SCREENING, Checkin, CheckinStore
from command_center.records.faces import FaceMatch, GuestFaceMatcher
from command_center.records.notices import FollowNotifier
from command_center.records.store import PersonStore
from command_center.records.types import Person
from command_center.security.apikeys import ApiKeyStore, Hotel
from pipeline.adapters import transactions
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

HIT_NAMESPACE = uuid.UUID("6f1d3c2a-8b4e-4d7a-9c55-0e2f7b9a4c11")
WORKER_ID = "hotel-eye"


def hotel_camera(hotel_id: int) -> str:
    """The pseudo-camera id of a hotel's alerts (alerts are keyed by camera)."""
    return f"hotel-{hotel_id}"


@cache
def placeholder_jpeg() -> bytes:
    """Evidence for a check-in alert without any photo: a plain grey square."""
    ok, buf = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    assert ok
    return bytes(buf.tobytes())


class Submits(Protocol):
    def submit(self, checkin_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Subject:
    kind: SightingKind
    id: int
    name: str
    category: str
    match: str  # cnic or face
    score: float
    person: Person | None


class CheckinScreener:
    def __init__(
        self,
        engine: Engine,
        checkins: CheckinStore,
        persons: PersonStore,
        hotels: ApiKeyStore,
        alert_store: AlertStore,
        faces: GuestFaceMatcher,
        notifier: FollowNotifier,
        nc: NATS,
        names: Subjects,
        alert_categories: list[str],
    ) -> None:
        self._engine = engine
        self._checkins = checkins
        self._persons = persons
        self._hotels = hotels
        self._alerts = alert_store
        self._faces = faces
        self._notifier = notifier
        self._nc = nc
        self._names = names
        self._categories = frozenset(alert_categories)
        self._tasks: set[asyncio.Task[None]] = set()
        self.screened = 0
        self.queue: Submits | None = None

    def submit(self, checkin_id: int) -> None:
        """Screen it in the background, once it is committed (after the request's unit of work): through
        JetStream once ``queue`` is set (``screening_queue``), else in a task of this process."""
        queue = self.queue
        if queue is not None:
            transactions.after_commit(lambda: queue.submit(checkin_id))
        else:
            transactions.after_commit(lambda: self._start(checkin_id))

    def _start(self, checkin_id: int) -> None:
        task = asyncio.create_task(self._screen_logged(checkin_id), name=f"screen-checkin:{checkin_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        """Hand every check-in not yet screened to screening again (a replica stopped half-way, or
        what never reached the queue)."""
        after = 0
        while True:
            found = await asyncio.to_thread(self._checkins.unscreened, 1000, after)
            for checkin_id in found:
                self.submit(checkin_id)
            if len(found) < 1000:
                return
            after = found[-1]

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    async def _screen_logged(self, checkin_id: int) -> None:
        try:
            await self.screen(checkin_id)
        except Exception:
            log.exception("screening check-in %s failed; it is retried at the next start", checkin_id)

    async def screen_many(self, checkin_ids: list[int]) -> None:
        """Screen several check-ins: one CNIC lookup for all; those with nothing to look at further (no
        photo, no CNIC on the record in an alerting category) marked screened together (all that in one
        hop to a thread), the others one by one as ``screen`` does."""
        further, marked = await asyncio.to_thread(self._screen_plain, checkin_ids)
        self.screened += marked
        for checkin_id in further:
            await self.screen(checkin_id)

    def _screen_plain(self, checkin_ids: list[int]) -> tuple[list[int], int]:
        """Marks those of ``checkin_ids`` with nothing to look at further screened: the others' ids, and
        how many were marked."""
        found = PLAIN_SCREENING
        done = self._checkins.screen_plain(checkin_ids, self._categories, found)
        if done is not None:
            return done
        checkins = self._checkins.unscreened_of(checkin_ids)
        persons = self._persons.by_cnics({c.cnic for c in checkins})

        def plain(c: Checkin) -> bool:
            person = persons.get(c.cnic)
            return not c.has_photo and (person is None or person.category not in self._categories)

        nothing = [c.id for c in checkins if plain(c)]
        marked = 0
        if nothing:
            marked = self._checkins.mark_screened_many(nothing, found)
        return [c.id for c in checkins if not plain(c)], marked

    async def screen(self, checkin_id: int) -> dict[str, Any]:
        checkin = await asyncio.to_thread(self._checkins.get, checkin_id)
        if checkin is None or checkin.screened_at is not None:
            return {}
        hotel = await asyncio.to_thread(self._hotels.get_hotel, checkin.hotel_id)
        if hotel is None:
            raise LookupError(f"check-in {checkin_id} names hotel {checkin.hotel_id}, which is gone")
        photo = await asyncio.to_thread(self._checkins.photo, checkin_id) if checkin.has_photo else None
        found, face_note = await self._subjects(checkin, photo, hotel.district)
        alert_ids = []
        for subject in found:
            alert_id = await self._raise(checkin, hotel, subject, photo)
            if alert_id is not None:
                alert_ids.append(alert_id)
        screening = {
            "subjects": [
                {"kind": s.kind, "id": s.id, "match": s.match, "score": round(s.score, 4)} for s in found
            ],
            "face": face_note,
            "alerts": alert_ids,
        }
        await asyncio.to_thread(self._checkins.mark_screened, checkin_id, screening)
        self.screened += 1
        return screening

    async def _subjects(
        self, checkin: Checkin, photo: bytes | None, district: str
    ) -> tuple[list[Subject], str]:
        found: list[Subject] = []
        person = await asyncio.to_thread(self._persons.by_cnic, checkin.cnic)
        if person is not None and person.category in self._categories:
            found.append(Subject("checkin", person.id, person.name, person.category, "cnic", 1.0, person))
        if photo is None:
            return found, "no photo"
        try:
            matches = await self._faces.match(photo, district)  # the live lists watching the hotel
        except Exception as exc:  # an unusable photo or unavailable models must not lose the CNIC check
            log.warning("guest photo of check-in %s not matched: %s", checkin.id, exc)
            return found, f"not matched: {exc}"[:300]
        for match in matches:
            found.extend(await self._face_subjects(match, found))
        return found, f"{len(matches)} watchlist match(es)"

    async def _face_subjects(self, match: FaceMatch, already: list[Subject]) -> list[Subject]:
        """A face match is reported as the CRO person linked to the profile, else as the profile."""
        linked = await asyncio.to_thread(self._persons.by_watchlist_profile, match.profile_id)
        known = {s.id for s in already if s.kind == "checkin"}
        if linked:
            return [
                Subject("checkin", p.id, p.name, p.category, "face", match.similarity, p)
                for p in linked
                if p.id not in known
            ]
        return [Subject("face", match.profile_id, match.name, match.category, "face", match.similarity, None)]

    async def _raise(
        self, checkin: Checkin, hotel: Hotel, subject: Subject, photo: bytes | None
    ) -> int | None:
        evidence = photo
        if evidence is None and subject.person is not None:
            evidence = await asyncio.to_thread(self._persons.photo, subject.person.id)
        sighting = self._sighting(checkin, hotel, subject, evidence or placeholder_jpeg())
        outcome = await asyncio.to_thread(self._alerts.record_hit, sighting, datetime.now(UTC))
        if not outcome.duplicate and not outcome.quiet:  # a re-screened check-in was announced before
            await self._announce(outcome)
        if subject.person is not None:
            await self._notifier.notify(
                subject.person,
                "checkin",
                f"checkin:{checkin.id}:{checkin.received_at.isoformat()}",
                **self._about(checkin, hotel, outcome.alert.id),
            )
        return outcome.alert.id

    def _sighting(self, checkin: Checkin, hotel: Hotel, subject: Subject, evidence: bytes) -> Sighting:
        at = min(checkin.checked_in_at, datetime.now(UTC))
        details = {
            "source": "checkin",
            "match": subject.match,
            "checkin_id": checkin.id,
            "booking_ref": checkin.booking_ref,
            "guest_name": checkin.guest_name,
            "cnic": checkin.cnic,
            "room": checkin.room,
            "hotel": {
                "id": hotel.id,
                "name": hotel.name,
                "address": hotel.address,
                "district": hotel.district,
                "latitude": hotel.latitude,
                "longitude": hotel.longitude,
            },
            "person_id": subject.person.id if subject.person else None,
        }
        hit_id = uuid.uuid5(HIT_NAMESPACE, f"checkin:{checkin.id}:{subject.kind}:{subject.id}")
        return Sighting(
            hit_id=hit_id,
            kind=subject.kind,
            camera_id=hotel_camera(hotel.id),
            worker_id=WORKER_ID,
            subject_id=subject.id,
            subject_name=subject.name,
            category=subject.category,
            score=subject.score,
            detector_score=1.0,
            box={"x": 0.0, "y": 0.0, "w": 0.0, "h": 0.0},
            frame_sent_at=None,
            captured_at=at,
            timings={},
            crop_jpeg=evidence,
            scene_jpeg=evidence,
            details=details,
            district=hotel.district,
        )

    async def _announce(self, outcome: HitOutcome) -> None:
        try:
            await self._nc.publish(self._names.alert_events(), stored_event(outcome).to_bytes())
        except Exception as exc:
            log.warning("could not announce check-in alert %s: %s", outcome.alert.id, exc)

    @staticmethod
    def _about(checkin: Checkin, hotel: Hotel, alert_id: int) -> dict[str, object]:
        return {
            "at": checkin.checked_in_at,
            "summary": f"checked into {hotel.name}, room {checkin.room}",
            "place": f"{hotel.name}, {hotel.address}",
            "district": hotel.district,
            "latitude": hotel.latitude,
            "longitude": hotel.longitude,
            "alert_id": alert_id,
            "camera_id": hotel_camera(hotel.id),
        }
