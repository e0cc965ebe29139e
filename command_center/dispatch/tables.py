"""Schema of dispatch: patrol units, the officers serving in them, and dispatches of units to alerts.

Dispatches refer to ``alerts.id`` and officers to ``staff_users.id`` by value, without a foreign key, so
the domains' stores stay independent (a dispatch's history outlives any retention purge of its alert).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from command_center.alerts.lifecycle_tables import MAX_UNIT_ID
from pipeline.adapters.database import UtcDateTime, metadata

patrol_units = Table(
    "patrol_units",
    metadata,
    Column("id", String(MAX_UNIT_ID), primary_key=True),  # call sign, e.g. ISB-MOBILE-07
    Column("name", String(200), nullable=False),
    Column("district", String(64), nullable=False),
    Column("duty_status", String(16), nullable=False),  # available, busy, off_duty
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_patrol_units_district", "district", "id"),
)

# An officer serves in one unit at a time.
patrol_officers = Table(
    "patrol_officers",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("unit_id", String(MAX_UNIT_ID), ForeignKey("patrol_units.id"), nullable=False, index=True),
    Column("assigned_at", UtcDateTime(), nullable=False),
)

dispatches = Table(
    "dispatches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, nullable=False),
    Column("unit_id", String(MAX_UNIT_ID), ForeignKey("patrol_units.id"), nullable=False),
    # pending (sent) → acknowledged → on_scene → resolved | dismissed; or timed_out / superseded / recalled
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("auto", Boolean, nullable=False),
    Column("distance_m", Float, nullable=True),
    Column("eta_s", Float, nullable=True),
    Column("note", Text, nullable=True),
    Column("dispatched_by", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("ack_deadline", UtcDateTime(), nullable=False),
    Column("acked_at", UtcDateTime(), nullable=True),
    Column("acked_by", Integer, nullable=True),  # the officer's staff account
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_dispatches_alert", "alert_id", "id"),
    Index("ix_dispatches_status_deadline", "status", "ack_deadline"),
    Index("ix_dispatches_unit_status", "unit_id", "status"),
)
