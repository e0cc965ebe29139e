"""Hotel check-ins (CASP "Hotel Eye"): hotels post with their API key (``checkins:post``), staff read
the log with a stated reason (``checkins:read``).

A hotel posts only for its own hotel (the key's), and gets back only an acknowledgement: the same
answer, in the same time, whether or not the guest is on the records (screening runs after the
answer). A repeat of the same check-in returns the first acknowledgement. A hotel key reads nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from command_center.api.deps import SettingsDep, require
from command_center.records.api.person_views import (
    CheckinAck,
    CheckinPage,
    CheckinPost,
    CheckinView,
    CheckoutAck,
    CheckoutPost,
)
from command_center.records.api.persons import RecordsDep
from command_center.records.checkins import CheckinConflictError, NewCheckin
from command_center.records.types import PersonNotFoundError, RecordsError
from command_center.security import evidence
from command_center.security.api.auditing import AuditorDep, ReasonQuery
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.validators import normalise_cnic, normalise_mobile
from watchlist.photos import PhotoError, decode_photo, encode_jpeg

router = APIRouter(prefix="/checkins", tags=["checkins"])

MAX_ID = 2**31 - 1
MAX_PAGE = 500
FUTURE_SLACK = timedelta(minutes=10)  # clocks of hotel systems drift
MAX_AGE = timedelta(days=30)  # older check-ins are not news for an alert
CheckinId = Annotated[int, Path(ge=1, le=MAX_ID, description="Check-in id (from the acknowledgement)")]
Hotel = Annotated[Principal, require(Permission.CHECKINS_POST)]
Reader = Annotated[Principal, require(Permission.CHECKINS_READ)]


def _own_hotel(principal: Principal, claimed: int | None) -> int:
    if principal.kind != "integration" or principal.hotel_id is None:
        raise HTTPException(403, "check-ins are posted with a hotel's API key (X-API-Key)")
    if claimed is not None and claimed != principal.hotel_id:
        raise HTTPException(403, "this key posts check-ins for its own hotel only")
    return principal.hotel_id


def _photo(encoded: str | None, settings: SettingsDep) -> bytes | None:
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


@router.post("", status_code=201, response_model=CheckinAck)
async def post_checkin(
    body: CheckinPost,
    principal: Hotel,
    auditor: AuditorDep,
    records: RecordsDep,
    settings: SettingsDep,
    response: Response,
) -> CheckinAck:
    hotel_id = _own_hotel(principal, body.hotel_id)
    _when(body)
    try:
        phone = normalise_mobile(body.phone) if body.phone is not None else None
    except ValueError as exc:
        raise HTTPException(422, f"phone: {exc}") from None
    photo = await asyncio.to_thread(_photo, body.photo_jpeg, settings)
    checkin = NewCheckin(
        booking_ref=body.booking_ref,
        guest_name=body.guest_name,
        cnic=body.cnic,
        phone=phone,
        room=body.room,
        guests=body.guests,
        checked_in_at=body.checked_in_at.astimezone(UTC),
        expected_checkout_at=body.expected_checkout_at.astimezone(UTC) if body.expected_checkout_at else None,
        photo_jpeg=photo,
    )
    try:
        ack, created = await run_in_threadpool(records.checkins.record, hotel_id, checkin, principal.actor)
    except CheckinConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    except RecordsError as exc:
        raise HTTPException(409, str(exc)) from None
    details = {"hotel_id": hotel_id, "booking_ref": body.booking_ref, "repeat": not created}
    details |= evidence.stored("checkin_photo", (ack.id, photo if created else None))
    await auditor.record("checkins.post", f"checkin:{ack.id}", details=details)
    if created:
        records.screener.submit(ack.id)
    else:
        response.status_code = 200
    return CheckinAck(id=ack.id, received_at=ack.received_at)


@router.post("/{checkin_id}/checkout", response_model=CheckoutAck)
async def post_checkout(
    checkin_id: CheckinId,
    principal: Hotel,
    auditor: AuditorDep,
    records: RecordsDep,
    body: CheckoutPost | None = None,
) -> CheckoutAck:
    hotel_id = _own_hotel(principal, None)
    at = (body.checked_out_at if body and body.checked_out_at else datetime.now(UTC)).astimezone(UTC)
    if at > datetime.now(UTC) + FUTURE_SLACK:
        raise HTTPException(422, "checked_out_at is in the future: check the system's clock")
    try:
        ack = await run_in_threadpool(records.checkins.checkout, hotel_id, checkin_id, at)
    except PersonNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except RecordsError as exc:
        raise HTTPException(422, str(exc)) from None
    await auditor.record("checkins.checkout", f"checkin:{checkin_id}", details={"hotel_id": hotel_id})
    return CheckoutAck(id=ack.id, received_at=ack.received_at, checked_out_at=ack.checked_out_at)


@router.get("", response_model=CheckinPage)
async def list_checkins(
    _: Reader,
    auditor: AuditorDep,
    records: RecordsDep,
    reason: ReasonQuery,
    hotel_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    cnic: Annotated[str | None, Query(max_length=15, description="#####-#######-# or 13 digits")] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> CheckinPage:
    """The check-in log, newest first, with what screening found; the reason is audited."""
    try:
        wanted_cnic = normalise_cnic(cnic) if cnic is not None else None
    except ValueError as exc:
        raise HTTPException(422, f"cnic: {exc}") from None
    found, total = await run_in_threadpool(
        lambda: records.checkins.list(
            hotel_id=hotel_id, cnic=wanted_cnic, since=since, until=until, limit=limit, offset=offset
        )
    )
    filters = {"hotel_id": hotel_id, "cnic": wanted_cnic, "since": since, "until": until}
    details = {"filters": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in filters.items()}}
    await auditor.record(
        "checkins.search",
        "hotel_checkins",
        reason=reason,
        details=details | {"returned": [c.id for c in found]},
    )
    return CheckinPage(checkins=[CheckinView.of(c) for c in found], total=total)


@router.get("/{checkin_id}/photo", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def checkin_photo(
    checkin_id: CheckinId, _: Reader, auditor: AuditorDep, records: RecordsDep, reason: ReasonQuery
) -> Response:
    data = await run_in_threadpool(records.checkins.photo, checkin_id)
    if data is None:
        raise HTTPException(404, f"no photo for check-in {checkin_id}")
    await auditor.record("checkins.photo_view", f"checkin:{checkin_id}", reason=reason)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})
