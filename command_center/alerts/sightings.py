"""One shape for every kind of hit the alert store groups into episodes: a face or a hotlisted plate.

A face hit's subject is a watchlist profile; a plate hit's subject is a vehicle hotlist entry. Each kind
keeps what is particular to it in ``details`` (the track's vote, the plate read and how it matched); how
a hit of a kind becomes a sighting is in that kind's module (``command_center/alerts/kinds``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
