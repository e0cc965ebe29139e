"""Missing persons and unidentified bodies at work: register, describe, add photos, match, tell.

* Registering a case tells every officer (a broadcast bulletin, with the first photo) and matches it
  against the open cases of the other side at once; so does every change of its description or photos
  (``recompute``), on whichever side it happens. New strong candidates (``missing_notify_score``) are
  sent to the staff who registered both cases.
* A missing person's photos go onto the camera watchlist in the category ``missing`` (one profile per
  case, replaced when photos are added, removed when the case is closed): cameras raise alerts that ask
  for a welfare check, not an arrest (``WELFARE_CHECK``), and the case's staff are told of each one.
  The one watchlist addition without a second approval, audited (``missing_watchlist.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from command_center.alerts.instructions import WELFARE_CHECK
from command_center.records.bulletins import Bulletins
from command_center.records.casework_photos import CleanPhoto, faceprint, faceprint_bytes, thumbnail
from command_center.records.faces import GuestFaceMatcher
from command_center.records.matching import compare
from command_center.records.missing import (
    AnyCase,
    CasePhoto,
    Kind,
    MissingPerson,
    MissingStore,
    UnidentifiedBody,
)
from command_center.records.missing_watchlist import MissingWatchlist
from command_center.records.types import RecordsError
from command_center.security.audit import AuditTrail
from pipeline.contracts import AlertEvent, BulletinLink, OfficerBulletin
from pipeline.settings import Settings
from watchlist.store import WatchlistStore

log = logging.getLogger(__name__)


def link_of(case: AnyCase, how: str = "record", score: float = 1.0, detail: str = "") -> BulletinLink:
    url = f"/missing/{case.id}" if case.kind == "missing" else f"/udr/{case.id}"
    return BulletinLink(
        kind=case.kind, id=case.id, name=case.label[:200], how=how, score=score, detail=detail, url=url
    )


def describe(case: AnyCase) -> str:
    d = case.description
    parts = [d.sex]
    if d.age_min is not None and d.age_max is not None:
        parts.append(f"age {d.age_min}-{d.age_max}")
    if d.height_cm is not None:
        parts.append(f"{d.height_cm} cm")
    parts += [v.replace("_", " ") for v in (d.build, d.complexion) if v]
    parts += [f"marks: {d.marks}"] if d.marks else []
    parts += [f"wearing {d.clothing}"] if d.clothing else []
    return ", ".join(parts)


def _event(case: AnyCase) -> str:
    """Names a case for deduplication (ids alone repeat across databases sharing one NATS)."""
    return f"{case.kind}:{case.id}:{case.registered.created_at.isoformat()}"


class MissingCasework:
    def __init__(
        self,
        store: MissingStore,
        faces: GuestFaceMatcher,
        watchlist: WatchlistStore,
        bulletins: Bulletins,
        nc: NATS,
        settings: Settings,
        audit: AuditTrail,
    ) -> None:
        self.store = store
        self.camera = MissingWatchlist(faces, watchlist, nc, settings, audit)
        self._faces = faces
        self._bulletins = bulletins
        self._nc = nc
        self._names = settings.nats.subjects
        self._settings = settings
        self._records = settings.records
        self._subscription: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one recompute or enrolment at a time on this replica

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(self._names.alert_events(), cb=self._on_alert_event)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    # -- cases ---------------------------------------------------------------------------------------

    async def register(
        self,
        kind: Kind,
        values: dict[str, Any],
        photos: list[CleanPhoto],
        actor: str,
        actor_id: int,
        key: str | None = None,
    ) -> tuple[AnyCase, list[CasePhoto], bool]:
        """The case, the photos added and whether it is new. With an idempotency ``key`` already stored
        (the phone sent it again) the first case comes back, its missing photos added, nobody told again."""
        case, created = await asyncio.to_thread(self.store.add, kind, values, actor, actor_id, key)
        if not created:
            return case, await self._complete(case, photos, actor), False
        added = [await self._store_photo(case, photo, actor) for photo in photos]
        if kind == "missing" and any(p.has_face for p in added):
            await self._enrol(case.id, actor)
        first = await asyncio.to_thread(self.store.photo, kind, case.id) if added else None
        await self._broadcast(case, first)
        await self.recompute(kind, case.id)
        return case, added, True

    async def _complete(self, case: AnyCase, photos: list[CleanPhoto], actor: str) -> list[CasePhoto]:
        """A case sent again: the photos its first sending did not store (it was cut short) added now."""
        added = []
        for photo in photos:
            try:
                added.append(await self._store_photo(case, photo, actor))
            except RecordsError:  # already on the case (or the case is full): the first sending had it
                continue
        if case.kind == "missing" and any(p.has_face for p in added):
            await self._enrol(case.id, actor)
        return added

    async def update(
        self, kind: Kind, case_id: int, changes: dict[str, Any], actor: str
    ) -> tuple[AnyCase, AnyCase]:
        before, after = await asyncio.to_thread(self.store.update, kind, case_id, changes, actor)
        if isinstance(after, UnidentifiedBody) and after.identified_missing_id and not after.is_open:
            found = await asyncio.to_thread(self.store.get, "missing", after.identified_missing_id)
            if isinstance(found, MissingPerson) and found.is_open:
                await self.update("missing", found.id, {"status": "found"}, actor)
        if isinstance(after, MissingPerson) and not after.is_open and after.watchlist_profile_id:
            await self._unenrol(
                after.watchlist_profile_id, actor, f"missing person case {case_id} {after.registered.status}"
            )
            await asyncio.to_thread(
                self.store.set_watchlist,
                case_id,
                None,
                f"taken off the watchlist: case {after.registered.status}",
            )
        await self.recompute(kind, case_id)
        return before, after

    async def add_photo(self, kind: Kind, case_id: int, photo: CleanPhoto, actor: str) -> CasePhoto:
        case = await asyncio.to_thread(self.store.require, kind, case_id)
        added = await self._store_photo(case, photo, actor)
        if kind == "missing" and added.has_face:
            await self._enrol(case_id, actor)
        await self.recompute(kind, case_id)
        return added

    async def _store_photo(self, case: AnyCase, photo: CleanPhoto, actor: str) -> CasePhoto:
        try:
            vector = await self._faces.embed(photo.jpeg, "photo")
        except Exception as exc:  # no models: the photo is kept, matched by features only
            log.warning("no faceprint for a photo of %s %s: %s", case.kind, case.id, exc)
            vector = None
        return await asyncio.to_thread(
            self.store.add_photo, case.kind, case.id, photo, faceprint_bytes(vector), actor
        )

    # -- matching ------------------------------------------------------------------------------------

    async def recompute(self, kind: Kind, case_id: int) -> list[int]:
        """Rank the open cases of the other side against this one; returns the new strong candidates."""
        async with self._lock:
            case = await asyncio.to_thread(self.store.require, kind, case_id)
            scored = await asyncio.to_thread(self._score, case) if case.is_open else []
            before = await asyncio.to_thread(self.store.replace_candidates, case, scored)
        notify = self._records.missing_notify_score
        fresh = [other for other, pair in scored if pair.score >= notify and before.get(other, 0.0) < notify]
        if fresh:
            await self._tell_match(case, fresh, dict(scored))
        return fresh

    def _score(self, case: AnyCase) -> list[tuple[int, Any]]:
        others = self.store.counterparts(case)
        if not others:
            return []
        other_kind = "udr" if case.kind == "missing" else "missing"
        mine = [
            v for _, data in self.store.faceprints(case.kind, [case.id]) if (v := faceprint(data)) is not None
        ]
        theirs: dict[int, list[Any]] = {}
        for owner, data in self.store.faceprints(other_kind, [o.id for o in others]):
            vector = faceprint(data)
            if vector is not None:
                theirs.setdefault(owner, []).append(vector)
        scored = []
        for other in others:
            face = None
            if mine and other.id in theirs:
                face = max(float(a @ b) for a in mine for b in theirs[other.id])
            missing, body = (case, other) if case.kind == "missing" else (other, case)
            pair = compare(missing.features(), body.features(), face)
            if pair is not None and pair.score >= self._records.missing_min_score:
                scored.append((other.id, pair))
        scored.sort(key=lambda item: (-item[1].score, item[0]))
        return scored[: self._records.missing_candidates_kept]

    async def _tell_match(self, case: AnyCase, fresh: list[int], scores: dict[int, Any]) -> None:
        other_kind = "udr" if case.kind == "missing" else "missing"
        others = await asyncio.to_thread(self.store.cases_by_ids, other_kind, fresh)
        for other in others.values():
            pair = scores[other.id]
            missing, body = (case, other) if case.kind == "missing" else (other, case)
            how = (
                "face"
                if pair.face_score is not None and pair.face_score >= self._faces.threshold
                else "features"
            )
            bulletin = OfficerBulletin(
                kind="missing_match",
                title=f"Missing person {missing.label} may be {body.label}"[:200],
                summary=f"{missing.label} ({describe(missing)}) and {body.label} ({describe(body)}) "
                f"score {pair.score:.2f}; see the candidates of both cases"[:1000],
                at=body.found_at if isinstance(body, UnidentifiedBody) else datetime.now(UTC),
                subject=link_of(missing),
                matches=[link_of(body, how, pair.score)],
                district=body.district or "",
                police_station=body.police_station,
                place=(body.found_place or "") if isinstance(body, UnidentifiedBody) else "",
                latitude=body.description.latitude,
                longitude=body.description.longitude,
            )
            officers = {missing.registered_by_id, body.registered_by_id}
            await self._bulletins.tell_all(officers, bulletin, f"match:{_event(missing)}:{_event(body)}")

    # -- the camera watchlist ------------------------------------------------------------------------

    async def _enrol(self, missing_id: int, actor: str) -> None:
        """(Re)enrol the case's face photos as one profile in the category ``missing``."""
        async with self._lock:
            case = await asyncio.to_thread(self.store.require, "missing", missing_id)
            assert isinstance(case, MissingPerson)
            photos = await asyncio.to_thread(self.store.face_photos, "missing", missing_id)
            profile_id, note = await self.camera.enrol(case, photos, actor)
            kept = profile_id if profile_id is not None else case.watchlist_profile_id
            await asyncio.to_thread(self.store.set_watchlist, missing_id, kept, note)
        if profile_id is not None and case.watchlist_profile_id is not None:
            await self._unenrol(case.watchlist_profile_id, actor, f"replaced by profile {profile_id}")

    async def _unenrol(self, profile_id: int, actor: str, reason: str) -> None:
        await self.camera.remove(profile_id, actor, reason)

    # -- telling -------------------------------------------------------------------------------------

    async def _broadcast(self, case: AnyCase, photo: bytes | None) -> None:
        small = thumbnail(photo, self._records.bulletin_photo_max_side) if photo else None
        if isinstance(case, MissingPerson):
            title = f"Missing: {case.name}, {describe(case)}"
            place, at, instruction = case.last_seen_place or "", case.last_seen_at, WELFARE_CHECK
            summary = (
                f"{case.name} missing since {case.last_seen_at:%Y-%m-%d}; last seen at {place or 'unknown'}"
            )
        else:
            title = f"Unidentified body {case.udr_number}: {describe(case)}"
            place, at, instruction = case.found_place or "", case.found_at, None
            summary = f"Body found {case.found_at:%Y-%m-%d} at {place or 'unknown'}; {describe(case)}"
        bulletin = OfficerBulletin(
            kind=case.kind,
            title=title[:200],
            summary=summary[:1000],
            at=at,
            subject=link_of(case),
            district=case.district or "",
            police_station=case.police_station,
            place=place[:500],
            latitude=case.description.latitude,
            longitude=case.description.longitude,
            instruction=instruction,
            photo_jpeg=small,
        )
        try:
            await self._bulletins.broadcast(bulletin, _event(case))
        except Exception:
            log.exception("%s case %s stored but not broadcast", case.kind, case.id)

    async def _on_alert_event(self, msg: Msg) -> None:
        try:
            event = AlertEvent.from_bytes(msg.data)
        except (ValidationError, ValueError):
            return
        alert = event.alert
        if event.kind != "created" or alert.kind != "face" or alert.category != "missing":
            return
        task = asyncio.create_task(self._seen(event, alert.profile_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _seen(self, event: AlertEvent, profile_id: int) -> None:
        """A camera saw a missing person: tell the staff who registered the case."""
        try:
            for case in await asyncio.to_thread(self.store.by_watchlist_profile, profile_id):
                if not case.is_open:
                    continue
                bulletin = OfficerBulletin(
                    kind="missing_seen",
                    title=f"Missing person {case.name} seen on camera {event.camera_id}"[:200],
                    summary=f"Alert {event.alert_id}: {WELFARE_CHECK}"[:1000],
                    at=datetime.now(UTC),
                    subject=link_of(case),
                    district=event.alert.district,
                    place=event.camera_id,
                    instruction=WELFARE_CHECK,
                )
                await self._bulletins.tell_all(
                    {case.registered_by_id},
                    bulletin,
                    f"seen:{event.alert_id}:{event.alert.created_at.isoformat()}",
                )
        except Exception:
            log.exception("could not tell the staff of missing-person alert %s", event.alert_id)
