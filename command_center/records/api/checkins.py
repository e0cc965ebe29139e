"""Hotel check-ins (CASP "Hotel Eye"): hotels post with their API key (``checkins:post``), staff read
the log with a stated reason (``checkins:read``).

A hotel posts only for its own hotel (the key's), and gets back only an acknowledgement: the same
answer, in the same time, whether or not the guest is on the records (screening runs after the
answer, from JetStream). Each check-in and its audit entry commit together, in a group commit with
other requests' (``checkin_ingest``). Hotel systems post many guests at once to ``/checkins/batch``
(``checkin_batch``). A repeat of the same check-in returns the first acknowledgement. A hotel key
reads nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from command_center.api.deps import AuditDep, SettingsDep, require
from command_center.records.api import checkin_ingest as ingest
from command_center.records.api.person_views import (
    CheckinAck,
    CheckinPage,
    CheckinPost,
    CheckinView,
    CheckoutAck,
    CheckoutPost,
)
from command_center.records.api.persons import RecordsDep
from command_center.records.types import PersonNotFoundError, RecordsError
from command_center.security.api.auditing import AuditorDep, ReasonQuery, client_ip
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.validators import normalise_cnic

router = APIRouter(prefix="/checkins", tags=["checkins"])

MAX_ID = 2**31 - 1
MAX_PAGE = 500
CheckinId = Annotated[int, Path(ge=1, le=MAX_ID, description="Check-in id (from the acknowledgement)")]
Hotel = Annotated[Principal, require(Permission.CHECKINS_POST)]
Reader = Annotated[Principal, require(Permission.CHECKINS_READ)]


@router.post("", status_code=201, response_model=CheckinAck)
async def post_checkin(
    body: CheckinPost,
    principal: Hotel,
    trail: AuditDep,
    records: RecordsDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> CheckinAck:
    """One check-in: 201 when stored, 200 with the first acknowledgement for a repeat; answered once it
    and its audit entry are committed (one group commit with other requests'). Hotel systems' posts
    with a key are served by ``checkin_fast`` before this route, with the same checks and answers."""
    status, ack = await ingest.post_one(body, principal, trail, records, settings, client_ip(request))
    response.status_code = status
    return ack


@router.post("/{checkin_id}/checkout", response_model=CheckoutAck)
async def post_checkout(
    checkin_id: CheckinId,
    principal: Hotel,
    auditor: AuditorDep,
    records: RecordsDep,
    body: CheckoutPost | None = None,
) -> CheckoutAck:
    hotel_id = ingest.own_hotel(principal, None)
    at = (body.checked_out_at if body and body.checked_out_at else datetime.now(UTC)).astimezone(UTC)
    if at > datetime.now(UTC) + ingest.FUTURE_SLACK:
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
