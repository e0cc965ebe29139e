"""Schema of arrests (SQLAlchemy Core): one row per arrest, with its photo, faceprint and screening.

Nothing is deleted. ``name_phonetic`` holds the Double Metaphone codes of the name (``records.names``)
so a name search finds spelling variants; ``screening`` is what the check against other cases found.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from command_center.security.evidence import Source, declare
from pipeline.adapters.database import UtcDateTime, metadata

arrests = Table(
    "arrests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_name", String(200), nullable=False),
    Column("name_canonical", String(500), nullable=False),
    Column("name_phonetic", String(500), nullable=False),
    Column("father_name", String(200), nullable=True),
    Column("cnic", String(15), nullable=True, index=True),
    Column("gender", String(8), nullable=True),
    Column("age", Integer, nullable=True),
    Column("cro_person_id", Integer, nullable=True, index=True),
    Column("fir_number", String(64), nullable=False),
    Column("police_station", String(200), nullable=False),
    Column("sections", JSON, nullable=False),
    Column("district", String(64), nullable=True),
    Column("place", String(500), nullable=True),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("arrested_at", UtcDateTime(), nullable=False),
    Column("notes", Text, nullable=True),
    Column("officer_id", Integer, nullable=False, index=True),  # staff_users.id of the arresting officer
    Column("recorded_by", String(300), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("photo_jpeg", LargeBinary, nullable=True),
    Column("photo_width", Integer, nullable=True),
    Column("photo_height", Integer, nullable=True),
    Column("faceprint", LargeBinary, nullable=True),
    Column("broadcast_at", UtcDateTime(), nullable=True),
    Column("screened_at", UtcDateTime(), nullable=True),
    Column("screening", JSON, nullable=True),
    Column("idempotency_key", String(36), nullable=True),  # the reporting phone's UUID: stored once
    Index("ix_arrests_fir", "fir_number", "police_station"),
    Index("ix_arrests_time", "arrested_at"),
    Index("ix_arrests_unscreened", "screened_at"),
    Index("uq_arrests_idempotency_key", "idempotency_key", unique=True),
    sqlite_autoincrement=True,
)

declare("arrest_photo", Source(arrests, "photo_jpeg"))
