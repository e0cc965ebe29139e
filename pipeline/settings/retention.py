"""How long each class of data is kept (``retention:`` in the YAML file), included as ``Settings.retention``.

Data minimisation is a legal duty: what is no longer needed is deleted on schedule by the command centre
(``command_center.admin.retention``), each purge audited with its counts. 0 keeps a class for ever. The audit
chain is never purged.
"""

from __future__ import annotations

from pydantic import Field

from pipeline.settings.base import Strict

_YEAR = 3660  # days: the bound of every setting, ten years


class RetentionSettings(Strict):
    plate_reads_days: int = Field(
        30,
        ge=0,
        le=_YEAR,
        description="Plate reads of vehicles on no hotlist (every passing car), with their crops.",
    )
    hotlisted_plate_reads_days: int = Field(
        0, ge=0, le=_YEAR, description="Plate reads that matched the hotlist (evidence; 0: kept)."
    )
    checkin_photos_days: int = Field(
        30, ge=0, le=_YEAR, description="Hotel guests' photos, after the check-in (the row stays)."
    )
    checkins_days: int = Field(365, ge=0, le=_YEAR, description="Hotel check-ins themselves.")
    closed_alert_images_days: int = Field(
        180,
        ge=0,
        le=_YEAR,
        description="The face crop and scene images of alerts closed (resolved or dismissed) this long ago.",
    )
    dismissed_alerts_days: int = Field(
        365,
        ge=0,
        le=_YEAR,
        description="Alerts dismissed as false positives, with their timeline (never one with a dispatch).",
    )
    purge_every_s: float = Field(3600.0, ge=10, le=7 * 86_400, description="How often purges run.")
    batch: int = Field(5000, ge=100, le=100_000, description="Rows deleted per transaction.")
