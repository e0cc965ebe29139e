"""A face hit's sharper images, arriving after the hit: put on its alert in place, never a new alert.

A camera analysed on its sub-stream publishes a hit at once with the sub-stream's images and sends the
main stream's crop and scene of the same instant afterwards (``FaceEvidence``, naming the hit). The rule:

* the images go on the alert that stored the hit, and only while that alert shows the hit's own images
  (``details.evidence_hit_id``, set by the store whenever it stores a hit's images): a better sighting
  that replaced them since is not overwritten by an older one's sharper picture;
* the alert's similarity, sightings and status do not change; ``details.evidence`` says where the images
  now come from, and ``updated_at`` moves so that consoles fetch them again;
* the same update twice changes nothing the second time (JetStream redelivers after a crash);
* an update for a hit the store does not have (its alert purged, or the hit not stored yet) or whose
  images were purged with a closed alert's changes nothing either: the caller logs and drops it.

Stored in one transaction with its audit entry (the images' hashes, as ``alert.evidence`` always records).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, func, select, update

from command_center.alerts.tables import alert_evidence, alert_hits, alerts
from command_center.security import evidence
from command_center.security.audit import AuditTrail
from pipeline.contracts import FaceEvidence

SHOWN_HIT = "evidence_hit_id"  # the alert's details: the sighting whose images the alert shows
UPDATE_ACTOR = "system:hits"  # as the hit consumer stores every alert's images
IMAGES = ("crop", "scene")

Result = Literal["applied", "duplicate", "unknown", "superseded", "purged"]


@dataclass(frozen=True, slots=True)
class EvidenceOutcome:
    result: Result
    alert_id: int | None = None

    @property
    def changed(self) -> bool:
        return self.result == "applied"


def shown(details: dict[str, Any] | None, hit_id: object) -> dict[str, Any]:
    """An alert's details once it shows the images of hit ``hit_id``."""
    return {**(details or {}), SHOWN_HIT: str(hit_id)}


def apply(conn: Connection, update_: FaceEvidence, audit: AuditTrail | None) -> EvidenceOutcome:
    """Put the update's images on its hit's alert (within the caller's transaction, which must hold the
    audit chain's lock: ``AuditTrail.lock``)."""
    query = (
        select(alerts.c.id, alerts.c.kind, alerts.c.details, alert_hits.c.details.label("hit_details"))
        .join(alert_hits, alert_hits.c.alert_id == alerts.c.id)
        .where(alert_hits.c.hit_id == update_.hit_id)
        .with_for_update(of=alerts)
    )
    row = conn.execute(query).first()
    if row is None or row.kind != "face":
        return EvidenceOutcome("unknown")
    alert_id, details = int(row.id), dict(row.details or {})
    if details.get(SHOWN_HIT) != str(update_.hit_id):
        return EvidenceOutcome("superseded", alert_id)
    source = update_.evidence.model_dump(mode="json")
    if details.get("evidence") == source:
        return EvidenceOutcome("duplicate", alert_id)
    kept = select(func.count()).where(alert_evidence.c.alert_id == alert_id)
    if conn.execute(kept).scalar_one() < len(IMAGES):  # the retention purged a closed alert's images
        return EvidenceOutcome("purged", alert_id)
    now = datetime.now(UTC)
    for kind, jpeg in zip(IMAGES, (update_.crop_jpeg, update_.scene_jpeg), strict=True):
        conn.execute(
            update(alert_evidence)
            .where(alert_evidence.c.alert_id == alert_id, alert_evidence.c.kind == kind)
            .values(jpeg=jpeg, updated_at=now)
        )
    conn.execute(
        update(alerts)
        .where(alerts.c.id == alert_id)
        .values(details={**details, "evidence": source}, updated_at=now)
    )
    conn.execute(
        update(alert_hits)
        .where(alert_hits.c.hit_id == update_.hit_id)
        .values(details={**(row.hit_details or {}), "evidence": source})
    )
    if audit is not None:
        _audit(conn, audit, alert_id, update_)
    return EvidenceOutcome("applied", alert_id)


def _audit(conn: Connection, audit: AuditTrail, alert_id: int, update_: FaceEvidence) -> None:
    """The images the alert now shows, by their hashes, in the chain with the change that stored them."""
    hashes = {
        evidence.ref("alert_crop", alert_id): evidence.sha256(update_.crop_jpeg),
        evidence.ref("alert_scene", alert_id): evidence.sha256(update_.scene_jpeg),
    }
    details = {"evidence": hashes, "hit_id": str(update_.hit_id), "kind": "face", "stream": "main"}
    audit.record_in(conn, UPDATE_ACTOR, "alert.evidence", f"alert:{alert_id}", details=details)
