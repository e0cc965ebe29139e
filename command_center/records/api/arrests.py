"""Arrests: an officer records one (``arrests:record``); every officer is told at once, with the photo
and the crime; the system then looks for the person in other cases (CNIC, name, face) and tells those
cases' officers (``records.arrest_screening``). Staff read arrests with a stated reason (``arrests:read``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from command_center.api.deps import ServicesDep, SettingsDep, require
from command_center.records.api.arrest_views import ArrestCreate, ArrestPage, ArrestView
from command_center.records.api.casework_common import (
    MAX_ID,
    NO_STORE,
    SENT_AGAIN,
    IdempotencyKey,
    both_or_neither,
    call,
    iso,
    key_of,
    not_in_future,
    photo_from_base64,
    staff_only,
)
from command_center.records.api.persons import RecordsDep
from command_center.records.arrests import ArrestFilters, NewArrest
from command_center.records.casework import CaseworkServices
from command_center.records.casework_photos import faceprint_bytes
from command_center.security import evidence
from command_center.security.api.auditing import AuditorDep, ReasonQuery
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.validators import MAX_NAME_LENGTH, normalise_cnic

router = APIRouter(prefix="/arrests", tags=["arrests"])

MAX_PAGE = 200
MAX_AGE = timedelta(days=365)  # older arrests are records work, not news for officers
ArrestId = Annotated[int, Path(ge=1, le=MAX_ID, description="Arrest id")]
Reader = Annotated[Principal, require(Permission.ARRESTS_READ)]
Officer = Annotated[Principal, require(Permission.ARRESTS_RECORD)]


def get_casework(services: ServicesDep) -> CaseworkServices:
    return services.casework


CaseworkDep = Annotated[CaseworkServices, Depends(get_casework)]


@router.post(
    "",
    status_code=201,
    response_model=ArrestView,
    responses={200: {"model": ArrestView, "description": SENT_AGAIN}},
)
async def record_arrest(
    body: ArrestCreate,
    principal: Officer,
    auditor: AuditorDep,
    casework: CaseworkDep,
    records: RecordsDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ArrestView:
    """Record an arrest. Every officer is told (a broadcast with the photo); the check against other
    cases runs after the answer (``status: screening``, then ``screened`` with what it found). With an
    ``Idempotency-Key`` the arrest is stored once: sent again, the first arrest comes back (200)."""
    officer_id = staff_only(principal)
    arrested_at = not_in_future(body.arrested_at, "arrested_at")
    if arrested_at < datetime.now(UTC) - MAX_AGE:
        raise HTTPException(422, f"arrested_at is more than {MAX_AGE.days} days ago")
    both_or_neither(body.latitude, body.longitude)
    if body.person_id is not None and await run_in_threadpool(records.persons.get, body.person_id) is None:
        raise HTTPException(422, f"person_id: no CRO record {body.person_id}")
    photo = await photo_from_base64(body.photo_jpeg, "photo_jpeg", settings) if body.photo_jpeg else None
    vector = None
    if photo is not None:
        try:
            vector = await records.faces.embed(photo.jpeg, "photo_jpeg")
        except Exception:  # no face models here: the arrest stands, matched by CNIC and name
            vector = None
    new = NewArrest(
        person_name=body.person_name,
        father_name=body.father_name,
        cnic=body.cnic,
        gender=body.gender,
        age=body.age,
        cro_person_id=body.person_id,
        fir_number=body.fir_number,
        police_station=body.police_station,
        sections=tuple(dict.fromkeys(body.sections)),
        arrested_at=arrested_at,
        district=body.district,
        place=body.place,
        latitude=body.latitude,
        longitude=body.longitude,
        notes=body.notes,
        photo=photo,
        idempotency_key=key_of(idempotency_key),
    )
    arrest, created = await call(
        casework.arrests.add, new, officer_id, principal.actor, faceprint_bytes(vector)
    )
    if not created:  # told and screened when it was first stored
        response.status_code = 200
        return ArrestView.of(arrest)
    details = {"fir_number": arrest.fir_number, "police_station": arrest.police_station, "cnic": arrest.cnic}
    details |= evidence.stored("arrest_photo", (arrest.id, photo.jpeg if photo else None))
    await auditor.record("arrests.record", f"arrest:{arrest.id}", details=details)
    casework.screener.submit(arrest.id)
    return ArrestView.of(arrest)


@router.get("", response_model=ArrestPage)
async def search_arrests(
    _: Reader,
    auditor: AuditorDep,
    casework: CaseworkDep,
    reason: ReasonQuery,
    q: Annotated[str | None, Query(max_length=MAX_NAME_LENGTH, description="Name, any spelling")] = None,
    cnic: Annotated[str | None, Query(max_length=15)] = None,
    fir: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    police_station: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    person_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    officer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> ArrestPage:
    """Arrests, newest first (with ``q``: the closest names first); the reason is audited."""
    try:
        wanted_cnic = normalise_cnic(cnic) if cnic is not None else None
    except ValueError as exc:
        raise HTTPException(422, f"cnic: {exc}") from None
    filters = ArrestFilters(
        q=q.strip() or None if q else None,
        cnic=wanted_cnic,
        fir_number=" ".join(fir.split()) if fir else None,
        police_station=" ".join(police_station.split()) if police_station else None,
        person_id=person_id,
        officer_id=officer_id,
        since=since,
        until=until,
    )
    found, total = await run_in_threadpool(casework.arrests.search, filters, limit, offset)
    audit = iso(_fields(filters))
    await auditor.record(
        "arrests.search",
        "arrests",
        reason=reason,
        details={"filters": audit, "returned": [a.id for a, _ in found]},
    )
    views = [ArrestView.of(a, score if filters.q else None) for a, score in found]
    return ArrestPage(arrests=views, total=total, limit=limit, offset=offset)


def _fields(filters: ArrestFilters) -> dict[str, object]:
    return {name: getattr(filters, name) for name in ArrestFilters.__dataclass_fields__}


@router.get("/{arrest_id}", response_model=ArrestView)
async def get_arrest(
    arrest_id: ArrestId, _: Reader, auditor: AuditorDep, casework: CaseworkDep, reason: ReasonQuery
) -> ArrestView:
    arrest = await run_in_threadpool(casework.arrests.get, arrest_id)
    if arrest is None:
        raise HTTPException(404, f"no arrest with id {arrest_id}")
    await auditor.record("arrests.view", f"arrest:{arrest_id}", reason=reason)
    return ArrestView.of(arrest)


@router.get("/{arrest_id}/photo", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def arrest_photo(
    arrest_id: ArrestId, _: Reader, auditor: AuditorDep, casework: CaseworkDep
) -> Response:
    data = await run_in_threadpool(casework.arrests.photo, arrest_id)
    if data is None:
        raise HTTPException(404, f"no photo of arrest {arrest_id}")
    await auditor.record("arrests.photo_view", f"arrest:{arrest_id}")
    return Response(data, media_type="image/jpeg", headers=NO_STORE)
