"""Dependencies of the lifecycle, dispatch and patrol routers (``Annotated`` aliases, as in deps.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from command_center.alerts.lifecycle import Actor
from command_center.api.deps import ServicesDep, require
from command_center.dispatch.dispatcher import Dispatcher
from command_center.dispatch.patrol import PatrolStore, Unit
from command_center.dispatch.services import DispatchServices
from command_center.security.permissions import Permission
from command_center.security.principal import Principal


def get_dispatch(services: ServicesDep) -> DispatchServices:
    return services.dispatch


def get_dispatcher(services: ServicesDep) -> Dispatcher:
    return services.dispatch.dispatcher


def get_patrol(services: ServicesDep) -> PatrolStore:
    return services.dispatch.patrol


DispatchDep = Annotated[DispatchServices, Depends(get_dispatch)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
PatrolDep = Annotated[PatrolStore, Depends(get_patrol)]

AlertActor = Annotated[Principal, require(Permission.ALERTS_ACT)]
DispatchActor = Annotated[Principal, require(Permission.DISPATCH)]
PatrolReader = Annotated[Principal, require(Permission.PATROL_READ)]
PatrolManager = Annotated[Principal, require(Permission.PATROL_MANAGE)]
PatrolOfficer = Annotated[Principal, require(Permission.PATROL_REPORT)]
StatsReader = Annotated[Principal, require(Permission.STATS_READ)]


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.actor, principal.id if principal.kind == "staff" else None, principal.role.value)


async def own_unit(patrol: PatrolStore, principal: Principal) -> Unit:
    """The unit the calling officer serves in; 409 if none (a supervisor assigns officers to units)."""
    unit = await run_in_threadpool(patrol.unit_of, principal.id)
    if unit is None:
        raise HTTPException(409, "you are not assigned to a patrol unit; ask your supervisor")
    return unit


async def visible_unit(patrol: PatrolStore, unit_id: str, principal: Principal) -> Unit:
    """A unit in a district the caller sees; another district's unit answers 404 like a missing one."""
    unit = await run_in_threadpool(patrol.get_unit, unit_id)
    if unit is None or not principal.sees_district(unit.district):
        raise HTTPException(404, f"no unit {unit_id}")
    return unit
