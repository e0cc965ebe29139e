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
    case_reminder_days: int = Field(
        15,
        ge=1,
        le=365,
        description="An open case whose record has not been updated for this many days is a reminder "
        "for its investigating officer (the officer app's Reminders, and a notice when it falls due).",
    )
    challan_due_days: int = Field(
        14,
        ge=0,
        le=365,
        description="Days from the FIR date by which the investigating officer reports to the court "
        "(the challan, s.173 CrPC) while the case is registered or under investigation; 0: no deadline.",
    )
    challan_warn_days: int = Field(
        3, ge=0, le=60, description="A challan deadline is a reminder from this many days before it."
    )
    case_reminder_check_s: float = Field(
        900.0,
        ge=1.0,
        le=86_400.0,
        description="How often the command centre looks for reminders that fell due, to tell their "
        "officers (each reminder is told once, whatever the number of replicas).",
    )
    # -- bulk import jobs (issue 21: the CLI's import as an API job) --------------------------------
    import_max_rows: int = Field(
        200_000, ge=1, le=5_000_000, description="Most data rows one uploaded import file may hold."
    )
    import_max_photos_bytes: int = Field(
        2_000_000_000,
        ge=1000,
        description="Largest total of the photos in an uploaded zip, uncompressed (uploads themselves "
        "are bounded by command_center.max_upload_bytes).",
    )
    import_batch_rows: int = Field(500, ge=1, le=20_000, description="Rows per batch (one transaction).")
    import_batch_photos: int = Field(50, ge=1, le=1000, description="Photos per batch (one transaction).")
    import_lease_s: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="An import job's lease: renewed while its replica runs it; once it lapses (the "
        "replica died) another replica takes the job over from its last committed batch.",
    )
    import_poll_s: float = Field(
        2.0, ge=0.05, le=600, description="How often a replica looks for import jobs no replica runs."
    )
