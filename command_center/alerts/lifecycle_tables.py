"""Schema of the alert lifecycle: its transitions and escalations (dispatches and patrol units are the
dispatch domain's: ``command_center/dispatch/tables.py``).

These tables refer to ``alerts.id`` and ``staff_users.id`` by value, without a foreign key, so the
alert store and the account store stay independent
(an alert's history outlives any retention purge of the alert itself, as the audit trail does).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
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
