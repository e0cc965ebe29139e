"""Patrol units: list them with live positions (``patrol:read``), create them and set their crews
(``patrol:manage``, which also lists the patrol officers crews are made of); an officer reports the
unit's position and duty status (``patrol:report``).

Positions also arrive over NATS (``subjects.patrol_position``) from trusted in-cluster gateways only
(the officer app posts here with its token; see patrol_tracking.py for why); both paths go through the
same checks. Positions are not audited (one every few seconds per
unit); unit and crew changes and duty status changes are.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool

from command_center.alerts.api.alerts import district_scope
from command_center.dispatch.api.dispatch_deps import (
    DispatchDep,
    PatrolDep,
    PatrolManager,
    PatrolOfficer,
    PatrolReader,
    own_unit,
)
from command_center.dispatch.api.dispatch_views import (
    CrewBody,
    DutyBody,
    DutyStatus,
    FixBody,
    FixView,
    RosterView,
    UnitCreate,
    UnitUpdate,
    UnitView,
)
from command_center.dispatch.patrol import DuplicateUnit, PatrolError, UnitNotFound
from command_center.dispatch.tracking import Fix
from command_center.security.api.auditing import AuditorDep
from pipeline.contracts import UNIT_ID_PATTERN, PatrolPosition

router = APIRouter(prefix="/patrol", tags=["patrol"])

UnitId = Annotated[str, Path(pattern=UNIT_ID_PATTERN, description="Unit id (call sign)")]


def unit_target(unit_id: str) -> str:
    return f"patrol_unit:{unit_id}"


@router.get("/units", response_model=list[UnitView])
async def list_units(
    principal: PatrolReader,
    dispatch: DispatchDep,
    duty_status: Annotated[DutyStatus | None, Query()] = None,
) -> list[UnitView]:
    """Units of the districts the caller sees, with their crews and last fresh position (if any)."""
    units = await run_in_threadpool(dispatch.patrol.list_units, district_scope(principal), None, duty_status)
    positions = await dispatch.positions.positions([u.id for u in units], time.time())
    return [UnitView.of(unit, positions.get(unit.id)) for unit in units]


@router.get("/officers", response_model=list[RosterView])
async def list_officers(_: PatrolManager, patrol: PatrolDep) -> list[RosterView]:
    """Active patrol officers and the unit each serves in (none: not yet in a crew), to make crews of."""
    return [RosterView.of(r) for r in await run_in_threadpool(patrol.roster)]


@router.post("/units", status_code=201, response_model=UnitView)
async def create_unit(body: UnitCreate, _: PatrolManager, auditor: AuditorDep, patrol: PatrolDep) -> UnitView:
    try:
        unit = await run_in_threadpool(patrol.add_unit, body.id, body.name, body.district, body.duty_status)
    except DuplicateUnit as exc:
        raise HTTPException(409, str(exc)) from None
    except PatrolError as exc:
        raise HTTPException(422, str(exc)) from None
    await auditor.record("patrol.unit_create", unit_target(unit.id), details=unit.as_audit())
    return UnitView.of(unit)


@router.patch("/units/{unit_id}", response_model=UnitView)
async def update_unit(
    unit_id: UnitId, body: UnitUpdate, _: PatrolManager, auditor: AuditorDep, patrol: PatrolDep
) -> UnitView:
    try:
        before, after = await run_in_threadpool(
            lambda: patrol.update_unit(
                unit_id, name=body.name, district=body.district, duty_status=body.duty_status
            )
        )
    except UnitNotFound:
        raise HTTPException(404, f"no unit {unit_id}") from None
    except PatrolError as exc:
        raise HTTPException(422, str(exc)) from None
    details = {"before": before.as_audit(), "after": after.as_audit()}
    await auditor.record("patrol.unit_update", unit_target(unit_id), details=details)
    return UnitView.of(after)


@router.post("/units/{unit_id}/crew", response_model=UnitView)
async def set_crew(
    unit_id: UnitId, body: CrewBody, _: PatrolManager, auditor: AuditorDep, dispatch: DispatchDep
) -> UnitView:
    """Make these patrol officers the unit's crew (each leaves any other unit)."""
    try:
        before, after = await run_in_threadpool(dispatch.patrol.assign, unit_id, body.officer_ids)
    except UnitNotFound:
        raise HTTPException(404, f"no unit {unit_id}") from None
    except PatrolError as exc:
        raise HTTPException(422, str(exc)) from None
    dispatch.tracker.forget_membership(unit_id)
    details = {"before": before.as_audit()["officers"], "after": after.as_audit()["officers"]}
    await auditor.record("patrol.crew_assign", unit_target(unit_id), details=details)
    return UnitView.of(after)


@router.post("/position", response_model=FixView)
async def report_position(body: FixBody, principal: PatrolOfficer, dispatch: DispatchDep) -> FixView:
    """The officer's unit is here (a GPS fix). A fix older than the stored one is ignored."""
    unit = await own_unit(dispatch.patrol, principal)
    fix = PatrolPosition(
        unit_id=unit.id,
        officer_id=principal.id,
        latitude=body.latitude,
        longitude=body.longitude,
        accuracy_m=body.accuracy_m,
        recorded_at=body.recorded_at or datetime.now(UTC),
    )
    outcome = await dispatch.tracker.accept(fix)
    if outcome is Fix.FUTURE:
        raise HTTPException(422, "recorded_at is in the future: check the device's clock")
    if outcome is Fix.NOT_IN_UNIT:
        raise HTTPException(409, f"you no longer serve in unit {unit.id}")
    return FixView(outcome=outcome.value)


@router.post("/status", response_model=UnitView)
async def report_status(
    body: DutyBody, principal: PatrolOfficer, auditor: AuditorDep, dispatch: DispatchDep
) -> UnitView:
    """The officer sets the unit's duty status (available, busy, off_duty)."""
    unit = await own_unit(dispatch.patrol, principal)
    _, after = await run_in_threadpool(
        lambda: dispatch.patrol.update_unit(unit.id, duty_status=body.duty_status)
    )
    if after.duty_status != unit.duty_status:
        details = {"from": unit.duty_status, "to": after.duty_status}
        await auditor.record("patrol.duty_status", unit_target(unit.id), details=details)
    return UnitView.of(after)
