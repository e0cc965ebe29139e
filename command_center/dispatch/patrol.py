"""Patrol units (call signs), the officers serving in each, and the unit's duty status, in SQL.

Officers are staff accounts with the role ``patrol_officer``; each serves in at most one unit. A unit's
duty status is ``available`` (may be dispatched), ``busy`` (on a dispatch, set and cleared by dispatch)
or ``off_duty``. Positions live in Redis (``patrol_positions.py``), not here: they change every few
seconds and only the latest matters.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from command_center.dispatch.records import AVAILABLE, DUTY_STATUSES
from command_center.dispatch.tables import patrol_officers, patrol_units
from command_center.security.permissions import Role
from command_center.security.users import DISTRICT_PATTERN, staff_users
from pipeline.adapters import transactions
from pipeline.adapters.database import as_utc
from pipeline.adapters.migrations import upgrade
from pipeline.contracts import UNIT_ID_PATTERN

MAX_OFFICERS = 20
_UNIT_ID = re.compile(UNIT_ID_PATTERN)
_DISTRICT = re.compile(DISTRICT_PATTERN)


class PatrolError(ValueError):
    """A unit or assignment that cannot be accepted; the message says why."""


class UnitNotFound(LookupError):
    pass


class DuplicateUnit(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Officer:
    user_id: int
    name: str
    government_id: str


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str
    district: str
    duty_status: str
    created_at: datetime
    updated_at: datetime
    officers: tuple[Officer, ...] = ()

    def as_audit(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "district": self.district,
            "duty_status": self.duty_status,
            "officers": [o.user_id for o in self.officers],
        }


@dataclass(frozen=True, slots=True)
class Roster:
    """An active patrol officer and the unit they serve in (None: in none yet)."""

    user_id: int
    name: str
    government_id: str
    districts: tuple[str, ...]
    unit_id: str | None


def check_unit_id(value: str) -> str:
    if not _UNIT_ID.fullmatch(value):
        raise PatrolError(f"unit id {value!r}: 1-64 letters, digits, '-' or '_'")
    return value


def _check_district(value: str) -> str:
    value = value.strip()
    if not _DISTRICT.fullmatch(value):
        raise PatrolError(f"district {value!r}: 1-64 letters, digits, spaces, '_' or '-'")
    return value


def _check_name(value: str) -> str:
    value = " ".join(value.split())
    if not 1 <= len(value) <= 200:
        raise PatrolError("a unit's name is 1 to 200 characters")
    return value


def _check_duty(value: str) -> str:
    if value not in DUTY_STATUSES:
        raise PatrolError(f"duty status {value!r}: one of {', '.join(DUTY_STATUSES)}")
    return value


class PatrolStore:
    """All SQL about units and their officers. Synchronous: call it from a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self._engine)

    def add_unit(self, unit_id: str, name: str, district: str, duty_status: str = AVAILABLE) -> Unit:
        now = datetime.now(UTC)
        values = {
            "id": check_unit_id(unit_id),
            "name": _check_name(name),
            "district": _check_district(district),
            "duty_status": _check_duty(duty_status),
            "created_at": now,
            "updated_at": now,
        }
        try:
            with transactions.begin(self._engine) as conn:
                conn.execute(insert(patrol_units).values(**values))
        except IntegrityError:
            raise DuplicateUnit(f"unit {unit_id} exists already") from None
        return self._require(unit_id)

    def update_unit(
        self,
        unit_id: str,
        *,
        name: str | None = None,
        district: str | None = None,
        duty_status: str | None = None,
    ) -> tuple[Unit, Unit]:
        """Change the given fields; (before, after)."""
        before = self._require(unit_id)
        values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if name is not None:
            values["name"] = _check_name(name)
        if district is not None:
            values["district"] = _check_district(district)
        if duty_status is not None:
            values["duty_status"] = _check_duty(duty_status)
        with transactions.begin(self._engine) as conn:
            conn.execute(update(patrol_units).where(patrol_units.c.id == unit_id).values(**values))
        return before, self._require(unit_id)

    def assign(self, unit_id: str, officer_ids: Sequence[int]) -> tuple[Unit, Unit]:
        """Make these officers the unit's crew (moving them out of any other unit); (before, after)."""
        wanted = sorted(set(officer_ids))
        if len(wanted) > MAX_OFFICERS:
            raise PatrolError(f"at most {MAX_OFFICERS} officers per unit")
        before = self._require(unit_id)
        now = datetime.now(UTC)
        with transactions.begin(self._engine) as conn:
            self._check_officers(conn, wanted)
            conn.execute(delete(patrol_officers).where(patrol_officers.c.unit_id == unit_id))
            if wanted:
                conn.execute(delete(patrol_officers).where(patrol_officers.c.user_id.in_(wanted)))
                rows = [{"user_id": u, "unit_id": unit_id, "assigned_at": now} for u in wanted]
                conn.execute(insert(patrol_officers), rows)
        return before, self._require(unit_id)

    @staticmethod
    def _check_officers(conn: Any, wanted: list[int]) -> None:
        if not wanted:
            return
        rows = conn.execute(
            select(staff_users.c.id, staff_users.c.role, staff_users.c.active).where(
                staff_users.c.id.in_(wanted)
            )
        ).all()
        found = {row.id: row for row in rows}
        for user_id in wanted:
            row = found.get(user_id)
            if row is None:
                raise PatrolError(f"no staff account {user_id}")
            if row.role != Role.PATROL_OFFICER.value or not row.active:
                raise PatrolError(f"account {user_id} is not an active patrol officer")

    # -- reading -------------------------------------------------------------------------------------

    def get_unit(self, unit_id: str) -> Unit | None:
        found = self.list_units(ids=[unit_id])
        return found[0] if found else None

    def _require(self, unit_id: str) -> Unit:
        unit = self.get_unit(unit_id)
        if unit is None:
            raise UnitNotFound(f"no unit {unit_id}")
        return unit

    def list_units(
        self,
        districts: Collection[str] | None = None,
        ids: Collection[str] | None = None,
        duty_status: str | None = None,
    ) -> list[Unit]:
        """Units (with their officers), by id; ``districts`` limits to those (None: every district)."""
        query = select(patrol_units).order_by(patrol_units.c.id)
        if districts is not None:
            query = query.where(patrol_units.c.district.in_(sorted(districts)))
        if ids is not None:
            query = query.where(patrol_units.c.id.in_(sorted(ids)))
        if duty_status is not None:
            query = query.where(patrol_units.c.duty_status == duty_status)
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(query).all()
            crews = self._crews(conn, [row.id for row in rows])
        return [_unit(row, crews.get(row.id, ())) for row in rows]

    @staticmethod
    def _crews(conn: Any, unit_ids: list[str]) -> dict[str, tuple[Officer, ...]]:
        if not unit_ids:
            return {}
        query = (
            select(
                patrol_officers.c.unit_id, staff_users.c.id, staff_users.c.name, staff_users.c.government_id
            )
            .join(staff_users, staff_users.c.id == patrol_officers.c.user_id)
            .where(patrol_officers.c.unit_id.in_(unit_ids))
            .order_by(staff_users.c.id)
        )
        crews: dict[str, list[Officer]] = {}
        for row in conn.execute(query):
            crews.setdefault(row.unit_id, []).append(Officer(row.id, row.name, row.government_id))
        return {unit_id: tuple(officers) for unit_id, officers in crews.items()}

    def roster(self) -> list[Roster]:
        """Every active patrol officer with their unit, by name: whom a crew can be made of."""
        query = (
            select(
                staff_users.c.id,
                staff_users.c.name,
                staff_users.c.government_id,
                staff_users.c.districts,
                patrol_officers.c.unit_id,
            )
            .outerjoin(patrol_officers, patrol_officers.c.user_id == staff_users.c.id)
            .where(staff_users.c.role == Role.PATROL_OFFICER.value, staff_users.c.active.is_(True))
            .order_by(staff_users.c.name, staff_users.c.id)
        )
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(query).all()
        return [
            Roster(row.id, row.name, row.government_id, tuple(row.districts or ()), row.unit_id)
            for row in rows
        ]

    def unit_of(self, user_id: int) -> Unit | None:
        """The unit this officer serves in, if any."""
        query = select(patrol_officers.c.unit_id).where(patrol_officers.c.user_id == user_id)
        with transactions.connect(self._engine) as conn:
            unit_id = conn.execute(query).scalar_one_or_none()
        return self.get_unit(unit_id) if unit_id is not None else None

    def serves_in(self, user_id: int, unit_id: str) -> bool:
        query = select(patrol_officers.c.user_id).where(
            patrol_officers.c.user_id == user_id, patrol_officers.c.unit_id == unit_id
        )
        with transactions.connect(self._engine) as conn:
            return conn.execute(query).first() is not None


def _unit(row: Any, officers: tuple[Officer, ...]) -> Unit:
    return Unit(
        id=row.id,
        name=row.name,
        district=row.district,
        duty_status=row.duty_status,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        officers=officers,
    )
