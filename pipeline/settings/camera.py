"""A camera as configured: its streams, place, analytics and its overrides of the worker's settings."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from pipeline.camera_credentials import REDACTED, StreamAddress, check_password_ref, check_stream_url
from pipeline.kinds import HitKind
from pipeline.settings.base import Strict
from pipeline.settings.plates import check_country_codes

CAMERA_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
CAMERA_ID_RE = re.compile(CAMERA_ID_PATTERN)


Analytic = HitKind  # what a camera is analysed for: the kinds of hit it can raise


class CameraConfig(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

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
    username: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="User the worker logs in to the camera as (both streams); null: no login.",
    )
    password: SecretStr | None = Field(
        None,
        description="The login's password itself: settings file or environment only, never the shared "
        "catalogue (use password_ref there). Any characters; the worker percent-encodes it.",
    )
    password_ref: str | None = Field(
        None,
        description="Where each worker reads the password at every connection: env:NAME (an environment "
        "variable) or file:PATH (a secrets file). The form the camera catalogue stores.",
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
        description="What the worker looks for on this camera, one or more kinds of hit "
        "(pipeline.kinds.HitKind; each analysed by workers/kinds/<kind>.py), e.g. face (the watch lists) "
        "and plate (ANPR).",
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

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_urls(cls, data: Any) -> Any:
        """Check both URLs and move credentials written into them to username/password (the messages
        name the camera and the problem, never the URL's password)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        name = f"camera {data.get('id', '?')}"
        found: dict[str, tuple[str | None, str | None]] = {}
        for key in ("url", "analysis_url"):
            value = data.get(key)
            if not isinstance(value, str):
                continue
            try:
                split = check_stream_url(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {key} {exc}") from None
            data[key] = split.url
            if split.username is not None:
                found[key] = (split.username, split.password)
        if not found:
            return data
        if len(set(found.values())) > 1:
            raise ValueError(f"{name}: url and analysis_url carry different credentials; give them once")
        username, password = next(iter(found.values()))
        given = data.get("password")
        given = given.get_secret_value() if isinstance(given, SecretStr) else given
        if data.get("username") not in (None, username) or (
            password is not None and (given not in (None, password) or data.get("password_ref"))
        ):
            raise ValueError(f"{name}: the url carries credentials and other ones are given; give them once")
        data["username"] = username
        if password is not None:
            data["password"] = password
        return data

    @field_validator("password_ref")
    @classmethod
    def _ref_form(cls, value: str | None) -> str | None:
        return None if value is None else check_password_ref(value)

    @model_validator(mode="after")
    def _sub_stream_is_another(self) -> CameraConfig:
        if self.analysis_url == self.url:
            raise ValueError("analysis_url names the main stream itself; leave it out to analyse url")
        if self.password is not None and self.password_ref is not None:
            raise ValueError(f"camera {self.id}: give password or password_ref, not both")
        if self.username is None and (self.password is not None or self.password_ref is not None):
            raise ValueError(f"camera {self.id}: a password needs a username")
        return self

    def public_dict(self) -> dict[str, Any]:
        """The camera as shown to people (CLI, JSON): a password given itself appears only as '***'."""
        shown = self.model_dump(mode="json", exclude={"password"})
        if self.password is not None:
            shown["password"] = REDACTED
        return shown

    def _address(self, url: str) -> StreamAddress:
        return StreamAddress(url, self.username, self.password, self.password_ref)

    @property
    def main_stream(self) -> StreamAddress:
        """The main stream: analysed unless there is a sub-stream, and the source of evidence images."""
        return self._address(self.url)

    @property
    def analysed_stream(self) -> StreamAddress:
        """The stream the worker decodes and analyses."""
        return self._address(self.analysis_url or self.url)
