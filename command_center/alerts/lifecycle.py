"""The alert lifecycle: a state machine over ``alerts.status``, every step stored in ``alert_transitions``.

::

    new           → acknowledged, dispatched, dismissed
    acknowledged  → dispatched, dismissed
    dispatched    → dispatched (another unit), on_scene, resolved, dismissed
    on_scene      → resolved, dismissed
    (dismissing is a false-positive verdict: it needs a reason)

``resolved`` (confirmed) and ``dismissed`` (false positive) are final. An officer on scene who finds
the wrong person dismisses too: that is where most false positives are found. Policy steps: ``escalate``
(new stays new; recorded once per alert), ``recall`` / ``requeue`` (no unit acknowledged and none is
left: back to ``acknowledged``, or to ``new`` if no person ever acknowledged it).

A move is a compare-and-set: ``UPDATE alerts SET status = :to WHERE id = :id AND status = :from``. Of two
operators (or replicas) acting at once, one wins and the other is told the alert's current status
and what it may still become (409).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from command_center.alerts.lifecycle_tables import alert_escalations, alert_transitions
from command_center.alerts.store import Alert
from command_center.alerts.tables import alerts
from command_center.dispatch.records import Dispatch, close_active
from pipeline.adapters import transactions
from pipeline.adapters.database import as_utc
from pipeline.adapters.migrations import upgrade

NEW = "new"
ACKNOWLEDGED = "acknowledged"
DISPATCHED = "dispatched"
ON_SCENE = "on_scene"
RESOLVED = "resolved"
DISMISSED = "dismissed"
STATUSES = (NEW, ACKNOWLEDGED, DISPATCHED, ON_SCENE, RESOLVED, DISMISSED)
FINAL = frozenset({RESOLVED, DISMISSED})
OPEN = frozenset({NEW, ACKNOWLEDGED, DISPATCHED, ON_SCENE})


@dataclass(frozen=True, slots=True)
class Rule:
    sources: frozenset[str]
    target: str
    by_people: bool = True  # False: only policy (the command centre itself) takes this step


RULES: dict[str, Rule] = {
    "acknowledge": Rule(frozenset({NEW}), ACKNOWLEDGED),
    "dispatch": Rule(frozenset({NEW, ACKNOWLEDGED, DISPATCHED}), DISPATCHED),
    "dispatch_ack": Rule(frozenset({DISPATCHED}), DISPATCHED),  # the unit confirmed it is on its way
    "on_scene": Rule(frozenset({DISPATCHED}), ON_SCENE),
    "resolve": Rule(frozenset({DISPATCHED, ON_SCENE}), RESOLVED),
    "dismiss": Rule(frozenset({NEW, ACKNOWLEDGED, DISPATCHED, ON_SCENE}), DISMISSED),
    "escalate": Rule(frozenset({NEW}), NEW, by_people=False),
    "dispatch_timeout": Rule(frozenset({DISPATCHED}), DISPATCHED, by_people=False),
    "recall": Rule(frozenset({DISPATCHED}), ACKNOWLEDGED, by_people=False),
    "requeue": Rule(frozenset({DISPATCHED}), NEW, by_people=False),
}
_CAS_RETRIES = 5


def allowed_next(status: str) -> list[str]:
    """The statuses people can move an alert to from ``status`` (empty for a final one)."""
    targets = {r.target for r in RULES.values() if r.by_people and status in r.sources and r.target != status}
    if status == DISPATCHED:
        targets.add(DISPATCHED)  # another unit
    return [s for s in STATUSES if s in targets]


class AlertNotFound(LookupError):
    pass


class IllegalTransition(Exception):
    """The alert's current status does not allow this step; ``allowed`` says what it does allow."""

    def __init__(self, alert_id: int, action: str, current: str) -> None:
        self.alert_id = alert_id
        self.action = action
        self.current = current
        self.allowed = allowed_next(current)
        target = RULES[action].target
        options = ", ".join(self.allowed) if self.allowed else "nothing (the alert is closed)"
        super().__init__(
            f"alert {alert_id} is {current}: it cannot be moved to {target} ({action}); "
            f"from {current} it can go to: {options}"
        )

    def as_detail(self) -> dict[str, Any]:
        return {
            "message": str(self),
            "alert_id": self.alert_id,
            "action": self.action,
            "status": self.current,
            "allowed_next": self.allowed,
        }


@dataclass(frozen=True, slots=True)
class Actor:
    """Who took a step: a member of staff, or the command centre's policy (``system:<what>``)."""

    name: str
    user_id: int | None = None
    role: str | None = None

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls(f"system:{what}")


@dataclass(frozen=True, slots=True)
class Transition:
    id: int
    alert_id: int
    action: str
    from_status: str
    to_status: str
    actor: str
    actor_id: int | None
    role: str | None
    reason: str | None
    unit_id: str | None
    dispatch_id: int | None
    at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Transition:
        data = dict(row._mapping)
        data["at"] = as_utc(data["at"])
        return cls(**data)


def move(
    conn: Connection,
    alert_id: int,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    reason: str | None = None,
    unit_id: str | None = None,
    dispatch_id: int | None = None,
) -> Transition:
    """Take one step inside the caller's transaction; IllegalTransition / AlertNotFound otherwise."""
    from_status = compare_and_set(conn, alert_id, action, now)
    target = RULES[action].target
    return record(conn, alert_id, action, from_status, target, actor, now, reason, unit_id, dispatch_id)


def compare_and_set(conn: Connection, alert_id: int, action: str, now: datetime) -> str:
    """Move the alert's status by ``action``'s rule; the status it had. On PostgreSQL this also locks the
    alert's row until the transaction ends, which serialises everything else done to the alert."""
    rule = RULES[action]
    current: str | None = None
    for _ in range(_CAS_RETRIES):
        found = conn.execute(select(alerts.c.status).where(alerts.c.id == alert_id)).scalar_one_or_none()
        if found is None:
            raise AlertNotFound(f"no alert {alert_id}")
        current = str(found)
        if current not in rule.sources:
            raise IllegalTransition(alert_id, action, current)
        changed = conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id, alerts.c.status == current)
            .values(status=rule.target, updated_at=now)
        )
        if changed.rowcount == 1:
            return current
    raise IllegalTransition(alert_id, action, str(current))  # it kept changing under us


def record(
    conn: Connection,
    alert_id: int,
    action: str,
    from_status: str,
    to_status: str,
    actor: Actor,
    now: datetime,
    reason: str | None,
    unit_id: str | None,
    dispatch_id: int | None,
) -> Transition:
    values: dict[str, Any] = {
        "alert_id": alert_id,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "actor": actor.name,
        "actor_id": actor.user_id,
        "role": actor.role,
        "reason": reason,
        "unit_id": unit_id,
        "dispatch_id": dispatch_id,
        "at": now,
    }
    new_id = conn.execute(insert(alert_transitions).values(**values).returning(alert_transitions.c.id))
    return Transition(id=int(new_id.scalar_one()), **values)


@dataclass(frozen=True, slots=True)
class Escalation:
    """An escalated alert, with how long it had waited when the policy escalated it."""

    alert: Alert
    waited_s: float
    escalated_at: datetime


@dataclass(frozen=True, slots=True)
class Step:
    transition: Transition
    closed: Dispatch | None = None  # the dispatch this step ended (its officers are told)


class LifecycleStore:
    """SQL of transitions and escalations. Synchronous: call it from a worker thread in async code."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self._engine)

    def transition(self, alert_id: int, action: str, actor: Actor, *, reason: str | None = None) -> Step:
        """An operator's step; resolving or dismissing also ends the unit's dispatch (the unit is free)."""
        now = datetime.now(UTC)
        with transactions.begin(self._engine) as conn:
            done = move(conn, alert_id, action, actor, now, reason=reason)
            closed = None
            if done.to_status in FINAL:
                closed = close_active(conn, alert_id, done.to_status, now)
        return Step(done, closed)

    def history(self, alert_id: int, limit: int = 500) -> list[Transition]:
        """The alert's steps, oldest first."""
        query = (
            select(alert_transitions)
            .where(alert_transitions.c.alert_id == alert_id)
            .order_by(alert_transitions.c.id)
            .limit(limit)
        )
        with transactions.connect(self._engine) as conn:
            return [Transition.from_row(row) for row in conn.execute(query)]

    def escalated_at(self, alert_id: int) -> datetime | None:
        query = select(alert_escalations.c.escalated_at).where(alert_escalations.c.alert_id == alert_id)
        with transactions.connect(self._engine) as conn:
            found = conn.execute(query).scalar_one_or_none()
        return as_utc(found) if found is not None else None

    # -- policy scans --------------------------------------------------------------------------------

    def waiting(
        self, now: datetime, horizon_s: float, priority: int, older_than_s: float, limit: int = 200
    ) -> list[Alert]:
        """Alerts of ``priority`` still ``new``, opened within the horizon and at least ``older_than_s``
        ago, not yet escalated; oldest first. (Per priority, so that a backlog of routine alerts never
        hides an urgent one.)"""
        query = (
            select(alerts)
            .outerjoin(alert_escalations, alert_escalations.c.alert_id == alerts.c.id)
            .where(
                alerts.c.status == NEW,
                alerts.c.priority == priority,
                alerts.c.requires_ack.is_(True),
                alerts.c.created_at >= now - timedelta(seconds=horizon_s),
                alerts.c.created_at <= now - timedelta(seconds=older_than_s),
                alert_escalations.c.alert_id.is_(None),
            )
            .order_by(alerts.c.created_at)
            .limit(limit)
        )
        with transactions.connect(self._engine) as conn:
            return [Alert.from_row(row) for row in conn.execute(query)]

    def escalate(self, alert_id: int, priority: int, waited_s: float, limit_s: float) -> Transition | None:
        """Escalate once: None if the alert was acknowledged meanwhile or another replica escalated it."""
        now = datetime.now(UTC)
        why = f"unacknowledged for {waited_s:.0f} s; priority {priority} escalates after {limit_s:g} s"
        try:
            with transactions.begin(self._engine) as conn:
                conn.execute(
                    insert(alert_escalations).values(
                        alert_id=alert_id, priority=priority, waited_s=waited_s, escalated_at=now
                    )
                )
                return move(conn, alert_id, "escalate", Actor.system("escalation"), now, reason=why)
        except (IntegrityError, IllegalTransition, AlertNotFound):
            return None

    def escalations(
        self,
        districts: Collection[str] | None = None,
        *,
        priority: int | None = None,
        limit: int = 100,
    ) -> list[Escalation]:
        """Escalated alerts still waiting for an acknowledgement (status ``new``): the supervisors' queue,
        most urgent priority first, then longest waiting. ``districts`` limits to those (None: all)."""
        query = (
            select(alerts)
            .join(alert_escalations, alert_escalations.c.alert_id == alerts.c.id)
            .where(alerts.c.status == NEW)
            .order_by(alerts.c.priority, alerts.c.created_at, alerts.c.id)
            .limit(limit)
        )
        if districts is not None:
            query = query.where(alerts.c.district.in_(sorted(districts)))
        if priority is not None:
            query = query.where(alerts.c.priority == priority)
        with transactions.connect(self._engine) as conn:
            waiting = [Alert.from_row(row) for row in conn.execute(query)]
            rows = conn.execute(
                select(alert_escalations).where(alert_escalations.c.alert_id.in_([a.id for a in waiting]))
            )
            escalated = {row.alert_id: (float(row.waited_s), as_utc(row.escalated_at)) for row in rows}
        return [Escalation(alert, *escalated[alert.id]) for alert in waiting if alert.id in escalated]


def ever_acknowledged(conn: Connection, alert_id: int) -> bool:
    """Whether a person ever acknowledged the alert (its history, whatever its status now)."""
    found = conn.execute(
        select(alert_transitions.c.id)
        .where(alert_transitions.c.alert_id == alert_id, alert_transitions.c.to_status == ACKNOWLEDGED)
        .limit(1)
    ).first()
    return found is not None


def open_alerts(conn: Connection, since: datetime, most_urgent: int) -> list[Alert]:
    """Alerts still waiting for someone (new or acknowledged), of priority ``most_urgent`` or more urgent,
    opened since ``since``; the most urgent first."""
    query = (
        select(alerts)
        .where(
            alerts.c.status.in_([NEW, ACKNOWLEDGED]),
            alerts.c.priority <= most_urgent,
            alerts.c.created_at >= since,
        )
        .order_by(alerts.c.priority, alerts.c.id)
    )
    return [Alert.from_row(row) for row in conn.execute(query)]
