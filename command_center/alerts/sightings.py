"""One shape for every kind of hit the alert store groups into episodes: a face or a hotlisted plate.

A face hit's subject is a watchlist profile; a plate hit's subject is a vehicle hotlist entry. Each kind
keeps what is particular to it in ``details`` (the track's vote, the plate read and how it matched).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.contracts import FaceHit, Hit, PlateHit
from pipeline.kinds import AlertKind

SightingKind = AlertKind  # checkin: a CRO person's CNIC at a hotel


@dataclass(frozen=True, slots=True)
class Sighting:
    hit_id: uuid.UUID
    kind: SightingKind
    camera_id: str
    worker_id: str
    subject_id: int  # watchlist profile id (face) or hotlist entry id (plate)
    subject_name: str  # the person's name, or the plate as registered
    category: str  # the profile's category, or "vehicle:<status>"
    score: float  # similarity (face) or match score (plate)
    detector_score: float
    box: dict[str, float]
    frame_sent_at: datetime | None
    captured_at: datetime
    timings: dict[str, float]
    crop_jpeg: bytes
    scene_jpeg: bytes
    track_id: int | None = None
    priority: int | None = None  # None: the category's configured priority
    district: str | None = None  # None: the camera's district from the configuration
    details: dict[str, Any] = field(default_factory=dict)
    watch_list_id: int | None = None  # a face: the watch list it matched through
    requires_ack: bool = True  # False: the list wants no acknowledgement, so no escalation

    @property
    def episode_key(self) -> str:
        return f"{self.kind}:{self.subject_id}:{self.camera_id}"

    @classmethod
    def of(cls, hit: Hit) -> Sighting:
        """The sighting of a hit of any kind; TypeError for a kind with no conversion (never guessed)."""
        if isinstance(hit, FaceHit):
            return cls.of_face(hit)
        if isinstance(hit, PlateHit):
            return cls.of_plate(hit)
        raise TypeError(f"no sighting for a {type(hit).__name__}")

    @classmethod
    def of_face(cls, hit: FaceHit) -> Sighting:
        decision = getattr(hit, "decision", None)
        details: dict[str, Any] = {"threshold": hit.threshold, "embedder": hit.embedder_model}
        if decision is not None:
            details["decision"] = decision.model_dump(mode="json")
        if hit.watch_list_id is not None:
            details["watch_list"] = {"id": hit.watch_list_id, "name": hit.watch_list_name}
        if hit.evidence is not None:
            details["evidence"] = hit.evidence.model_dump(mode="json")
        return cls(
            hit_id=hit.hit_id,
            kind="face",
            camera_id=hit.camera_id,
            worker_id=hit.worker_id,
            subject_id=hit.profile_id,
            subject_name=hit.profile_name,
            category=hit.category,
            score=hit.similarity,
            detector_score=hit.detector_score,
            box=hit.box.model_dump(),
            frame_sent_at=hit.frame_sent_at,
            captured_at=hit.captured_at,
            timings=hit.timings.model_dump(),
            crop_jpeg=hit.crop_jpeg,
            scene_jpeg=hit.scene_jpeg,
            track_id=getattr(hit, "track_id", None),
            priority=hit.priority,
            details=details,
            watch_list_id=hit.watch_list_id,
            requires_ack=hit.requires_ack,
        )

    @classmethod
    def of_plate(cls, hit: PlateHit) -> Sighting:
        return cls(
            hit_id=hit.hit_id,
            kind="plate",
            camera_id=hit.camera_id,
            worker_id=hit.worker_id,
            subject_id=hit.entry_id,
            subject_name=hit.plate_display,
            category=f"vehicle:{hit.status}",
            score=hit.match_score,
            detector_score=hit.detector_score,
            box=hit.box.model_dump(),
            frame_sent_at=hit.frame_sent_at,
            captured_at=hit.captured_at,
            timings=hit.timings.model_dump(),
            crop_jpeg=hit.crop_jpeg,
            scene_jpeg=hit.scene_jpeg,
            track_id=hit.track_id,
            priority=hit.priority,
            details={
                "read_id": str(hit.read_id),
                "read_text": hit.read_text,
                "read_display": hit.read_display,
                "read_confidence": hit.read_confidence,
                "match_kind": hit.match_kind,
                "plate": hit.plate,
                "status": hit.status,
                "reason": hit.reason,
                "case_reference": hit.case_reference,
            },
        )
