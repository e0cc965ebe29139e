"""The vehicle hotlist: add, view, change, remove entries, import a CSV, and search for a vehicle.

Records clerks, supervisors and admins write (``vehicles:write``); they and operators and patrol
officers list, search and view (``vehicles:read``); integration keys never see it. Every change is
written to the audit trail with its before/after values; every listing, search and view states a
reason, which is recorded before anything is returned. Search results carry the CRO persons who list
the vehicle among their known vehicles (with their cases), for callers who may read records.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from command_center.api.deps import ServicesDep, require
from command_center.records.api.vehicles_views import (
    ImportView,
    SearchHit,
    SearchPage,
    VehicleIn,
    VehiclePage,
    VehiclePatch,
    VehicleView,
    target,
)
from command_center.records.vehicle_links import LinkedPerson, linked_persons
from command_center.security.api.auditing import AuditorDep, ReasonQuery
from command_center.security.permissions import Permission, allowed
from command_center.security.principal import Principal
from watchlist.vehicle_import import CsvFormatError, ImportConflictError, import_csv
from watchlist.vehicle_search import DEFAULT_RESULTS, MAX_RESULTS, InvalidQueryError, search_vehicles
from watchlist.vehicle_types import MAX_LIST_LIMIT, MAX_LIST_OFFSET, MAX_PRIORITY, MIN_PRIORITY
from watchlist.vehicles import (
    InvalidVehicleError,
    Listing,
    ListState,
    NewVehicle,
    VehicleConflictError,
    VehicleHotlist,
    VehicleNotFoundError,
    VehicleRemovedError,
    VehicleStatus,
)

router = APIRouter(prefix="/vehicles", tags=["vehicles"])

MAX_ID = 2**31 - 1
MAX_IMPORT_BYTES = 5_000_000
MAX_QUERY = 40
MAX_AUDITED_IDS = 1000

EntryId = Annotated[int, Path(ge=1, le=MAX_ID, description="Hotlist entry id")]
Reader = Annotated[Principal, require(Permission.VEHICLES_READ)]
Writer = Annotated[Principal, require(Permission.VEHICLES_WRITE)]


def get_hotlist(services: ServicesDep) -> VehicleHotlist:
    return VehicleHotlist(services.engine)


HotlistDep = Annotated[VehicleHotlist, Depends(get_hotlist)]


@router.get("", response_model=VehiclePage)
async def list_vehicles(
    _: Reader,
    auditor: AuditorDep,
    hotlist: HotlistDep,
    reason: ReasonQuery,
    status: Annotated[
        list[VehicleStatus] | None, Query(description="Only these statuses (repeat for several)")
    ] = None,
    priority: Annotated[int | None, Query(ge=MIN_PRIORITY, le=MAX_PRIORITY)] = None,
    state: Annotated[
        ListState,
        Query(description="active: in force (not removed, not expired); expired; removed; all"),
    ] = ListState.ACTIVE,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_LIST_OFFSET)] = 0,
) -> VehiclePage:
    """The hotlist, most urgent first and newest first within a priority; audited like a search."""
    listing = Listing(frozenset(status or ()), priority, state, limit, offset)
    total, entries = await run_in_threadpool(hotlist.listing, listing)
    await auditor.record(
        "vehicles.list",
        "vehicle_hotlist",
        reason=reason,
        details={
            "status": sorted(s.value for s in listing.statuses),
            "priority": priority,
            "state": state.value,
            "limit": limit,
            "offset": offset,
            "total": total,
            "returned": [e.id for e in entries],
        },
    )
    return VehiclePage(total=total, limit=limit, offset=offset, results=[VehicleView.of(e) for e in entries])


@router.get("/search", response_model=SearchPage)
async def search(
    principal: Reader,
    services: ServicesDep,
    auditor: AuditorDep,
    hotlist: HotlistDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY,
            description="A registration number (exact, misread or incomplete: fuzzy) or a pattern "
            "with * and ? (e.g. LEA-12*)",
        ),
    ],
    reason: ReasonQuery,
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = DEFAULT_RESULTS,
    include_removed: bool = False,
) -> SearchPage:
    """Find vehicles on the hotlist, best match first, with status, reason, case and priority."""
    try:
        found = await run_in_threadpool(
            search_vehicles, hotlist, q, limit=limit, include_removed=include_removed
        )
    except InvalidQueryError as exc:
        raise HTTPException(422, f"q: {exc}") from None
    # CRO persons who list the vehicle: only for a caller who may read records, and named in the audit
    # entry, since the answer then discloses them.
    linked = None
    if allowed(principal.role, Permission.PERSONS_READ):
        linked = await run_in_threadpool(linked_persons, services.engine, [r.entry for r in found])
    await auditor.record(
        "vehicles.search",
        "vehicle_hotlist",
        reason=reason,
        details={
            "q": q,
            "include_removed": include_removed,
            "limit": limit,
            "returned": [r.entry.id for r in found],
            **({} if linked is None else {"linked_persons": _person_ids(linked)}),
        },
    )
    hits = [SearchHit.of_result(r, None if linked is None else linked.get(r.entry.id, [])) for r in found]
    return SearchPage(query=q, results=hits)


@router.post("/import", response_model=ImportView)
async def import_file(
    principal: Writer,
    auditor: AuditorDep,
    hotlist: HotlistDep,
    file: Annotated[UploadFile, File(description="CSV with a header row; see watchlist/vehicle_import.py")],
    partial: Annotated[
        bool, Form(description="Import the good rows even if some are bad (default: all or nothing)")
    ] = False,
) -> ImportView:
    """Add or update entries from a CSV file (same plate and case: update). 422 lists bad rows."""
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise HTTPException(413, f"the file is over {MAX_IMPORT_BYTES} bytes; split it")
    try:
        report = await run_in_threadpool(import_csv, hotlist, data, principal.actor, partial=partial)
    except CsvFormatError as exc:
        raise HTTPException(422, str(exc)) from None
    except ImportConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    view = ImportView.of(report)
    audit = auditor.record if report.applied else auditor.refusal  # a refused file is kept in the audit
    await audit(
        "vehicles.import" if report.applied else "vehicles.import_refused",
        "vehicle_hotlist",
        details={
            "file": (file.filename or "")[:200],
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "partial": partial,
            **report.summary(),
            "created_ids": report.created[:MAX_AUDITED_IDS],
            "updated_ids": report.updated[:MAX_AUDITED_IDS],
            "error_rows": [e.row for e in report.errors],
        },
    )
    if not report.applied:
        raise HTTPException(422, view.model_dump(mode="json"))
    return view


@router.post("", status_code=201, response_model=VehicleView)
async def add_vehicle(
    principal: Writer, auditor: AuditorDep, hotlist: HotlistDep, body: VehicleIn
) -> VehicleView:
    """Put a vehicle on the hotlist; 409 if the plate is already listed under the same case."""
    vehicle = NewVehicle(**body.model_dump())
    try:
        entry = await run_in_threadpool(hotlist.add, vehicle, principal.actor)
    except InvalidVehicleError as exc:
        raise HTTPException(422, str(exc)) from None
    except VehicleConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    view = VehicleView.of(entry)
    await auditor.record("vehicles.add", target(entry.id), details=_audited(view))
    return view


@router.get("/{entry_id}", response_model=VehicleView)
async def get_vehicle(
    entry_id: EntryId, _: Reader, auditor: AuditorDep, hotlist: HotlistDep, reason: ReasonQuery
) -> VehicleView:
    """One entry, removed ones included (with who removed it and why)."""
    entry = await run_in_threadpool(hotlist.get, entry_id)
    if entry is None:
        raise HTTPException(404, f"no hotlist entry {entry_id}")
    await auditor.record("vehicles.view", target(entry_id), reason=reason)
    return VehicleView.of(entry)


@router.patch("/{entry_id}", response_model=VehicleView)
async def update_vehicle(
    entry_id: EntryId, principal: Writer, auditor: AuditorDep, hotlist: HotlistDep, body: VehiclePatch
) -> VehicleView:
    """Change some fields (e.g. status ``recovered``: it stops alerting and stays searchable)."""
    try:
        updated = await run_in_threadpool(hotlist.update, entry_id, body.changes(), principal.actor)
    except InvalidVehicleError as exc:
        raise HTTPException(422, str(exc)) from None
    except VehicleNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except (VehicleConflictError, VehicleRemovedError) as exc:
        raise HTTPException(409, str(exc)) from None
    changes = updated.changes()
    if changes:
        await auditor.record(
            "vehicles.update", target(entry_id), reason=body.note, details={"changes": changes}
        )
    return VehicleView.of(updated.after)


@router.delete("/{entry_id}", response_model=VehicleView)
async def remove_vehicle(
    entry_id: EntryId, principal: Writer, auditor: AuditorDep, hotlist: HotlistDep, reason: ReasonQuery
) -> VehicleView:
    """Take an entry off the hotlist; it is kept for history and found only with include_removed."""
    try:
        entry = await run_in_threadpool(hotlist.remove, entry_id, principal.actor, reason)
    except InvalidVehicleError as exc:
        raise HTTPException(422, str(exc)) from None
    except VehicleNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except VehicleRemovedError as exc:
        raise HTTPException(409, str(exc)) from None
    await auditor.record("vehicles.remove", target(entry_id), reason=reason, details={"plate": entry.plate})
    return VehicleView.of(entry)


def _person_ids(linked: dict[int, list[LinkedPerson]]) -> list[int]:
    return sorted({p.person_id for persons in linked.values() for p in persons})


def _audited(view: VehicleView) -> dict[str, object]:
    fields = ("plate", "status", "reason", "case_reference", "owner", "vehicle", "priority", "expires_at")
    return view.model_dump(mode="json", include=set(fields))
