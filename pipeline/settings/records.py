"""Settings of the CRO records and the hotel check-in feed (``records:`` in the YAML file).

Kept apart from ``settings.py`` (which includes it as ``Settings.records``) so the noun stays small.
"""

from __future__ import annotations

from pydantic import Field

from pipeline.settings.base import Strict

ALL_CATEGORIES = [
    "hbt_offender",
    "local",
    "non_local",
    "rowdy_sheeter",
    "history_sheeter",
    "wanted",
    "missing",
]


class RecordsSettings(Strict):
    max_photo_bytes: int = Field(
        2_000_000, ge=1000, le=20_000_000, description="Largest CRO photo accepted (a JPEG)."
    )
    max_photo_pixels: int = Field(
        25_000_000, ge=10_000, le=100_000_000, description="Largest decoded CRO or guest photo."
    )
    checkin_photo_max_bytes: int = Field(
        1_000_000, ge=1000, le=10_000_000, description="Largest guest photo a hotel may send (decoded)."
    )
    checkin_batch_max_items: int = Field(
        200, ge=1, le=1000, description="Most check-ins a hotel system may post in one /checkins/batch."
    )
    checkin_batch_max_bytes: int = Field(
        16_000_000, ge=10_000, le=200_000_000, description="Largest /checkins/batch body (photos included)."
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
    # -- arrests, missing persons and unidentified bodies, crime reports (issue 7, parts 4-6) --------
    bulletin_photo_max_side: int = Field(
        480,
        ge=64,
        le=2000,
        description="Photos in officers' bulletins are scaled down to this many pixels on the longer side.",
    )
    arrest_name_min_score: float = Field(
        0.85,
        ge=0.5,
        le=1.0,
        description="An arrested person's name must score this high in the CRO name search to be "
        "reported as possibly wanted elsewhere (CNIC and face matches need no name).",
    )
    missing_watchlist_days: int = Field(
        365,
        ge=1,
        le=5 * 365,
        description="A missing person's photos stay on the camera watchlist (category 'missing') this "
        "long, unless the case is closed first.",
    )
    missing_min_score: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="Missing person ↔ unidentified body pairs scoring below this are not kept as candidates.",
    )
    missing_notify_score: float = Field(
        0.7,
        ge=0.0,
        le=1.0,
        description="A new candidate pair at or above this score is sent to the staff of both cases.",
    )
    missing_candidates_kept: int = Field(
        50, ge=1, le=500, description="Ranked candidates kept per missing person or body."
    )
