"""Schema of the alert store: alerts, the hits that built them, and the best evidence of each."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Uuid,
    true,
)

from command_center.security.evidence import Source, declare
from pipeline.adapters.database import UtcDateTime, metadata

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False, default="new"),
    # What was seen: "face" (profile_id is a watchlist profile) or "plate" (a vehicle hotlist entry).
    Column("kind", String(8), nullable=False, server_default="face"),
    Column("priority", Integer, nullable=False, server_default="3"),
    Column("camera_id", String(64), nullable=False),
    # The camera's district when the alert opened ("" if unknown: only unscoped roles see it).
    Column("district", String(64), nullable=False, server_default=""),
    Column("profile_id", Integer, nullable=False),
    Column("profile_name", String(200), nullable=False),
    Column("category", String(64), nullable=False),
    Column("best_similarity", Float, nullable=False),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("hit_count", Integer, nullable=False),
    Column("first_hit_id", Uuid, nullable=False),
    # What is particular to the kind: the plate read and how it matched the hotlist entry, ...
    Column("details", JSON, nullable=True),
    # A face alert: the watch list it matched through (verdicts per list; its acknowledgement rule).
    Column("watch_list_id", Integer, nullable=True),
    # False: the list asks for no acknowledgement (informational), so the alert never escalates.
    Column("requires_ack", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # The merge lookup: the latest alert of one subject on one camera.
    Index("ix_alerts_subject_camera_last_seen", "kind", "profile_id", "camera_id", "last_seen"),
    Index("ix_alerts_camera_id", "camera_id", "id"),
    Index("ix_alerts_district", "district", "id"),
    Index("ix_alerts_status_created", "status", "created_at"),  # the lifecycle's scans of open alerts
)

alert_hits = Table(
    "alert_hits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Unique: a redelivered hit is recognised and changes nothing (idempotent consumption).
    Column("hit_id", Uuid, nullable=False, unique=True),
    # Null only inside record_hit's transaction, between claiming the hit and choosing its alert.
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("similarity", Float, nullable=False),
    Column("detector_score", Float, nullable=False),
    Column("box", JSON, nullable=False),
    Column("frame_sent_at", UtcDateTime(), nullable=True),
    Column("captured_at", UtcDateTime(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("worker_id", String(128), nullable=False),
    Column("timings", JSON, nullable=False),
    Column("track_id", Integer, nullable=True),
    Column("details", JSON, nullable=True),
)

alert_evidence = Table(
    "alert_evidence",
    metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("jpeg", LargeBinary, nullable=False),
    Column("similarity", Float, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


# The ANPR read log: every vehicle pass read by a camera, hotlisted or not (investigations), kept for the
# plate stream's retention; the crop is the only image kept.
plate_reads = Table(
    "plate_reads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("read_id", Uuid, nullable=False, unique=True),  # the PlateRead's event_id: idempotence
    Column("camera_id", String(64), nullable=False),
    Column("worker_id", String(128), nullable=False),
    Column("track_id", Integer, nullable=True),
    Column("plate_key", String(16), nullable=False),
    Column("display", String(24), nullable=False),
    Column("country", String(8), nullable=True),
    Column("confidence", Float, nullable=False),
    Column("frames_read", Integer, nullable=False),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("hotlist_entry_id", Integer, nullable=True),
    Column("crop_jpeg", LargeBinary, nullable=False),
    Index("ix_plate_reads_key_seen", "plate_key", "last_seen"),
    Index("ix_plate_reads_camera_seen", "camera_id", "last_seen"),
)

# An alert's best face or plate crop and its scene, replaced when a better hit comes (a new audit entry),
# deleted by the retention of closed and dismissed alerts.
_ALERT_PURGES = frozenset({"closed_alert_images", "dismissed_alerts"})
declare("alert_crop", Source(alert_evidence, "jpeg", _ALERT_PURGES, "alert_id", ("kind", "crop")))
declare("alert_scene", Source(alert_evidence, "jpeg", _ALERT_PURGES, "alert_id", ("kind", "scene")))
