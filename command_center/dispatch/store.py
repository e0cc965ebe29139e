"""SQL of dispatching: send a unit to an alert, the officers' steps, acknowledgement timeouts.

Every write is one transaction that starts by moving the alert's status (a compare-and-set that also
locks the alert's row on PostgreSQL, see ``lifecycle.compare_and_set``), then claims the unit with a
conditional ``available → busy`` update. Two operators, or two replicas' policy loops, can therefore
never send two units to one alert at once, nor one unit to two alerts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, exists, func, insert, select, update

from command_center.alerts.lifecycle import (
    DISPATCHED,
    Actor,
    AlertNotFound,
    IllegalTransition,
    Transition,
    compare_and_set,
    ever_acknowledged,
    move,
    open_alerts,
    record,
)
from command_center.alerts.store import Alert
from command_center.dispatch.records import (
    ACKNOWLEDGED,
    ACTIVE,
    AVAILABLE,
    BUSY,
    DISMISSED,
    ON_SCENE,
    PENDING,
    RESOLVED,
    SUPERSEDED,
    TIMED_OUT,
    Dispatch,
    active_dispatch,
    close_dispatch,
    release_unit,
)
from command_center.dispatch.tables import dispatches, patrol_units
from pipeline.adapters import transactions

# What an officer may report on a dispatch: the dispatch statuses it may come from, where it goes, and
# the alert's lifecycle action that goes with it.
OFFICER_STEPS: dict[str, tuple[frozenset[str], str, str]] = {
    "ack": (frozenset({PENDING}), ACKNOWLEDGED, "dispatch_ack"),
    "on_scene": (frozenset({PENDING, ACKNOWLEDGED}), ON_SCENE, "on_scene"),
    "resolve": (ACTIVE, RESOLVED, "resolve"),
    "dismiss": (ACTIVE, DISMISSED, "dismiss"),
}


class UnitUnavailable(Exception):
    def __init__(self, unit_id: str, status: str | None) -> None:
        self.unit_id = unit_id
        self.status = status
        what = "does not exist" if status is None else f"is {status}"
        super().__init__(f"unit {unit_id} {what}; only an available unit can be dispatched")


class AlreadyDispatched(Exception):
    """Auto-dispatch found that a unit had been sent already (by an operator or another replica)."""


class DispatchNotFound(LookupError):
    pass


class DispatchClosed(Exception):
    """The dispatch is no longer this unit's to act on (timed out, passed on, closed)."""

    def __init__(self, dispatch: Dispatch, step: str) -> None:
        self.dispatch = dispatch
        super().__init__(f"dispatch {dispatch.id} is {dispatch.status}: it cannot be marked {step}")


@dataclass(frozen=True, slots=True)
class Sent:
    dispatch: Dispatch
    transition: Transition
    superseded: Dispatch | None  # the unit stood down by this dispatch, if another was on it


@dataclass(frozen=True, slots=True)
class Reported:
    dispatch: Dispatch
    transition: Transition | None  # None when the step had been reported already (a retry)


@dataclass(frozen=True, slots=True)
class Order:
    """What to send: which unit, why, how far, by whom."""

    unit_id: str
    actor: Actor
    note: str | None = None
    distance_m: float | None = None
    eta_s: float | None = None
    auto: bool = False
    ack_timeout_s: float = 60.0


class DispatchStore:
    """Synchronous: call it from a worker thread in async code."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def send(self, alert_id: int, order: Order, *, first_only: bool = False) -> Sent:
        """Dispatch ``order.unit_id`` to the alert (standing down a unit already on it).

        ``first_only``: only if no unit was ever sent to this alert (the auto-dispatch policy).
        IllegalTransition, AlertNotFound or UnitUnavailable when it cannot be done.
        """
        now = datetime.now(UTC)
        with transactions.begin(self._engine) as conn:
            from_status = compare_and_set(conn, alert_id, "dispatch", now)
            if first_only and self._ever_dispatched(conn, alert_id):
                raise AlreadyDispatched(f"alert {alert_id} has had a unit sent already")
            previous = active_dispatch(conn, alert_id)
            if previous is not None and previous.unit_id == order.unit_id:
                raise UnitUnavailable(order.unit_id, f"on this alert already ({previous.status})")
            superseded = close_dispatch(conn, previous, SUPERSEDED, now) if previous else None
            self._claim(conn, order.unit_id, now)
            dispatch_id = self._insert(conn, alert_id, order, now)
            done = record(
                conn,
                alert_id,
                "dispatch",
                from_status,
                DISPATCHED,
                order.actor,
                now,
                order.note,
                order.unit_id,
                dispatch_id,
            )
            dispatch = self._get(conn, dispatch_id)
        assert dispatch is not None
        return Sent(dispatch, done, superseded)

    @staticmethod
    def _ever_dispatched(conn: Connection, alert_id: int) -> bool:
        query = select(exists().where(dispatches.c.alert_id == alert_id))
        return bool(conn.execute(query).scalar())

    @staticmethod
    def _claim(conn: Connection, unit_id: str, now: datetime) -> None:
        claimed = conn.execute(
            update(patrol_units)
            .where(patrol_units.c.id == unit_id, patrol_units.c.duty_status == AVAILABLE)
            .values(duty_status=BUSY, updated_at=now)
        )
        if claimed.rowcount != 1:
            status = conn.execute(
                select(patrol_units.c.duty_status).where(patrol_units.c.id == unit_id)
            ).scalar_one_or_none()
            raise UnitUnavailable(unit_id, status)

    @staticmethod
    def _insert(conn: Connection, alert_id: int, order: Order, now: datetime) -> int:
        attempt = conn.execute(
            select(func.count()).select_from(dispatches).where(dispatches.c.alert_id == alert_id)
        ).scalar_one()
        result = conn.execute(
            insert(dispatches)
            .values(
                alert_id=alert_id,
                unit_id=order.unit_id,
                status=PENDING,
                attempt=int(attempt) + 1,
                auto=order.auto,
                distance_m=order.distance_m,
                eta_s=order.eta_s,
                note=order.note,
                dispatched_by=order.actor.name,
                created_at=now,
                ack_deadline=now + timedelta(seconds=order.ack_timeout_s),
                updated_at=now,
            )
            .returning(dispatches.c.id)
        )
        return int(result.scalar_one())

    # -- the officer's steps -------------------------------------------------------------------------

    def report(
        self, dispatch_id: int, unit_id: str, step: str, actor: Actor, reason: str | None = None
    ) -> Reported:
        """An officer of ``unit_id`` reports ``step`` (ack, on_scene, resolve, dismiss) on a dispatch."""
        sources, target, action = OFFICER_STEPS[step]
        now = datetime.now(UTC)
        with transactions.begin(self._engine) as conn:
            current = self._get(conn, dispatch_id)
            if current is None or current.unit_id != unit_id:
                raise DispatchNotFound(f"no dispatch {dispatch_id} for unit {unit_id}")
            if current.status == target:
                return Reported(current, None)  # a retry from a flaky phone: already done
            if current.status not in sources:
                raise DispatchClosed(current, step)
            done = move(
                conn,
                current.alert_id,
                action,
                actor,
                now,
                reason=reason,
                unit_id=unit_id,
                dispatch_id=dispatch_id,
            )
            values: dict[str, Any] = {"status": target, "updated_at": now}
            if current.acked_at is None:
                values.update(acked_at=now, acked_by=actor.user_id)
            if target in (RESOLVED, DISMISSED):
                values["closed_at"] = now
            changed = conn.execute(
                update(dispatches)
                .where(dispatches.c.id == dispatch_id, dispatches.c.status == current.status)
                .values(**values)
            )
            if changed.rowcount != 1:
                raise DispatchClosed(current, step)  # rolled back with the alert's move
            if target in (RESOLVED, DISMISSED):
                release_unit(conn, unit_id, now)
            after = self._get(conn, dispatch_id)
        assert after is not None
        return Reported(after, done)

    # -- acknowledgement timeouts --------------------------------------------------------------------

    def overdue(self, now: datetime, limit: int = 100) -> list[Dispatch]:
        query = (
            select(dispatches)
            .where(dispatches.c.status == PENDING, dispatches.c.ack_deadline <= now)
            .order_by(dispatches.c.ack_deadline)
            .limit(limit)
        )
        with transactions.connect(self._engine) as conn:
            return [Dispatch.from_row(row) for row in conn.execute(query)]

    def time_out(self, dispatch: Dispatch, actor: Actor) -> tuple[Dispatch, Transition] | None:
        """Mark an unacknowledged dispatch timed out (its unit is free); None if it was acknowledged or
        timed out by another replica meanwhile."""
        now = datetime.now(UTC)
        with transactions.begin(self._engine) as conn:
            changed = conn.execute(
                update(dispatches)
                .where(dispatches.c.id == dispatch.id, dispatches.c.status == PENDING)
                .values(status=TIMED_OUT, closed_at=now, updated_at=now)
            )
            if changed.rowcount != 1:
                return None
            release_unit(conn, dispatch.unit_id, now)
            done = move(
                conn,
                dispatch.alert_id,
                "dispatch_timeout",
                actor,
                now,
                reason="no acknowledgement in time",
                unit_id=dispatch.unit_id,
                dispatch_id=dispatch.id,
            )
            after = self._get(conn, dispatch.id)
        assert after is not None
        return after, done

    def give_back(self, alert_id: int, actor: Actor, reason: str) -> Transition | None:
        """No unit took the alert: back to operators, as ``acknowledged`` if a person had acknowledged it,
        else as ``new`` (so that it escalates). None if it moved on meanwhile."""
        now = datetime.now(UTC)
        with transactions.begin(self._engine) as conn:
            if active_dispatch(conn, alert_id) is not None:
                return None
            acknowledged = ever_acknowledged(conn, alert_id)
            action = "recall" if acknowledged else "requeue"
            try:
                return move(conn, alert_id, action, actor, now, reason=reason)
            except (IllegalTransition, AlertNotFound):
                return None

    # -- reading -------------------------------------------------------------------------------------

    def get(self, dispatch_id: int) -> Dispatch | None:
        with transactions.connect(self._engine) as conn:
            return self._get(conn, dispatch_id)

    @staticmethod
    def _get(conn: Connection, dispatch_id: int) -> Dispatch | None:
        row = conn.execute(select(dispatches).where(dispatches.c.id == dispatch_id)).first()
        return Dispatch.from_row(row) if row is not None else None

    def of_alert(self, alert_id: int) -> list[Dispatch]:
        query = select(dispatches).where(dispatches.c.alert_id == alert_id).order_by(dispatches.c.id)
        with transactions.connect(self._engine) as conn:
            return [Dispatch.from_row(row) for row in conn.execute(query)]

    def of_unit(self, unit_id: str, statuses: Collection[str] = ACTIVE, limit: int = 50) -> list[Dispatch]:
        query = (
            select(dispatches)
            .where(dispatches.c.unit_id == unit_id, dispatches.c.status.in_(sorted(statuses)))
            .order_by(dispatches.c.id.desc())
            .limit(limit)
        )
        with transactions.connect(self._engine) as conn:
            return [Dispatch.from_row(row) for row in conn.execute(query)]

    def tried_units(self, alert_id: int) -> set[str]:
        query = select(dispatches.c.unit_id).where(dispatches.c.alert_id == alert_id)
        with transactions.connect(self._engine) as conn:
            return {row.unit_id for row in conn.execute(query)}

    def undispatched(self, now: datetime, window_s: float, most_urgent: int, limit: int = 50) -> list[Alert]:
        """Open alerts (new or acknowledged) of priority ``most_urgent`` or more urgent, opened within
        ``window_s``, that no unit was ever sent to; the most urgent first."""
        with transactions.connect(self._engine) as conn:
            waiting = open_alerts(conn, now - timedelta(seconds=window_s), most_urgent)
            if not waiting:
                return []
            ids = [alert.id for alert in waiting]
            sent = set(
                conn.execute(select(dispatches.c.alert_id).where(dispatches.c.alert_id.in_(ids))).scalars()
            )
        return [alert for alert in waiting if alert.id not in sent][:limit]
