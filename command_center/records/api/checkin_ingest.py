"""Storing hotel check-ins with their audit entries in the audit chain's group commit.

A posted check-in is checked (``prepare``: times, phone, photo), then stored together with its
``checkins.post`` audit entry by the process's group appender (``command_center.security.audit_group``):
the check-in is stored if and only if its entry is, and the hotel is answered only after that commit.
Screening is handed to JetStream after the commit (``CheckinScreener.submit``); it never decides the
answer, which is the same whether or not the guest is on the records.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException
from sqlalchemy.exc import SQLAlchemyError

from command_center.records.api.person_views import CheckinAck, CheckinPost
from command_center.records.checkins import Ack, NewCheckin, Post
from command_center.records.services import RecordsServices
from command_center.records.types import RecordsError
from command_center.security import evidence
from command_center.security.api.auditing import audit_failed
from command_center.security.audit import AuditTrail, _Fields, entry_fields
from command_center.security.audit_group import BulkWork
from command_center.security.principal import Principal
from pipeline.settings import Settings
from pipeline.validators import normalise_mobile
from watchlist.photos import PhotoError, decode_photo, encode_jpeg

FUTURE_SLACK = timedelta(minutes=10)  # clocks of hotel systems drift
MAX_AGE = timedelta(days=30)  # older check-ins are not news for an alert


def own_hotel(principal: Principal, claimed: int | None) -> int:
    if principal.kind != "integration" or principal.hotel_id is None:
        raise HTTPException(403, "check-ins are posted with a hotel's API key (X-API-Key)")
    if claimed is not None and claimed != principal.hotel_id:
        raise HTTPException(403, "this key posts check-ins for its own hotel only")
    return principal.hotel_id


def _photo(encoded: str | None, settings: Settings) -> bytes | None:
    if encoded is None:
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, "photo_jpeg: not valid base64") from None
    limits = settings.records
    if not data.startswith(b"\xff\xd8"):
        raise HTTPException(422, "photo_jpeg: not a JPEG")
    try:
        image = decode_photo("photo_jpeg", data, limits.checkin_photo_max_bytes, limits.max_photo_pixels)
    except PhotoError as exc:
        raise HTTPException(422, str(exc)) from None
    # Kept re-encoded: the hotel's camera metadata (EXIF: device, time, GPS) is not the guest's record.
    return encode_jpeg(image)


def _when(body: CheckinPost) -> None:
    now = datetime.now(UTC)
    if body.checked_in_at > now + FUTURE_SLACK:
        raise HTTPException(422, "checked_in_at is in the future: check the system's clock")
    if body.checked_in_at < now - MAX_AGE:
        raise HTTPException(422, f"checked_in_at is more than {MAX_AGE.days} days ago")
    if body.expected_checkout_at is not None and body.expected_checkout_at < body.checked_in_at:
        raise HTTPException(422, "expected_checkout_at is before checked_in_at")


def prepare(body: CheckinPost, settings: Settings) -> NewCheckin:
    """The check-in as stored, or 422 with the reason (blocking: a photo is decoded)."""
    _when(body)
    try:
        phone = normalise_mobile(body.phone) if body.phone is not None else None
    except ValueError as exc:
        raise HTTPException(422, f"phone: {exc}") from None
    return NewCheckin(
        booking_ref=body.booking_ref,
        guest_name=body.guest_name,
        cnic=body.cnic,
        phone=phone,
        room=body.room,
        guests=body.guests,
        checked_in_at=body.checked_in_at.astimezone(UTC),
        expected_checkout_at=body.expected_checkout_at.astimezone(UTC) if body.expected_checkout_at else None,
        photo_jpeg=_photo(body.photo_jpeg, settings),
    )


@dataclass(frozen=True, slots=True)
class Stored:
    """One check-in's outcome: its acknowledgement (created or a repeat), or why it was refused."""

    ack: Ack | None
    created: bool
    error: RecordsError | None = None


@dataclass(frozen=True, slots=True)
class Poster:
    """Who posts (the hotel's key) and from where, for the audit entries."""

    principal: Principal
    hotel_id: int
    ip: str | None

    def entry(self, action: str, target: str, details: dict[str, object]) -> _Fields:
        role = self.principal.role.value
        return entry_fields(self.principal.actor, action, target, details=details, ip=self.ip, role=role)


def _store_all(
    records: RecordsServices, poster: Poster, items: list[NewCheckin], batch: bool
) -> tuple[list[Stored], list[_Fields]]:
    """Runs in the group commit: each check-in stored (or found again) and its audit entry made."""
    post = Post(poster.hotel_id, poster.principal.actor, items)
    return _outcomes(poster, items, records.checkins.record_posts([post])[0], batch)


def _outcomes(
    poster: Poster, items: list[NewCheckin], outcomes: list[tuple[Ack, bool] | RecordsError], batch: bool
) -> tuple[list[Stored], list[_Fields]]:
    results: list[Stored] = []
    entries: list[_Fields] = []
    for item, outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, RecordsError):
            results.append(Stored(None, False, outcome))
            continue
        ack, created = outcome
        details: dict[str, object] = {
            "hotel_id": poster.hotel_id,
            "booking_ref": item.booking_ref,
            "repeat": not created,
        }
        if batch:
            details["batch"] = True
        details |= evidence.stored("checkin_photo", (ack.id, item.photo_jpeg if created else None))
        entries.append(poster.entry("checkins.post", f"checkin:{ack.id}", details))
        results.append(Stored(ack, created))
    return results, entries


@dataclass(frozen=True, slots=True)
class CheckinWork(BulkWork[list[Stored]]):
    """One request's check-ins for the group commit: alone (``__call__``) or together with the other
    requests' of the group (``run_all``: one insert for all their check-ins)."""

    records: RecordsServices
    poster: Poster
    items: list[NewCheckin]
    batch: bool
    summary: dict[str, object] | None

    def __call__(self) -> tuple[list[Stored], list[_Fields]]:
        return self.run_all([self])[0]

    @classmethod
    def run_all(cls, works: list[CheckinWork]) -> list[tuple[list[Stored], list[_Fields]]]:
        posts = [Post(w.poster.hotel_id, w.poster.principal.actor, w.items) for w in works]
        done = []
        for work, outcomes in zip(works, works[0].records.checkins.record_posts(posts), strict=True):
            results, entries = _outcomes(work.poster, work.items, outcomes, work.batch)
            if work.summary is not None:
                entries.append(
                    work.poster.entry("checkins.batch", f"hotel:{work.poster.hotel_id}", work.summary)
                )
            done.append((results, entries))
        return done


async def store(
    trail: AuditTrail,
    records: RecordsServices,
    poster: Poster,
    items: list[NewCheckin],
    *,
    batch: bool = False,
    summary: dict[str, object] | None = None,
) -> list[Stored]:
    """Store ``items`` with their audit entries in the next group commit (and ``summary`` as one more
    ``checkins.batch`` entry); once committed, hand the new ones not screened as stored to screening."""
    results = await trail.group.run(CheckinWork(records, poster, items, batch, summary))
    for result in results:
        if result.created and result.ack is not None and not result.ack.screened:
            records.screener.submit(result.ack.id)
    return results


async def post_one(
    body: CheckinPost,
    principal: Principal,
    trail: AuditTrail,
    records: RecordsServices,
    settings: Settings,
    ip: str | None,
) -> tuple[int, CheckinAck]:
    """One posted check-in stored: (201 stored or 200 a repeat, the acknowledgement), or HTTPException
    (403 another hotel's, 422 invalid, 409 a booking reference used with other details, 503 the audit
    trail could not be written)."""
    poster = Poster(principal, own_hotel(principal, body.hotel_id), ip)
    if body.photo_jpeg is not None:  # decoding a photo blocks for milliseconds
        checkin = await asyncio.to_thread(prepare, body, settings)
    else:
        checkin = prepare(body, settings)
    try:
        (result,) = await store(trail, records, poster, [checkin])
    except SQLAlchemyError:
        raise audit_failed() from None
    if result.error is not None or result.ack is None:
        raise HTTPException(409, str(result.error)) from None
    return (201 if result.created else 200), CheckinAck(id=result.ack.id, received_at=result.ack.received_at)
