"""A camera as configured: its streams, place, analytics and its overrides of the worker's settings."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from pipeline.kinds import HitKind
from pipeline.settings.base import Strict
from pipeline.settings.plates import check_country_codes

CAMERA_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
CAMERA_ID_RE = re.compile(CAMERA_ID_PATTERN)


Analytic = HitKind  # what a camera is analysed for: the kinds of hit it can raise


class CameraConfig(Strict):
    id: str = Field(description="Camera id: letters, digits, '-' and '_' (used in NATS subjects).")
    name: str = Field("", description="Human-readable name shown to operators.")
    url: str = Field(
        description="RTSP URL of the camera's main stream: analysed, unless analysis_url names a "
        "sub-stream, and the source of a hit's evidence images either way."
    )
    analysis_url: str | None = Field(
        None,
        description="RTSP URL of a sub-stream of the same camera (same view, lower resolution or frame "
        "rate) to analyse instead of the main stream: a 4K camera costs the worker what its sub-stream "
        "costs to decode. A hit's face crop and scene are then taken from the main stream's frame of the "
        "same instant (worker.streams.evidence_wait_s).",
    )
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    district: str = Field("", description="Administrative area; used for routing alerts.")
    analysis_fps: float | None = Field(None, gt=0, le=60, description="Overrides worker.analysis_fps.")
    face_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Raises the face threshold on this camera above every list's own (a camera with a "
        "record of false alerts, poor light); never lowers one.",
    )
    min_face_px: int | None = Field(
        None,
        ge=8,
        le=1000,
        description="Side (pixels of the camera's image) of the smallest face this camera must find; "
        "frames are detected at the size that makes such a face the detector's own smallest (16 px), "
        "which costs less the larger it is. null: recognition.min_face_px, the smallest face analysed. "
        "Raise it for a camera that sees people only from close by.",
    )
    analytics: list[Analytic] = Field(
        default_factory=lambda: list[Analytic](["face"]),
        min_length=1,
        description="What the worker looks for on this camera: faces (watchlist), plates (ANPR), or both.",
    )
    plate_countries: list[str] | None = Field(
        None,
        description="Countries whose plates this camera expects (codes as in plates.countries); null: the "
        "global plates.countries; []: region-free on this camera. Other plates are still read.",
    )

    @field_validator("analytics")
    @classmethod
    def _no_repeats(cls, value: list[Analytic]) -> list[Analytic]:
        if len(set(value)) != len(value):
            raise ValueError(f"analytics lists each of face, plate at most once, not {value}")
        return value

    @field_validator("plate_countries")
    @classmethod
    def _country_codes(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_country_codes(value)

    @field_validator("id")
    @classmethod
    def _id_is_token(cls, value: str) -> str:
        if not CAMERA_ID_RE.match(value):
            raise ValueError(f"camera id {value!r} must match {CAMERA_ID_PATTERN}")
        return value

    @field_validator("url", "analysis_url")
    @classmethod
    def _url_is_rtsp(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("rtsp://", "rtsps://")):
            raise ValueError(f"camera url {value!r} must be an rtsp:// URL")
        return value

    @model_validator(mode="after")
    def _sub_stream_is_another(self) -> CameraConfig:
        if self.analysis_url == self.url:
            raise ValueError("analysis_url names the main stream itself; leave it out to analyse url")
        return self

    @property
    def analysed_url(self) -> str:
        """The stream the worker decodes and analyses."""
        return self.analysis_url or self.url
