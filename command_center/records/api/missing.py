"""Missing persons (``/missing``) and unidentified dead bodies (``/udr``): records staff and field officers
register them (``missing:register``), records staff update them (``missing:write``), staff read them with
a stated reason (``missing:read``).

Registering tells every officer (a broadcast bulletin with the photo); every change of a case, on either
side, ranks the open cases of the other side again (``GET /missing/{id}/candidates``,
``GET /udr/{id}/candidates``). A missing person's photos go onto the camera watchlist in the category
``missing``, whose alerts ask for a welfare check, not an arrest.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from command_center.api.deps import SettingsDep, require
from command_center.records.api.arrests import CaseworkDep
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
    photo_from_upload,
    plain,
    refusing,
    staff_only,
)
from command_center.records.api.missing_views import (
    CandidatePage,
    CandidateView,
    MissingCreate,
    MissingPage,
    MissingStatus,
    MissingUpdate,
    MissingView,
    PhotoView,
    Sex,
    UdrCreate,
    UdrPage,
    UdrStatus,
    UdrUpdate,
    UdrView,
)
from command_center.records.api.persons import _unprocessable
from command_center.records.casework import CaseworkServices
from command_center.records.casework_photos import CleanPhoto
from command_center.records.missing import AnyCase, CaseFilters, Kind, MissingPerson, UnidentifiedBody
from command_center.records.missing_types import CasePhoto
from command_center.security import evidence
from command_center.security.api.auditing import Auditor, AuditorDep, ReasonQuery
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.settings import Settings
from pipeline.validators import MAX_NAME_LENGTH

router = APIRouter(prefix="/missing", tags=["missing persons"])
udr_router = APIRouter(prefix="/udr", tags=["unidentified dead bodies"])

MAX_PAGE = 200
MAX_CANDIDATES = 100
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
PhotoId = Annotated[int, Path(ge=1, le=MAX_ID)]
Reader = Annotated[Principal, require(Permission.MISSING_READ)]
Writer = Annotated[Principal, require(Permission.MISSING_WRITE)]
Registrar = Annotated[Principal, require(Permission.MISSING_REGISTER)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
District = Annotated[str | None, Query(min_length=1, max_length=64)]
Since = Annotated[AwareDatetime | None, Query()]
PhotoUpload = Annotated[UploadFile, File(description="A JPEG or PNG photo; stored as JPEG")]


def target(kind: str, case_id: int) -> str:
    return f"{kind}:{case_id}"


async def _photos(encoded: list[str], settings: Settings) -> list[CleanPhoto]:
    return [await photo_from_base64(data, f"photos_jpeg[{i}]", settings) for i, data in enumerate(encoded)]


def _values(body: MissingCreate | UdrCreate) -> dict[str, Any]:
    values = body.model_dump(exclude={"photos_jpeg"})
    both_or_neither(body.latitude, body.longitude)
    return values


def _checked(changes: dict[str, Any]) -> dict[str, Any]:
    for when in ("last_seen_at", "found_at"):
        if changes.get(when) is not None:
            changes[when] = not_in_future(changes[when], when)
    return changes


async def _missing_view(casework: CaseworkServices, case_id: int) -> MissingView:
    store = casework.missing.store
    case = await call(store.require, "missing", case_id)
    assert isinstance(case, MissingPerson)
    return MissingView.of(case, await run_in_threadpool(store.photos, "missing", case_id))


async def _udr_view(casework: CaseworkServices, case_id: int) -> UdrView:
    store = casework.missing.store
    case = await call(store.require, "udr", case_id)
    assert isinstance(case, UnidentifiedBody)
    return UdrView.of(case, await run_in_threadpool(store.photos, "udr", case_id))


_SEARCHED = {"missing": ("missing.search", "missing_persons"), "udr": ("udr.search", "udr_cases")}


async def _search(
    kind: Kind,
    filters: CaseFilters,
    limit: int,
    offset: int,
    casework: CaseworkServices,
    auditor: Auditor,
    reason: str,
) -> tuple[list[AnyCase], int]:
    """One kind of case by the filters (``q`` blank means none), audited with what was returned."""
    filters = dataclasses.replace(filters, q=(filters.q or "").strip() or None)
    found, total = await run_in_threadpool(casework.missing.store.search, kind, filters, limit, offset)
    action, what = _SEARCHED[kind]
    audit = iso({k: getattr(filters, k) for k in CaseFilters.__dataclass_fields__})
    await auditor.record(
        action, what, reason=reason, details={"filters": audit, "returned": [c.id for c, _ in found]}
    )
    return [case for case, _ in found], total


async def _update(
    kind: Kind,
    case_id: int,
    body: MissingUpdate | UdrUpdate,
    principal: Principal,
    auditor: Any,
    casework: CaseworkServices,
) -> None:
    try:
        changes = _checked(body.changes())
    except ValueError as exc:
        raise _unprocessable(exc) from None
    if "latitude" in changes or "longitude" in changes:
        current = await call(casework.missing.store.require, kind, case_id)
        latitude = changes.get("latitude", current.description.latitude)
        longitude = changes.get("longitude", current.description.longitude)
        both_or_neither(latitude, longitude)
    missing_id = changes.get("identified_missing_id")
    if missing_id is not None:
        await call(casework.missing.store.require, "missing", missing_id)
        if changes.get("status", "identified") != "identified":
            raise HTTPException(422, "identified_missing_id goes with status identified")
        changes["status"] = "identified"
    before, after = await refusing(casework.missing.update(kind, case_id, changes, principal.actor))
    diff = {k: [plain(_field(before, k)), plain(_field(after, k))] for k in changes}
    await auditor.record(f"{kind}.update", target(kind, case_id), details={"changes": diff})


def _field(case: Any, name: str) -> Any:
    if hasattr(case, name):
        return getattr(case, name)
    if name == "status":
        return case.registered.status
    return getattr(case.description, name)


def _evidence(added: list[CasePhoto], photos: list[CleanPhoto]) -> dict[str, Any]:
    """The stored photos' hashes for the audit chain (``add_photo`` stores each photo as given)."""
    return evidence.stored("case_photo", *((a.id, p.jpeg) for a, p in zip(added, photos, strict=True)))


async def _add_photo(
    kind: Kind,
    case_id: int,
    photo: UploadFile,
    principal: Principal,
    auditor: Any,
    casework: CaseworkServices,
    settings: Settings,
) -> PhotoView:
    clean = await photo_from_upload(photo, settings)
    added = await refusing(casework.missing.add_photo(kind, case_id, clean, principal.actor))
    details = {"photo_id": added.id, "face": added.has_face, **_evidence([added], [clean])}
    await auditor.record(f"{kind}.photo_add", target(kind, case_id), details=details)
    return PhotoView.of(kind, case_id, added)


async def _photo(
    kind: str, case_id: int, photo_id: int, auditor: Any, casework: CaseworkServices
) -> Response:
    data = await run_in_threadpool(casework.missing.store.photo, kind, case_id, photo_id)
    if data is None:
        raise HTTPException(404, f"no photo {photo_id} of {kind} case {case_id}")
    await auditor.record(f"{kind}.photo_view", target(kind, case_id), details={"photo_id": photo_id})
    return Response(data, media_type="image/jpeg", headers=NO_STORE)


async def _candidates(
    kind: str, case_id: int, limit: int, reason: str, auditor: Any, casework: CaseworkServices
) -> CandidatePage:
    await call(casework.missing.store.require, kind, case_id)
    found = await run_in_threadpool(casework.missing.store.candidates, kind, case_id, limit)
    returned = [c.other.id for c in found]
    await auditor.record(
        f"{kind}.candidates", target(kind, case_id), reason=reason, details={"returned": returned}
    )
    return CandidatePage(candidates=[CandidateView.of(c) for c in found])


class Sending:
    """What registering a case takes besides its body: who sends it, with which key, and where to."""

    def __init__(
        self,
        principal: Registrar,
        auditor: AuditorDep,
        casework: CaseworkDep,
        settings: SettingsDep,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        self.principal, self.auditor, self.casework = principal, auditor, casework
        self.settings, self.response, self.key = settings, response, key_of(idempotency_key)


SendingDep = Annotated[Sending, Depends()]


async def _register(
    kind: Kind, values: dict[str, Any], body: MissingCreate | UdrCreate, sending: Sending
) -> AnyCase:
    """Register a case and audit it. A key stored already (the phone sent it again): the first case,
    answered with 200, its photos completed if the first sending was cut short."""
    principal, auditor, casework = sending.principal, sending.auditor, sending.casework
    staff_id = staff_only(principal)
    photos = await _photos(body.photos_jpeg, sending.settings)
    registered: tuple[AnyCase, list[CasePhoto], bool] = await refusing(
        casework.missing.register(kind, values, photos, principal.actor, staff_id, sending.key)
    )
    case, added, created = registered
    if not created:
        sending.response.status_code = 200
        if added:  # the first sending was cut short before its photos
            details = {"sent_again": True, **_evidence(added, photos)}
            await auditor.record(f"{kind}.photo_add", target(kind, case.id), details=details)
        return case
    label = {"name": case.name} if isinstance(case, MissingPerson) else {"udr_number": case.udr_number}
    details = {**label, "photos": len(photos), **_evidence(added, photos)}
    await auditor.record(f"{kind}.register", target(kind, case.id), details=details)
    return case


# -- missing persons ----------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=MissingView,
    responses={200: {"model": MissingView, "description": SENT_AGAIN}},
)
async def register_missing(body: MissingCreate, sending: SendingDep) -> MissingView:
    """Register a missing person: every officer is told, the photos go onto the camera watchlist
    (category missing: a welfare check), and unidentified bodies are ranked against the description.
    With an ``Idempotency-Key`` the case is stored once: sent again, the first case comes back (200)."""
    values = _values(body)
    values["last_seen_at"] = not_in_future(body.last_seen_at, "last_seen_at")
    case = await _register("missing", values, body, sending)
    return await _missing_view(sending.casework, case.id)


@router.get("", response_model=MissingPage)
async def search_missing(
    _: Reader,
    auditor: AuditorDep,
    casework: CaseworkDep,
    reason: ReasonQuery,
    q: Annotated[str | None, Query(max_length=MAX_NAME_LENGTH, description="Name, any spelling")] = None,
    status: MissingStatus | None = None,
    sex: Sex | None = None,
    district: District = None,
    since: Since = None,
    until: Since = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> MissingPage:
    """Missing persons, last seen most recently first (with ``q``: the closest names first)."""
    filters = CaseFilters(q=q, status=status, district=district, sex=sex, since=since, until=until)
    found, total = await _search("missing", filters, limit, offset, casework, auditor, reason)
    cases = [MissingView.of(c) for c in found if isinstance(c, MissingPerson)]
    return MissingPage(cases=cases, total=total, limit=limit, offset=offset)


@router.get("/{case_id}", response_model=MissingView)
async def get_missing(
    case_id: CaseId, _: Reader, auditor: AuditorDep, casework: CaseworkDep, reason: ReasonQuery
) -> MissingView:
    view = await _missing_view(casework, case_id)
    await auditor.record("missing.view", target("missing", case_id), reason=reason)
    return view


@router.patch("/{case_id}", response_model=MissingView)
async def update_missing(
    case_id: CaseId, body: MissingUpdate, principal: Writer, auditor: AuditorDep, casework: CaseworkDep
) -> MissingView:
    """Change the description or the status (found/closed takes the photos off the camera watchlist);
    the candidates are ranked again."""
    await _update("missing", case_id, body, principal, auditor, casework)
    return await _missing_view(casework, case_id)


@router.post("/{case_id}/photos", status_code=201, response_model=PhotoView)
async def add_missing_photo(
    case_id: CaseId,
    principal: Writer,
    auditor: AuditorDep,
    casework: CaseworkDep,
    settings: SettingsDep,
    photo: PhotoUpload,
) -> PhotoView:
    return await _add_photo("missing", case_id, photo, principal, auditor, casework, settings)


@router.get(
    "/{case_id}/photos/{photo_id}", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}}
)
async def get_missing_photo(
    case_id: CaseId, photo_id: PhotoId, _: Reader, auditor: AuditorDep, casework: CaseworkDep
) -> Response:
    return await _photo("missing", case_id, photo_id, auditor, casework)


@router.get("/{case_id}/candidates", response_model=CandidatePage)
async def missing_candidates(
    case_id: CaseId,
    _: Reader,
    auditor: AuditorDep,
    casework: CaseworkDep,
    reason: ReasonQuery,
    limit: Annotated[int, Query(ge=1, le=MAX_CANDIDATES)] = 20,
) -> CandidatePage:
    """Unidentified bodies that may be this person, the likeliest first."""
    return await _candidates("missing", case_id, limit, reason, auditor, casework)


# -- unidentified dead bodies -------------------------------------------------------------------------


@udr_router.post(
    "",
    status_code=201,
    response_model=UdrView,
    responses={200: {"model": UdrView, "description": SENT_AGAIN}},
)
async def register_udr(body: UdrCreate, sending: SendingDep) -> UdrView:
    """Register an unidentified dead body: every officer is told, and missing persons are ranked
    against its description and photos. With an ``Idempotency-Key`` the case is stored once."""
    values = _values(body)
    values["found_at"] = not_in_future(body.found_at, "found_at")
    case = await _register("udr", values, body, sending)
    return await _udr_view(sending.casework, case.id)


@udr_router.get("", response_model=UdrPage)
async def search_udr(
    _: Reader,
    auditor: AuditorDep,
    casework: CaseworkDep,
    reason: ReasonQuery,
    q: Annotated[str | None, Query(max_length=64, description="Part of the UDR number")] = None,
    status: UdrStatus | None = None,
    sex: Sex | None = None,
    district: District = None,
    since: Since = None,
    until: Since = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> UdrPage:
    """Unidentified bodies, found most recently first."""
    filters = CaseFilters(q=q, status=status, district=district, sex=sex, since=since, until=until)
    found, total = await _search("udr", filters, limit, offset, casework, auditor, reason)
    cases = [UdrView.of(c) for c in found if isinstance(c, UnidentifiedBody)]
    return UdrPage(cases=cases, total=total, limit=limit, offset=offset)


@udr_router.get("/{case_id}", response_model=UdrView)
async def get_udr(
    case_id: CaseId, _: Reader, auditor: AuditorDep, casework: CaseworkDep, reason: ReasonQuery
) -> UdrView:
    view = await _udr_view(casework, case_id)
    await auditor.record("udr.view", target("udr", case_id), reason=reason)
    return view


@udr_router.patch("/{case_id}", response_model=UdrView)
async def update_udr(
    case_id: CaseId, body: UdrUpdate, principal: Writer, auditor: AuditorDep, casework: CaseworkDep
) -> UdrView:
    """Change the description or the status; identified with ``identified_missing_id`` closes that
    missing person's case as found."""
    await _update("udr", case_id, body, principal, auditor, casework)
    return await _udr_view(casework, case_id)


@udr_router.post("/{case_id}/photos", status_code=201, response_model=PhotoView)
async def add_udr_photo(
    case_id: CaseId,
    principal: Writer,
    auditor: AuditorDep,
    casework: CaseworkDep,
    settings: SettingsDep,
    photo: PhotoUpload,
) -> PhotoView:
    return await _add_photo("udr", case_id, photo, principal, auditor, casework, settings)


@udr_router.get(
    "/{case_id}/photos/{photo_id}", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}}
)
async def get_udr_photo(
    case_id: CaseId, photo_id: PhotoId, _: Reader, auditor: AuditorDep, casework: CaseworkDep
) -> Response:
    return await _photo("udr", case_id, photo_id, auditor, casework)


@udr_router.get("/{case_id}/candidates", response_model=CandidatePage)
async def udr_candidates(
    case_id: CaseId,
    _: Reader,
    auditor: AuditorDep,
    casework: CaseworkDep,
    reason: ReasonQuery,
    limit: Annotated[int, Query(ge=1, le=MAX_CANDIDATES)] = 20,
) -> CandidatePage:
    """Missing persons this body may be, the likeliest first."""
    return await _candidates("udr", case_id, limit, reason, auditor, casework)
