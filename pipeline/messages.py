"""The envelope every message shares (schema version, event id, emission time) and the small value types
hits and notices carry (a box in the frame, the worker's stage timings)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

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
    quality_ms: float = 0.0
    track_ms: float = 0.0
    vote_ms: float = 0.0
