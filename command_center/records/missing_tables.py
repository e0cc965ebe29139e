"""Schema of missing persons, unidentified dead bodies (UDR), their photos and their ranked candidates.

Nothing is deleted: a case is closed by its status. ``missing_candidates`` holds one row per plausible
(missing person, body) pair with its score; the rows of a case are rewritten, in one transaction,
whenever that case (or its photos) changes, and those of the other side when one of theirs does.
"""

from __future__ import annotations

from typing import Any

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
    UniqueConstraint,
)

from command_center.security.evidence import Source, declare
from pipeline.adapters.database import UtcDateTime, metadata


def _description() -> list[Column[Any]]:
    """What both sides describe: the physical features, where and when, who registered the case."""
    return [
        Column("sex", String(8), nullable=False),
        Column("age_min", Integer, nullable=True),
        Column("age_max", Integer, nullable=True),
        Column("height_cm", Integer, nullable=True),
        Column("build", String(16), nullable=True),
        Column("complexion", String(16), nullable=True),
        Column("marks", String(1000), nullable=True),
        Column("clothing", String(1000), nullable=True),
        Column("district", String(64), nullable=True, index=True),
        Column("police_station", String(200), nullable=True),
        Column("latitude", Float, nullable=True),
        Column("longitude", Float, nullable=True),
        Column("notes", Text, nullable=True),
        Column("status", String(16), nullable=False, index=True),
        Column("registered_by", String(300), nullable=False),
        Column("registered_by_id", Integer, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_by", String(300), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    ]


missing_persons = Table(
    "missing_persons",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("name_canonical", String(500), nullable=False),
    Column("name_phonetic", String(500), nullable=False),
    Column("father_name", String(200), nullable=True),
    Column("cnic", String(15), nullable=True, index=True),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_place", String(500), nullable=True),
    Column("report_number", String(64), nullable=True),
    Column("contact_name", String(200), nullable=True),
    Column("contact_phone", String(16), nullable=True),
    Column("watchlist_profile_id", Integer, nullable=True, index=True),
    Column("watchlist_note", String(300), nullable=True),
    *_description(),
    Column("idempotency_key", String(36), nullable=True),  # the registering phone's UUID: stored once
    Index("uq_missing_persons_idempotency_key", "idempotency_key", unique=True),
    sqlite_autoincrement=True,
)

udr_cases = Table(
    "udr_cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("udr_number", String(64), nullable=False),
    Column("found_at", UtcDateTime(), nullable=False),
    Column("found_place", String(500), nullable=True),
    Column("identified_missing_id", Integer, nullable=True),
    *_description(),
    Column("idempotency_key", String(36), nullable=True),
    Index("uq_udr_cases_idempotency_key", "idempotency_key", unique=True),
    sqlite_autoincrement=True,
)

case_photos = Table(
    "missing_case_photos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_kind", String(8), nullable=False),  # missing or udr
    Column("case_id", Integer, nullable=False),
    Column("jpeg", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("faceprint", LargeBinary, nullable=True),
    Column("added_by", String(300), nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
    UniqueConstraint("case_kind", "case_id", "sha256", name="uq_missing_case_photos_sha"),
    Index("ix_missing_case_photos_case", "case_kind", "case_id"),
)

candidates = Table(
    "missing_candidates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("missing_id", Integer, nullable=False),
    Column("udr_id", Integer, nullable=False, index=True),
    Column("score", Float, nullable=False),
    Column("feature_score", Float, nullable=False),
    Column("face_score", Float, nullable=True),
    Column("reasons", JSON, nullable=False),
    Column("computed_at", UtcDateTime(), nullable=False),
    UniqueConstraint("missing_id", "udr_id", name="uq_missing_candidates_pair"),
)

declare("case_photo", Source(case_photos, "jpeg"))
