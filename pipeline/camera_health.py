"""Camera health notices: what a worker tells operators about a camera it cannot analyse for a reason
someone has to act on (today: the camera refused the login). Core NATS, ``subjects.camera_health``; a
worker repeats a bad state with every heartbeat, so a command centre that starts later still learns it,
and sends ``ok`` once when the camera is back. The detail never holds credentials (it is redacted)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from pipeline.camera_credentials import redact
from pipeline.contracts import Message
from pipeline.storable import CAMERA_ID

HealthState = Literal["ok", "login_refused"]


class CameraHealth(Message):
    camera_id: str = Field(pattern=CAMERA_ID)
    worker_id: str = Field(max_length=64)
    state: HealthState
    detail: str = Field("", max_length=500, description="Why, for operators; never a password")
    refusals: int = Field(0, ge=0, description="Logins refused in a row")
    retry_at: datetime | None = Field(None, description="When the worker next tries to log in")

    @field_validator("detail")
    @classmethod
    def _redacted(cls, value: str) -> str:
        return redact(value)

    @property
    def summary(self) -> str:
        if self.state == "ok":
            return f"camera {self.camera_id}: login accepted, analysing again"
        when = f"; next attempt {self.retry_at:%H:%M:%S} UTC" if self.retry_at is not None else ""
        return (
            f"camera {self.camera_id}: login refused ({self.refusals} in a row: {self.detail}){when}; check "
            "its username and password (password_ref) before the camera locks the account"
        )
