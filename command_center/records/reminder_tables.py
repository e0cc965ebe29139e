"""Schema of the case reminders told to investigating officers (``reminders.py``): one row per reminder
told (a case, its kind, its due time), so it is told once whatever the number of replicas."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, UniqueConstraint

from pipeline.adapters.database import UtcDateTime, metadata

case_reminders = Table(
    "case_reminders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("officer_id", Integer, nullable=False),  # staff_users.id of the officer told
    Column("told_at", UtcDateTime(), nullable=False),
    UniqueConstraint("case_id", "kind", "due_at", name="uq_case_reminders_due"),
)
