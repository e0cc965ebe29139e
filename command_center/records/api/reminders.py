"""Case-status reminders (``records/reminders.py``) for the officer app's Reminders list.

* ``GET /cases/reminders``: the caller's own cases as investigating officer that need an update or whose
  challan falls due, soonest first.
* ``GET /cases/reminders?scope=district``: a supervisor's view of every investigating officer's
  reminders in the supervisor's districts (all districts for a supervisor who has none).

Every read is audited (the list names persons and their cases).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from command_center.api.deps import ServicesDep, SettingsDep, require
from command_center.records.api.casework_common import staff_only
from command_center.records.reminders import Reminder, ReminderKind
from command_center.records.types import now
from command_center.security.api.auditing import AuditorDep
from command_center.security.permissions import Permission, Role
from command_center.security.principal import Principal

router = APIRouter(prefix="/cases", tags=["case reminders"])
Reader = Annotated[Principal, require(Permission.PERSONS_READ)]
SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})


class ReminderView(BaseModel):
    kind: ReminderKind = Field(description="stale: no update for records.case_reminder_days; challan: due")
    due_at: datetime
    overdue: bool = Field(description="The due time has passed (a challan shows from a few days before)")
    case_id: int
    person_id: int
    person_name: str
    district: str | None
    fir_number: str
    police_station: str
    status: str
    investigating_officer: str = Field(description="Government ID")
    updated_at: datetime = Field(description="The case record's last update")
    summary: str

    @classmethod
    def of(cls, r: Reminder, at: datetime) -> ReminderView:
        fields = {name: getattr(r, name) for name in cls.model_fields if hasattr(r, name)}
        return cls(**fields, overdue=r.due_at <= at)


class ReminderList(BaseModel):
    scope: Literal["mine", "district"]
    reminders: list[ReminderView]
    stale_after_days: int
    challan_due_days: int


@router.get("/reminders", response_model=ReminderList)
async def reminders(
    principal: Reader,
    services: ServicesDep,
    settings: SettingsDep,
    auditor: AuditorDep,
    scope: Literal["mine", "district"] = Query("mine", description="district: a supervisor's view"),
) -> ReminderList:
    """The reminders of the caller's own cases (``mine``) or of the supervisor's districts."""
    staff_id = staff_only(principal)
    store, at = services.casework.reminders, now()
    if scope == "district":
        if principal.role not in SUPERVISING:
            raise HTTPException(403, "only a supervisor sees the reminders of a district's officers")
        districts = principal.districts or None
        found = await run_in_threadpool(store.due, at, districts=districts)
    else:
        user = await run_in_threadpool(services.auth.users.get, staff_id)
        if user is None:
            raise HTTPException(403, "no staff account")
        found = await run_in_threadpool(store.due, at, officer=user.government_id)
    details = {"scope": scope, "count": len(found), "cases": sorted({r.case_id for r in found})[:100]}
    await auditor.record("cases.reminders", f"staff:{staff_id}", details=details)
    return ReminderList(
        scope=scope,
        reminders=[ReminderView.of(r, at) for r in found],
        stale_after_days=settings.records.case_reminder_days,
        challan_due_days=settings.records.challan_due_days,
    )
