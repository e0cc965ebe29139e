"""Telling everyone about a lifecycle step: operators (AlertEvent on the live feed), supervisors
(``escalated`` events marked ``audience: supervisors``, also on ``alert_escalations()`` for notification
gateways), and the audit trail for steps the policy took itself.

Both announcements are best effort (core NATS: a console that is not connected misses them). What makes
an escalation durable is its row in ``alert_escalations``: a supervisor who signs in later finds every
escalated alert still unacknowledged at ``GET /alerts/escalations``.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal

from nats.aio.client import Client as NATS

from command_center.alerts.lifecycle import Transition
from command_center.alerts.store import Alert, AlertStore
from command_center.alerts.views import AlertView
from command_center.security.audit import AuditTrail
from pipeline.adapters import transactions
from pipeline.contracts import AlertChange, AlertEscalated, AlertEvent, EscalationInfo
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

EventKind = Literal["updated", "escalated", "dispatch_timeout"]


def alert_target(alert_id: int) -> str:
    """How the audit trail names an alert."""
    return f"alert:{alert_id}"


def change_of(transition: Transition) -> AlertChange:
    return AlertChange(
        action=transition.action,
        from_status=transition.from_status,
        to_status=transition.to_status,
        actor=transition.actor,
        at=transition.at,
        reason=transition.reason,
        unit_id=transition.unit_id,
        dispatch_id=transition.dispatch_id,
    )


class Announcer:
    def __init__(self, nc: NATS, names: Subjects, alerts: AlertStore, audit: AuditTrail) -> None:
        self._nc = nc
        self._names = names
        self._alerts = alerts
        self._audit = audit

    async def alert(self, alert_id: int) -> Alert | None:
        return await asyncio.to_thread(self._alerts.get_alert, alert_id)

    async def step(
        self, transition: Transition, kind: EventKind = "updated", escalation: EscalationInfo | None = None
    ) -> Alert | None:
        """Publish the alert as it is now, with the step that changed it; the alert (None if gone)."""
        alert = await self.alert(transition.alert_id)
        if alert is None:
            return None
        event = AlertEvent(
            kind=kind,
            alert_id=alert.id,
            camera_id=alert.camera_id,
            alert=AlertView.of(alert),
            change=change_of(transition),
            audience="supervisors" if escalation is not None else "all",
            escalation=escalation,
        )
        await self._publish(self._names.alert_events(), event.to_bytes(), alert.id)
        return alert

    async def escalated(self, transition: Transition, priority: int, waited_s: float, limit_s: float) -> None:
        why = EscalationInfo(
            priority=priority, waited_s=waited_s, limit_s=limit_s, escalated_at=transition.at
        )
        alert = await self.step(transition, "escalated", why)
        if alert is None:
            return
        notice = AlertEscalated(
            alert_id=alert.id,
            camera_id=alert.camera_id,
            district=alert.district,
            category=alert.category,
            priority=priority,
            waited_s=waited_s,
            alert=AlertView.of(alert),
        )
        await self._publish(self._names.alert_escalations(), notice.to_bytes(), alert.id)

    def unit(self) -> AbstractAsyncContextManager[transactions.Unit]:
        """A policy step, its audit entry and its announcements: announced once both are committed."""
        return self._audit.unit_async()

    async def _publish(self, subject: str, data: bytes, alert_id: int) -> None:
        async def send() -> None:
            try:
                await self._nc.publish(subject, data)
            except Exception as exc:
                # The step is stored; operators see it on their next reload.
                log.warning("could not announce a lifecycle step of alert %s: %s", alert_id, exc)

        await transactions.when_committed(send)  # consoles read the alert once told

    async def audit_policy(
        self,
        transition: Transition,
        action: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record a step the command centre took by policy (no person), as the system actor."""
        await asyncio.to_thread(
            self._audit.record,
            transition.actor,
            action,
            alert_target(transition.alert_id),
            reason=reason or transition.reason,
            details={"from": transition.from_status, "to": transition.to_status, **(details or {})},
        )
