"""What the HTTP API and the live feed show of an alert (one shape for both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from command_center.alerts import kinds
from command_center.alerts.instructions import instruction_for
from command_center.alerts.store import Alert, HitOutcome, StoredHit
from pipeline.contracts import AlertEvent, AlertSummary, EvidenceLinks
from pipeline.types import fields_of


class AlertView(AlertSummary):
    """The alert summary of a stored alert (``of``), as the API and the live feed show it."""

    @classmethod
    def of(cls, alert: Alert) -> AlertView:
        return cls.model_validate(
            {
                **fields_of(alert),
                "evidence": EvidenceLinks(
                    crop=f"/alerts/{alert.id}/evidence/crop", scene=f"/alerts/{alert.id}/evidence/scene"
                ),
                "instruction": instruction_for(alert.category),
                **kinds.described(alert),  # the links and what it was matched against, by kind
            }
        )


class HitView(BaseModel):
    model_config = ConfigDict(frozen=True)

    hit_id: str
    similarity: float
    detector_score: float
    box: dict[str, float]
    frame_sent_at: datetime | None
    captured_at: datetime
    received_at: datetime
    worker_id: str
    timings: dict[str, float]
    track_id: int | None
    details: dict[str, Any] | None

    @classmethod
    def of(cls, hit: StoredHit) -> HitView:
        return cls.model_validate({**fields_of(hit), "hit_id": str(hit.hit_id)})


class AlertPage(BaseModel):
    alerts: list[AlertView]
    next_before_id: int | None


def stored_event(outcome: HitOutcome) -> AlertEvent:
    """The event announcing a stored hit on ``alert_events()``: its alert created, or updated."""
    return AlertEvent(
        kind="created" if outcome.created else "updated",
        alert_id=outcome.alert.id,
        camera_id=outcome.alert.camera_id,
        alert=AlertView.of(outcome.alert),
    )
