"""Message contracts: one pydantic model per NATS subject.

Every message carries ``schema_version``, ``event_id`` and ``emitted_at``; camera-scoped messages carry
``camera_id``. Binary evidence (JPEG crops) travels base64-encoded inside JSON; frames never do.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    # bytes fields hold raw bytes in Python and travel as base64 in JSON.
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    schema_version: int = SCHEMA_VERSION
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    emitted_at: datetime = Field(default_factory=utcnow)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls.model_validate_json(data)


class Box(BaseModel):
    """Axis-aligned box in pixels of the full frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: float
    y: float
    w: float = Field(ge=0)
    h: float = Field(ge=0)


class StageTimings(BaseModel):
    """Milliseconds spent in each worker stage for the frame that produced a hit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decode_ms: float = 0.0
    queue_ms: float = 0.0
    detect_ms: float = 0.0
    embed_ms: float = 0.0
    match_ms: float = 0.0
    encode_ms: float = 0.0


class FaceHit(Message):
    """A face in a camera frame that matched a watchlist profile at or above the threshold."""

    camera_id: str
    worker_id: str
    frame_seq: int | None = Field(None, description="camera_sim frame number, when the stream carries it")
    frame_sent_at: datetime | None = Field(None, description="When the camera sent the frame, if known")
    captured_at: datetime = Field(description="When the worker received the frame")
    box: Box
    landmarks: list[tuple[float, float]] = Field(min_length=5, max_length=5)
    detector_score: float = Field(ge=0, le=1)
    similarity: float = Field(ge=-1, le=1)
    threshold: float = Field(ge=0, le=1)
    profile_id: int
    profile_name: str
    category: str
    embedder_model: str
    crop_jpeg: bytes
    scene_jpeg: bytes
    timings: StageTimings = Field(default_factory=StageTimings)

    @property
    def hit_id(self) -> uuid.UUID:
        return self.event_id


class FrameSent(Message):
    """camera_sim sent a frame to its RTSP clients (published for latency measurement)."""

    camera_id: str
    seq: int = Field(ge=0, description="Frame number since the simulator started, across loops")
    loop: int = Field(ge=0)
    sent_at_ns: int = Field(description="Unix time in nanoseconds when the frame was handed to RTSP")


class WatchlistChange(Message):
    """A profile was enrolled, changed or removed; workers update their FAISS index."""

    action: Literal["upsert", "remove"]
    profile_id: int
    name: str = ""
    category: str = ""
    embedding_ids: list[int] = Field(default_factory=list)
    embeddings: list[list[float]] = Field(default_factory=list)
    revision: int = Field(0, ge=0, description="Watchlist revision after this change")
    expires_at: datetime | None = Field(
        None, description="When the entry's legal basis lapses; workers stop matching it from then on"
    )


class AlertEvent(Message):
    """An alert was created or updated; fanned out to every operator's WebSocket."""

    kind: Literal["created", "updated"]
    alert_id: int
    camera_id: str
    alert: dict[str, object] = Field(description="The alert as GET /alerts/{id} returns it")


class SessionRevoked(Message):
    """Staff credentials stopped being valid (logout, disabled account, changed role or districts).

    Every command-centre replica closes the live connections (WebSockets) that were opened with them.
    ``session_id`` names one session; ``user_id`` alone means every session of that account.
    """

    user_id: int | None = Field(None, ge=1)
    session_id: str | None = Field(None, min_length=1, max_length=64)
    reason: Literal["logout", "disabled", "role_changed", "districts_changed", "refresh_reused"]

    @model_validator(mode="after")
    def _names_someone(self) -> Self:
        if self.user_id is None and self.session_id is None:
            raise ValueError("a revocation names a user_id, a session_id or both")
        return self


class CameraStats(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: str
    connected: bool
    frames_decoded: int
    frames_analysed: int
    frames_dropped: int
    reconnects: int
    faces_detected: int
    hits_published: int
    last_frame_at: datetime | None


class WorkerHeartbeat(Message):
    worker_id: str
    cameras: list[CameraStats]
