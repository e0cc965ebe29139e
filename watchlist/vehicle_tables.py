"""Schema of the vehicle hotlist (on the one metadata of the database, pipeline.adapters.database).

Rows are never deleted: a removal sets ``removed_at``/``removed_by``/``removal_reason`` and the row stays
for history. At most one live (unremoved) entry per plate and case, enforced by a partial unique index
that SQLite and PostgreSQL both support. ``vehicle_hotlist_meta.revision`` counts changes that can
affect matching, bumped in the same transaction, so matchers reload only when something changed.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, SmallInteger, String, Table

from pipeline.adapters.database import UtcDateTime, metadata
from pipeline.validators import MAX_NAME_LENGTH, MAX_REFERENCE_LENGTH
from watchlist.plate_text import MAX_DISPLAY_LENGTH, MAX_KEY_LENGTH
from watchlist.tables import MAX_ACTOR_LENGTH, MAX_REASON_LENGTH

vehicle_hotlist = Table(
    "vehicle_hotlist",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plate", String(MAX_DISPLAY_LENGTH), nullable=False),
    Column("plate_key", String(MAX_KEY_LENGTH), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("reason", String(MAX_REASON_LENGTH), nullable=False),
    Column("case_reference", String(MAX_REFERENCE_LENGTH), nullable=False),
    Column("case_key", String(MAX_REFERENCE_LENGTH), nullable=False),
    Column("owner", String(MAX_NAME_LENGTH), nullable=True),
    Column("vehicle", String(MAX_NAME_LENGTH), nullable=True),
    Column("priority", SmallInteger, nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("created_by", String(MAX_ACTOR_LENGTH), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(MAX_ACTOR_LENGTH), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("removed_by", String(MAX_ACTOR_LENGTH), nullable=True),
    Column("removed_at", UtcDateTime(), nullable=True),
    Column("removal_reason", String(MAX_REASON_LENGTH), nullable=True),
    sqlite_autoincrement=True,
)

Index(
    "uq_vehicle_hotlist_live_plate_case",
    vehicle_hotlist.c.plate_key,
    vehicle_hotlist.c.case_key,
    unique=True,
    sqlite_where=vehicle_hotlist.c.removed_at.is_(None),
    postgresql_where=vehicle_hotlist.c.removed_at.is_(None),
)

vehicle_hotlist_meta = Table(
    "vehicle_hotlist_meta",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", Integer, nullable=False),
)
