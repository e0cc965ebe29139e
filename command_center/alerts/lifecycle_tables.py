"""Schema of the alert lifecycle: transitions, escalations, patrol units and their officers, dispatches.

These tables refer to ``alerts.id`` and ``staff_users.id`` by value, without a foreign key, so the
alert store and the account store stay independent
(an alert's history outlives any retention purge of the alert itself, as the audit trail does).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from pipeline.adapters.database import UtcDateTime, metadata

MAX_UNIT_ID = 64
MAX_REASON = 2000

alert_transitions = Table(
    "alert_transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(200), nullable=False),  # staff:<id>:<name> or system:<policy>
    Column("actor_id", Integer, nullable=True),  # the staff account, when a person acted
    Column("role", String(32), nullable=True),
    Column("reason", Text, nullable=True),
    Column("unit_id", String(MAX_UNIT_ID), nullable=True),
    Column("dispatch_id", Integer, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_alert_transitions_alert", "alert_id", "id"),
    Index("ix_alert_transitions_action_at", "action", "at"),
)

# One row per escalated alert: the primary key is what makes several replicas escalate it only once.
alert_escalations = Table(
    "alert_escalations",
    metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=False),
    Column("priority", Integer, nullable=False),
    Column("waited_s", Float, nullable=False),
    Column("escalated_at", UtcDateTime(), nullable=False),
)

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
