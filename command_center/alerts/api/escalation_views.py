"""What ``GET /alerts/escalations`` answers: the supervisors' queue of escalated alerts nobody has
acknowledged yet, with how long each has been waiting against its priority's limit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from command_center.alerts.lifecycle import Escalation
from command_center.alerts.views import AlertView
from pipeline.settings.dispatch import DispatchSettings


class EscalationView(BaseModel):
    model_config = ConfigDict(frozen=True)

    alert: AlertView
    priority: int = Field(description="1 is the most urgent")
    escalated_at: datetime
    waited_s: float = Field(description="Seconds since the alert opened, still unacknowledged")
    waited_at_escalation_s: float = Field(description="Seconds it had waited when it escalated")
    limit_s: float | None = Field(
        description="The priority's configured limit (escalate_after_s); null if no longer configured"
    )

    @classmethod
    def of(cls, escalation: Escalation, now: datetime, settings: DispatchSettings) -> EscalationView:
        alert = escalation.alert
        return cls(
            alert=AlertView.of(alert),
            priority=alert.priority,
            escalated_at=escalation.escalated_at,
            waited_s=round(max((now - alert.created_at).total_seconds(), 0.0), 1),
            waited_at_escalation_s=round(escalation.waited_s, 1),
            limit_s=settings.escalate_after_s.get(alert.priority),
        )


class EscalationPage(BaseModel):
    escalations: list[EscalationView] = Field(
        description="Most urgent priority first, then longest waiting; acknowledging one removes it"
    )
