"""Schema of the watchlist: profiles with their legal basis and review state, photos, embeddings.

Embedding ids double as FAISS ids, so tables use AUTOINCREMENT on SQLite as well: an id is never
reused, even after the newest row is deleted. ``watchlist_meta.revision`` counts changes that affect
matching (an activation, a removal), bumped in the same transaction as the change.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

MAX_NAME_LENGTH = 200
MAX_ACTOR_LENGTH = 200
MAX_REFERENCE_LENGTH = 100
MAX_REASON_LENGTH = 500

metadata = MetaData()

profiles = Table(
    "profiles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(MAX_NAME_LENGTH), nullable=False),
    Column("category", String(32), nullable=False, index=True),
    # In force (matching) while active or pending removal; kept in step with ``status``.
    Column("active", Boolean, nullable=False, default=False, index=True),
    Column("status", String(16), nullable=False, index=True),
    Column("legal_reference", String(MAX_REFERENCE_LENGTH), nullable=False),
    Column("authorised_by", String(MAX_ACTOR_LENGTH), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("proposed_by", String(MAX_ACTOR_LENGTH), nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
    Column("approved_by", String(MAX_ACTOR_LENGTH), nullable=True),
    Column("approved_at", DateTime(timezone=True), nullable=True),
    Column("removal_proposed_by", String(MAX_ACTOR_LENGTH), nullable=True),
    Column("removal_proposed_at", DateTime(timezone=True), nullable=True),
    Column("removal_reason", String(MAX_REASON_LENGTH), nullable=True),
    Column("removal_approved_by", String(MAX_ACTOR_LENGTH), nullable=True),
    Column("removal_approved_at", DateTime(timezone=True), nullable=True),
    Column("rejected_by", String(MAX_ACTOR_LENGTH), nullable=True),
    Column("rejected_at", DateTime(timezone=True), nullable=True),
    Column("rejection_reason", String(MAX_REASON_LENGTH), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Indexed: a worker catching up with the database reads the profiles changed since a moment.
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    sqlite_autoincrement=True,
)

profile_photos = Table(
    "profile_photos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("profile_id", Integer, ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("original", LargeBinary, nullable=False),
    Column("crop_jpeg", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,
)

face_embeddings = Table(
    "face_embeddings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("profile_id", Integer, ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("photo_id", Integer, ForeignKey("profile_photos.id", ondelete="CASCADE"), nullable=False),
    Column("model", String(64), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    sqlite_autoincrement=True,
)

watchlist_meta = Table(
    "watchlist_meta",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", Integer, nullable=False),
)
