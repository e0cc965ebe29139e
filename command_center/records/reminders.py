"""Case-status reminders for investigating officers (the M-CCTNS app's case diary prompts).

A CRO case (``cro_cases``) names its investigating officer by Government ID. While it is open at the
police station it becomes a reminder for that officer when

* ``stale``: its record has had no update for ``records.case_reminder_days`` (due that many days after
  the last update: updating the case ends the reminder), or
* ``challan``: the report to the court (s.173 CrPC) falls due ``records.challan_due_days`` after the FIR
  date while the case is registered or under investigation, shown from ``challan_warn_days`` before.

The officer app reads them (``GET /cases/reminders``); ``ReminderLoop`` tells each one once, as it falls
due, on the officer's notice channel. ``case_reminders`` remembers what was told (unique per case, kind
and due time), so several replicas, or a restart, never tell one twice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

from command_center.records.reminder_tables import case_reminders
from command_center.records.tables import cases, persons
from command_center.records.types import utc
from pipeline.adapters import transactions
from pipeline.settings.records import RecordsSettings

ReminderKind = Literal["stale", "challan"]
STALE_STATUSES = ("registered", "under_investigation", "absconding")  # the IO still works the case
CHALLAN_STATUSES = ("registered", "under_investigation")  # no report to the court made yet
MAX_REMINDERS = 1000


@dataclass(frozen=True, slots=True)
class Reminder:
    kind: ReminderKind
    due_at: datetime
    case_id: int
    person_id: int
    person_name: str
    category: str
    district: str | None
    fir_number: str
    police_station: str
    status: str
    investigating_officer: str
    updated_at: datetime

    @property
    def summary(self) -> str:
        case = f"FIR {self.fir_number}, {self.police_station} ({self.person_name})"
        if self.kind == "challan":
            return f"{case}: challan due {self.due_at.date().isoformat()} (s.173 CrPC)"
        return f"{case}: no update since {self.updated_at.date().isoformat()}"


def _at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class ReminderStore:
    def __init__(self, engine: Engine, settings: RecordsSettings) -> None:
        self._engine = engine
        self._settings = settings

    def due(
        self,
        at: datetime,
        *,
        officer: str | None = None,
        districts: Collection[str] | None = None,
    ) -> list[Reminder]:
        """The reminders showing at ``at``, soonest due first: of one investigating ``officer`` (a
        Government ID), of cases of persons in ``districts``, or (neither) all of them."""
        c, p = cases.c, persons.c
        s = self._settings
        stale_before = at - timedelta(days=s.case_reminder_days)
        due = [c.updated_at <= stale_before]
        if s.challan_due_days:
            fir_before = (at + timedelta(days=s.challan_warn_days - s.challan_due_days)).date()
            due.append(c.fir_date <= fir_before)
        query = (
            select(c.id, c.person_id, c.fir_number, c.fir_date, c.police_station, c.status)
            .add_columns(c.investigating_officer, c.updated_at, p.name, p.category, p.district)
            .join(persons, p.id == c.person_id)
            .where(c.investigating_officer.is_not(None), c.status.in_(STALE_STATUSES), or_(*due))
            .where(p.archived_at.is_(None))
        )
        if officer is not None:
            query = query.where(c.investigating_officer == officer)
        if districts is not None:
            query = query.where(p.district.in_(list(districts)))
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(query.order_by(c.updated_at).limit(MAX_REMINDERS)).all()
        found = [r for row in rows for r in self._of(row, at)]
        return sorted(found, key=lambda r: (r.due_at, r.case_id))

    def _of(self, row: Any, at: datetime) -> list[Reminder]:
        s = self._settings
        updated = utc(row.updated_at) or at
        common = {
            "case_id": row.id,
            "person_id": row.person_id,
            "person_name": row.name,
            "category": row.category,
            "district": row.district,
            "fir_number": row.fir_number,
            "police_station": row.police_station,
            "status": row.status,
            "investigating_officer": row.investigating_officer,
            "updated_at": updated,
        }
        found = []
        stale_at = updated + timedelta(days=s.case_reminder_days)
        if stale_at <= at:
            found.append(Reminder(kind="stale", due_at=stale_at, **common))
        if s.challan_due_days and row.fir_date is not None and row.status in CHALLAN_STATUSES:
            deadline = _at_midnight(row.fir_date + timedelta(days=s.challan_due_days))
            if deadline - timedelta(days=s.challan_warn_days) <= at:
                found.append(Reminder(kind="challan", due_at=deadline, **common))
        return found

    def claim(self, reminder: Reminder, officer_id: int, at: datetime) -> bool:
        """True once per reminder (case, kind, due time): the caller tells the officer; False after."""
        row = {"case_id": reminder.case_id, "kind": reminder.kind, "due_at": reminder.due_at}
        row |= {"officer_id": officer_id, "told_at": at}
        try:
            with transactions.begin(self._engine) as conn:
                conn.execute(insert(case_reminders).values(**row))
        except IntegrityError:
            return False
        return True

    def unclaim(self, reminder: Reminder) -> None:
        """The officer could not be told (the bus was down): the next round tries again."""
        r = case_reminders.c
        mine = (r.case_id == reminder.case_id, r.kind == reminder.kind, r.due_at == reminder.due_at)
        with transactions.begin(self._engine) as conn:
            conn.execute(delete(case_reminders).where(*mine))
