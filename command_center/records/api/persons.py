"""CRO persons of interest: records clerks keep them (``persons:write``), staff search and view them
(``persons:read``), officers follow them (their personal watchlist).

Every search and every profile view states a reason and is written to the audit trail before the data
is returned; so is every change (with what changed). Nothing is deleted: DELETE archives a person.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from command_center.api.deps import ServicesDep, SettingsDep, require
from command_center.records.api.person_views import (
    CaseCreate,
    CaseUpdate,
    CaseView,
    Following,
    PersonCreate,
    PersonSummary,
    PersonUpdate,
    PersonView,
    PhotoView,
    SearchHit,
    SearchPage,
    VehicleCreate,
    VehicleView,
)
from command_center.records.search import Query as SearchQuery
from command_center.records.services import RecordsServices
from command_center.records.store import PersonStore
from command_center.records.types import (
    CaseFields,
    DuplicateCnicError,
    PersonFields,
    PersonNotFoundError,
    RecordsError,
)
from command_center.security import evidence
from command_center.security.api.auditing import AuditorDep, ReasonQuery
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.validators import MAX_ADDRESS_LENGTH, MAX_NAME_LENGTH
from watchlist.photos import PhotoError, decode_photo, encode_jpeg
from watchlist.vehicles import VehicleHotlist

router = APIRouter(prefix="/persons", tags=["persons"])

MAX_ID = 2**31 - 1
MAX_RESULTS = 100
PersonId = Annotated[int, Path(ge=1, le=MAX_ID, description="CRO person id")]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
Reader = Annotated[Principal, require(Permission.PERSONS_READ)]
Writer = Annotated[Principal, require(Permission.PERSONS_WRITE)]
CategoryQuery = Annotated[
    str | None,
    Query(pattern=r"^(hbt_offender|local|non_local|rowdy_sheeter|history_sheeter|wanted|missing)$"),
]


def get_records(services: ServicesDep) -> RecordsServices:
    return services.records


RecordsDep = Annotated[RecordsServices, Depends(get_records)]


def target(person_id: int) -> str:
    return f"person:{person_id}"


async def _call(work: Any, *args: Any) -> Any:
    """Run a store call in a thread, mapping its refusals to 404/409/422."""
    try:
        return await run_in_threadpool(work, *args)
    except PersonNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except DuplicateCnicError as exc:
        raise HTTPException(409, str(exc)) from None
    except RecordsError as exc:
        raise HTTPException(422, str(exc)) from None


async def _view(store: PersonStore, person_id: int) -> PersonView:
    return PersonView.of_record(await _call(store.record, person_id))


async def _check_links(services: ServicesDep, profile_id: int | None, entry_ids: list[int | None]) -> None:
    """A linked watchlist profile or hotlist entry must exist (422 otherwise)."""
    if profile_id is not None and await run_in_threadpool(services.watchlist.get_profile, profile_id) is None:
        raise HTTPException(422, f"watchlist_profile_id: no watchlist profile {profile_id}")
    hotlist = VehicleHotlist(services.engine)
    for entry_id in entry_ids:
        if entry_id is not None and await run_in_threadpool(hotlist.get, entry_id) is None:
            raise HTTPException(422, f"hotlist_entry_id: no vehicle hotlist entry {entry_id}")


async def _check_officer(records: RecordsServices, government_id: str | None) -> None:
    """A case's investigating officer must be a staff account (422 otherwise): arrest screening tells
    them, and an ID that names no one would silently tell no one."""
    if government_id is None:
        return
    if await run_in_threadpool(records.notifier.users.by_government_id, government_id) is None:
        raise HTTPException(
            422, f"investigating_officer: no staff account with Government ID {government_id}"
        )


def _no_repeats(body: PersonCreate) -> None:
    """Refuse repeats within one body before anything is stored (the person is stored first)."""
    firs = [(c.fir_number, c.police_station) for c in body.cases]
    if len(set(firs)) != len(firs):
        raise HTTPException(422, "cases: the same FIR number and police station twice")
    plates = [v.key() for v in body.vehicles]
    if len(set(plates)) != len(plates):
        raise HTTPException(422, "vehicles: the same registration number twice")


def _unprocessable(exc: ValueError) -> HTTPException:
    if isinstance(exc, ValidationError):
        return HTTPException(422, exc.errors(include_url=False, include_context=False))
    return HTTPException(422, str(exc))


# -- search (before /{person_id}, which would otherwise claim the path) -------------------------------


@router.get("/search", response_model=SearchPage)
async def search_persons(
    _: Reader,
    auditor: AuditorDep,
    records: RecordsDep,
    reason: ReasonQuery,
    q: Annotated[
        str | None, Query(max_length=MAX_NAME_LENGTH, description="Name or alias, any spelling")
    ] = None,
    father_name: Annotated[str | None, Query(max_length=MAX_NAME_LENGTH)] = None,
    address: Annotated[str | None, Query(max_length=MAX_ADDRESS_LENGTH)] = None,
    category: CategoryQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 20,
) -> SearchPage:
    """Ranked, spelling-agnostic search; with only a category, that category's latest records."""
    query = SearchQuery(name=q, father=father_name, address=address, category=category)
    if query.keys():
        found = await run_in_threadpool(records.search.search, query, limit)
        persons = await run_in_threadpool(records.persons.by_ids, [f.person_id for f in found])
        results = [SearchHit.of(f, persons[f.person_id]) for f in found if f.person_id in persons]
    elif category is not None:
        listed = await run_in_threadpool(records.persons.list_by_category, category, limit, 0)
        results = [SearchHit(person=PersonSummary.of(p), score=1.0, matched={}) for p in listed]
    else:
        raise HTTPException(422, "give q, father_name or address (with letters or digits), or a category")
    filters = {"q": q, "father_name": father_name, "address": address, "category": category, "limit": limit}
    returned = [r.person.id for r in results]
    await auditor.record(
        "persons.search", "cro_persons", reason=reason, details={"filters": filters, "returned": returned}
    )
    return SearchPage(results=results)


@router.get("/following", response_model=list[PersonSummary])
async def my_watchlist(principal: Reader, auditor: AuditorDep, records: RecordsDep) -> list[PersonSummary]:
    """The persons the calling officer follows (their personal watchlist)."""
    persons = await run_in_threadpool(records.persons.following, principal.id)
    await auditor.record(
        "persons.following_view", f"officer:{principal.id}", details={"returned": [p.id for p in persons]}
    )
    return [PersonSummary.of(p) for p in persons]


# -- one person ---------------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=PersonView)
async def create_person(
    body: PersonCreate, principal: Writer, auditor: AuditorDep, records: RecordsDep, services: ServicesDep
) -> PersonView:
    await _check_links(services, body.watchlist_profile_id, [v.hotlist_entry_id for v in body.vehicles])
    for case in body.cases:
        await _check_officer(records, case.investigating_officer)
    _no_repeats(body)
    fields = PersonFields(
        **{**body.model_dump(exclude={"cases", "vehicles"}), "aliases": tuple(body.aliases)}
    )
    store = records.persons
    person = await _call(store.add, fields, principal.actor)
    for case in body.cases:
        await _call(
            store.add_case,
            person.id,
            CaseFields(**{**case.model_dump(), "sections": tuple(case.sections)}),
            principal.actor,
        )
    for vehicle in body.vehicles:
        await _call(
            store.add_vehicle,
            person.id,
            vehicle.key(),
            vehicle.plate,
            vehicle.description,
            vehicle.hotlist_entry_id,
            principal.actor,
        )
    details = {**person.audit_summary(), "cases": len(body.cases), "vehicles": len(body.vehicles)}
    await auditor.record("persons.create", target(person.id), details=details)
    return await _view(store, person.id)


@router.get("/{person_id}", response_model=PersonView)
async def get_person(
    person_id: PersonId, _: Reader, auditor: AuditorDep, records: RecordsDep, reason: ReasonQuery
) -> PersonView:
    view = await _view(records.persons, person_id)
    await auditor.record("persons.view", target(person_id), reason=reason)
    return view


@router.patch("/{person_id}", response_model=PersonView)
async def update_person(
    person_id: PersonId,
    body: PersonUpdate,
    principal: Writer,
    auditor: AuditorDep,
    records: RecordsDep,
    services: ServicesDep,
) -> PersonView:
    try:
        changes = body.changes()
    except ValueError as exc:
        raise _unprocessable(exc) from None
    await _check_links(services, changes.get("watchlist_profile_id"), [])
    before, after = await _call(records.persons.update, person_id, changes, principal.actor)
    diff = {k: [_plain(getattr(before.fields, k)), _plain(getattr(after.fields, k))] for k in changes}
    await auditor.record("persons.update", target(person_id), details={"changes": diff})
    return await _view(records.persons, person_id)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value.isoformat() if hasattr(value, "isoformat") else value


@router.delete("/{person_id}", response_model=PersonView)
async def archive_person(
    person_id: PersonId, principal: Writer, auditor: AuditorDep, records: RecordsDep, reason: ReasonQuery
) -> PersonView:
    """Take a person off the active records (kept, archived: found by no search or CNIC check)."""
    person = await _call(records.persons.archive, person_id, principal.actor)
    await auditor.record("persons.archive", target(person_id), reason=reason, details=person.audit_summary())
    return await _view(records.persons, person_id)


# -- photos ---------------------------------------------------------------------------------------


@router.post("/{person_id}/photos", status_code=201, response_model=PhotoView)
async def add_photo(
    person_id: PersonId,
    principal: Writer,
    auditor: AuditorDep,
    records: RecordsDep,
    settings: SettingsDep,
    photo: Annotated[UploadFile, File(description="A JPEG or PNG photo; stored as JPEG")],
) -> PhotoView:
    limits = settings.records
    data = await photo.read(limits.max_photo_bytes + 1)
    try:
        image = await asyncio.to_thread(
            decode_photo, "photo", data, limits.max_photo_bytes, limits.max_photo_pixels
        )
    except PhotoError as exc:
        raise HTTPException(422, str(exc)) from None
    jpeg = await asyncio.to_thread(encode_jpeg, image)  # re-encoded: no metadata or trailing payload kept
    info = await _call(
        records.persons.add_photo, person_id, jpeg, int(image.shape[1]), int(image.shape[0]), principal.actor
    )
    details = {"photo_id": info.id, **evidence.stored("person_photo", (info.id, jpeg))}
    await auditor.record("persons.photo_add", target(person_id), details=details)
    url = f"/persons/{person_id}/photos/{info.id}"
    return PhotoView(
        id=info.id,
        width=info.width,
        height=info.height,
        url=url,
        added_by=info.added_by,
        added_at=info.added_at,
    )


@router.get(
    "/{person_id}/photos/{photo_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def get_photo(
    person_id: PersonId, photo_id: ItemId, _: Reader, auditor: AuditorDep, records: RecordsDep
) -> Response:
    data = await run_in_threadpool(records.persons.photo, person_id, photo_id)
    if data is None:
        raise HTTPException(404, f"no photo {photo_id} of person {person_id}")
    await auditor.record("persons.photo_view", target(person_id), details={"photo_id": photo_id})
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.delete("/{person_id}/photos/{photo_id}", status_code=204)
async def remove_photo(
    person_id: PersonId, photo_id: ItemId, _: Writer, auditor: AuditorDep, records: RecordsDep
) -> Response:
    await _call(records.persons.remove_photo, person_id, photo_id)
    details = {"photo_id": photo_id, **evidence.removed("person_photo", photo_id)}
    await auditor.record("persons.photo_remove", target(person_id), details=details)
    return Response(status_code=204)


# -- case history and known vehicles --------------------------------------------------------------


@router.post("/{person_id}/cases", status_code=201, response_model=CaseView)
async def add_case(
    person_id: PersonId, body: CaseCreate, principal: Writer, auditor: AuditorDep, records: RecordsDep
) -> CaseView:
    await _check_officer(records, body.investigating_officer)
    fields = CaseFields(**{**body.model_dump(), "sections": tuple(body.sections)})
    case = await _call(records.persons.add_case, person_id, fields, principal.actor)
    details = {"case_id": case.id, "fir_number": body.fir_number, "police_station": body.police_station}
    details |= {"status": body.status, "investigating_officer": body.investigating_officer}
    await auditor.record("persons.case_add", target(person_id), details=details)
    return CaseView.of(case)


@router.patch("/{person_id}/cases/{case_id}", response_model=CaseView)
async def update_case(
    person_id: PersonId,
    case_id: ItemId,
    body: CaseUpdate,
    principal: Writer,
    auditor: AuditorDep,
    records: RecordsDep,
) -> CaseView:
    try:
        changes = body.changes()
    except ValueError as exc:
        raise _unprocessable(exc) from None
    if "sections" in changes:
        changes["sections"] = tuple(changes["sections"])
    await _check_officer(records, changes.get("investigating_officer"))
    before, after = await _call(records.persons.update_case, person_id, case_id, changes, principal.actor)
    diff = {k: [_plain(getattr(before.fields, k)), _plain(getattr(after.fields, k))] for k in changes}
    await auditor.record(
        "persons.case_update", target(person_id), details={"case_id": case_id, "changes": diff}
    )
    return CaseView.of(after)


@router.post("/{person_id}/vehicles", status_code=201, response_model=VehicleView)
async def add_vehicle(
    person_id: PersonId,
    body: VehicleCreate,
    principal: Writer,
    auditor: AuditorDep,
    records: RecordsDep,
    services: ServicesDep,
) -> VehicleView:
    await _check_links(services, None, [body.hotlist_entry_id])
    vehicle = await _call(
        records.persons.add_vehicle,
        person_id,
        body.key(),
        body.plate,
        body.description,
        body.hotlist_entry_id,
        principal.actor,
    )
    details = {"vehicle_id": vehicle.id, "plate": vehicle.plate, "hotlist_entry_id": vehicle.hotlist_entry_id}
    await auditor.record("persons.vehicle_add", target(person_id), details=details)
    return VehicleView.of(vehicle)


@router.delete("/{person_id}/vehicles/{vehicle_id}", status_code=204)
async def remove_vehicle(
    person_id: PersonId, vehicle_id: ItemId, _: Writer, auditor: AuditorDep, records: RecordsDep
) -> Response:
    vehicle = await _call(records.persons.remove_vehicle, person_id, vehicle_id)
    await auditor.record(
        "persons.vehicle_remove",
        target(person_id),
        details={"vehicle_id": vehicle_id, "plate": vehicle.plate},
    )
    return Response(status_code=204)


# -- the officer's personal watchlist -------------------------------------------------------------


@router.post("/{person_id}/follow", response_model=Following)
async def follow_person(
    person_id: PersonId, principal: Reader, auditor: AuditorDep, records: RecordsDep, reason: ReasonQuery
) -> Following:
    """Be told when this person is seen by a camera, checks into a hotel or is arrested."""
    if principal.kind != "staff":
        raise HTTPException(403, "only a member of staff can follow a person")
    await _call(records.persons.follow, person_id, principal.id)
    user = await run_in_threadpool(_user_key, records, principal)
    if user is not None:
        await records.notifier.ensure_consumer(user)
    await auditor.record("persons.follow", target(person_id), reason=reason)
    return Following(person_id=person_id, following=True)


def _user_key(records: RecordsServices, principal: Principal) -> str | None:
    user = records.notifier.users.get(principal.id)
    return user.government_id if user is not None else None


@router.delete("/{person_id}/follow", response_model=Following)
async def unfollow_person(
    person_id: PersonId, principal: Reader, auditor: AuditorDep, records: RecordsDep
) -> Following:
    gone = await run_in_threadpool(records.persons.unfollow, person_id, principal.id)
    if not gone:
        raise HTTPException(404, f"you do not follow person {person_id}")
    await auditor.record("persons.unfollow", target(person_id))
    return Following(person_id=person_id, following=False)
