"""Schema of the alert store: alerts, the hits that built them, and the best evidence of each."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
)

metadata = MetaData()

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False, default="new"),
    Column("camera_id", String(64), nullable=False),
    # The camera's district when the alert opened ("" if unknown: only unscoped roles see it).
    Column("district", String(64), nullable=False, server_default=""),
    Column("profile_id", Integer, nullable=False),
    Column("profile_name", String(200), nullable=False),
    Column("category", String(64), nullable=False),
    Column("best_similarity", Float, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("hit_count", Integer, nullable=False),
    Column("first_hit_id", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The merge lookup: the latest alert of one profile on one camera.
    Index("ix_alerts_profile_camera_last_seen", "profile_id", "camera_id", "last_seen"),
    Index("ix_alerts_camera_id", "camera_id", "id"),
    Index("ix_alerts_district", "district", "id"),
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
    Column("frame_sent_at", DateTime(timezone=True), nullable=True),
    Column("captured_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("worker_id", String(128), nullable=False),
    Column("timings", JSON, nullable=False),
)

alert_evidence = Table(
    "alert_evidence",
    metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("jpeg", LargeBinary, nullable=False),
    Column("similarity", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
