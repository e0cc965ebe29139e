"""A dispatch (one unit sent to one alert) as stored, and closing the active one inside a transaction.

A dispatch is ``pending`` until one of the unit's officers acknowledges it, then ``acknowledged`` →
``on_scene`` → ``resolved`` or ``dismissed``. It ends early as ``timed_out`` (nobody acknowledged in
time), ``superseded`` (an operator sent another unit) or ``recalled``. A unit is ``busy`` while it has
an active dispatch, and ``available`` again when that dispatch ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from command_center.dispatch.tables import dispatches, patrol_units
from pipeline.adapters.database import as_utc

PENDING = "pending"
ACKNOWLEDGED = "acknowledged"
ON_SCENE = "on_scene"
RESOLVED = "resolved"
DISMISSED = "dismissed"
TIMED_OUT = "timed_out"
SUPERSEDED = "superseded"
RECALLED = "recalled"
ACTIVE = frozenset({PENDING, ACKNOWLEDGED, ON_SCENE})

AVAILABLE = "available"
BUSY = "busy"
OFF_DUTY = "off_duty"
DUTY_STATUSES = (AVAILABLE, BUSY, OFF_DUTY)


@dataclass(frozen=True, slots=True)
class Dispatch:
    id: int
    alert_id: int
    unit_id: str
    status: str
    attempt: int
    auto: bool
    distance_m: float | None
    eta_s: float | None
    note: str | None
    dispatched_by: str
    created_at: datetime
    ack_deadline: datetime
    acked_at: datetime | None
    acked_by: int | None
    closed_at: datetime | None
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @classmethod
    def from_row(cls, row: Any) -> Dispatch:
        data = dict(row._mapping)
        for key in ("created_at", "ack_deadline", "updated_at"):
            data[key] = as_utc(data[key])
        for key in ("acked_at", "closed_at"):
            if data[key] is not None:
                data[key] = as_utc(data[key])
        data["auto"] = bool(data["auto"])
        return cls(**data)


def active_dispatch(conn: Connection, alert_id: int) -> Dispatch | None:
    row = conn.execute(
        select(dispatches)
        .where(dispatches.c.alert_id == alert_id, dispatches.c.status.in_(sorted(ACTIVE)))
        .order_by(dispatches.c.id.desc())
        .limit(1)
    ).first()
    return Dispatch.from_row(row) if row is not None else None


def close_dispatch(conn: Connection, dispatch: Dispatch, status: str, now: datetime) -> Dispatch | None:
    """End an active dispatch with ``status`` and free its unit; None if it had ended meanwhile."""
    changed = conn.execute(
        update(dispatches)
        .where(dispatches.c.id == dispatch.id, dispatches.c.status.in_(sorted(ACTIVE)))
        .values(status=status, closed_at=now, updated_at=now)
    )
    if changed.rowcount != 1:
        return None
    release_unit(conn, dispatch.unit_id, now)
    row = conn.execute(select(dispatches).where(dispatches.c.id == dispatch.id)).one()
    return Dispatch.from_row(row)


def close_active(conn: Connection, alert_id: int, status: str, now: datetime) -> Dispatch | None:
    """End the alert's active dispatch, if any (its alert was resolved, dismissed or reassigned)."""
    found = active_dispatch(conn, alert_id)
    return close_dispatch(conn, found, status, now) if found is not None else None


def release_unit(conn: Connection, unit_id: str, now: datetime) -> None:
    """A busy unit is available again (one that went off duty meanwhile stays off duty)."""
    conn.execute(
        update(patrol_units)
        .where(patrol_units.c.id == unit_id, patrol_units.c.duty_status == BUSY)
        .values(duty_status=AVAILABLE, updated_at=now)
    )
