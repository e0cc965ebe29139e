"""What the HTTP API and the live feed show of an alert (one shape for both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from command_center.alerts.instructions import instruction_for
from command_center.alerts.store import Alert, StoredHit
from pipeline.contracts import AlertSummary, EvidenceLinks


class AlertView(AlertSummary):
    """The alert summary of a stored alert (``of``), as the API and the live feed show it."""

    @classmethod
    def of(cls, alert: Alert) -> AlertView:
        face = alert.kind == "face"
        return cls(
            id=alert.id,
            status=alert.status,
            kind=alert.kind,
            priority=alert.priority,
            camera_id=alert.camera_id,
            district=alert.district,
            profile_id=alert.profile_id,
            profile_name=alert.profile_name,
            category=alert.category,
            best_similarity=alert.best_similarity,
            first_seen=alert.first_seen,
            last_seen=alert.last_seen,
            hit_count=alert.hit_count,
            created_at=alert.created_at,
            updated_at=alert.updated_at,
            evidence=EvidenceLinks(
                crop=f"/alerts/{alert.id}/evidence/crop",
                scene=f"/alerts/{alert.id}/evidence/scene",
            ),
            profile_photo=f"/watchlist/profiles/{alert.profile_id}/photo" if face else None,
            vehicle=f"/vehicles/{alert.profile_id}" if alert.kind == "plate" else None,
            person=f"/persons/{alert.profile_id}" if alert.kind == "checkin" else None,
            details=alert.details,
            instruction=instruction_for(alert.category),
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
        return cls(
            hit_id=str(hit.hit_id),
            similarity=hit.similarity,
            detector_score=hit.detector_score,
            box=hit.box,
            frame_sent_at=hit.frame_sent_at,
            captured_at=hit.captured_at,
            received_at=hit.received_at,
            worker_id=hit.worker_id,
            timings=hit.timings,
            track_id=hit.track_id,
            details=hit.details,
        )


class AlertPage(BaseModel):
    alerts: list[AlertView]
    next_before_id: int | None
