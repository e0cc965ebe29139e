"""Settings of the CRO records and the hotel check-in feed (``records:`` in the YAML file).

Kept apart from ``settings.py`` (which includes it as ``Settings.records``) so the noun stays small.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

ALL_CATEGORIES = [
    "hbt_offender",
    "local",
    "non_local",
    "rowdy_sheeter",
    "history_sheeter",
    "wanted",
    "missing",
]


class RecordsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_photo_bytes: int = Field(
        2_000_000, ge=1000, le=20_000_000, description="Largest CRO photo accepted (a JPEG)."
    )
    max_photo_pixels: int = Field(
        25_000_000, ge=10_000, le=100_000_000, description="Largest decoded CRO or guest photo."
    )
    checkin_photo_max_bytes: int = Field(
        1_000_000, ge=1000, le=10_000_000, description="Largest guest photo a hotel may send (decoded)."
    )
    checkin_alert_categories: list[str] = Field(
        default_factory=lambda: list(ALL_CATEGORIES),
        description="CRO categories whose CNIC at a hotel check-in raises an alert.",
    )
    notice_ack_wait_s: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="Personal-watchlist notices: redelivery wait of an officer's consumer.",
    )
