"""Schema of crime reports (M-CCTNS crime mapping) and their photos. Nothing is deleted."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from command_center.security.evidence import Source, declare
from pipeline.adapters.database import UtcDateTime, metadata

crime_reports = Table(
    "crime_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("crime_type", String(32), nullable=False),
    Column("type_detail", String(200), nullable=True),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("place", String(500), nullable=True),
    Column("district", String(64), nullable=True),
    Column("police_station", String(200), nullable=True),
    Column("fir_number", String(64), nullable=True),
    Column("description", Text, nullable=True),
    Column("officer_id", Integer, nullable=False, index=True),  # staff_users.id of the reporting officer
    Column("reported_by", String(300), nullable=False),
    Column("reported_at", UtcDateTime(), nullable=False),
    # The reporting phone's own key (a UUID): a report sent again after a lost answer is stored once.
    Column("idempotency_key", String(36), nullable=True),
    Index("ix_crime_reports_time", "occurred_at"),
    Index("ix_crime_reports_type_time", "crime_type", "occurred_at"),
    Index("ix_crime_reports_position", "latitude", "longitude"),
    Index("ix_crime_reports_district_time", "district", "occurred_at"),
    Index("ix_crime_reports_fir", "fir_number", "police_station"),
    Index("uq_crime_reports_idempotency_key", "idempotency_key", unique=True),
    sqlite_autoincrement=True,
)

crime_photos = Table(
    "crime_report_photos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report_id", Integer, nullable=False, index=True),
    Column("jpeg", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("added_by", String(300), nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
    UniqueConstraint("report_id", "sha256", name="uq_crime_report_photos_sha"),
)

declare("crime_photo", Source(crime_photos, "jpeg"))
