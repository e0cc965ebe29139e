"""Schema of the watchlist: profiles with their legal basis and review state, photos, embeddings.

Embedding ids double as FAISS ids, so tables use AUTOINCREMENT on SQLite as well: an id is never
reused, even after the newest row is deleted. ``watchlist_meta.revision`` counts changes that affect
matching (an activation, a removal), bumped in the same transaction as the change.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
)

from pipeline.adapters.database import UtcDateTime, metadata

MAX_NAME_LENGTH = 200
MAX_ACTOR_LENGTH = 200
MAX_REFERENCE_LENGTH = 100
MAX_REASON_LENGTH = 500
MAX_LIST_NAME_LENGTH = 100


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
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("proposed_by", String(MAX_ACTOR_LENGTH), nullable=False),
    Column("proposed_at", UtcDateTime(), nullable=False),
    Column("approved_by", String(MAX_ACTOR_LENGTH), nullable=True),
    Column("approved_at", UtcDateTime(), nullable=True),
    Column("removal_proposed_by", String(MAX_ACTOR_LENGTH), nullable=True),
    Column("removal_proposed_at", UtcDateTime(), nullable=True),
    Column("removal_reason", String(MAX_REASON_LENGTH), nullable=True),
    Column("removal_approved_by", String(MAX_ACTOR_LENGTH), nullable=True),
    Column("removal_approved_at", UtcDateTime(), nullable=True),
    Column("rejected_by", String(MAX_ACTOR_LENGTH), nullable=True),
    Column("rejected_at", UtcDateTime(), nullable=True),
    Column("rejection_reason", String(MAX_REASON_LENGTH), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    # Indexed: a worker catching up with the database reads the profiles changed since a moment.
    Column("updated_at", UtcDateTime(), nullable=False, index=True),
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
    Column("created_at", UtcDateTime(), nullable=False),
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

# Watch lists (``watchlist.lists``): a named set of profiles with its purpose, whether it raises camera
# alerts (live) or answers investigative searches only, where it is live, who may see and change it,
# and its false-alert target with the threshold calibrated for its size (``pipeline.calibration``).
watch_lists = Table(
    "watch_lists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(MAX_LIST_NAME_LENGTH), nullable=False, unique=True),
    Column("purpose", String(32), nullable=False),
    Column("description", String(MAX_REASON_LENGTH), nullable=False, default=""),
    Column("mode", String(8), nullable=False),  # live | search
    Column("status", String(10), nullable=False),  # active | archived
    # Every profile in force is a member (the CRO gallery): no member rows, search only.
    Column("all_profiles", Boolean, nullable=False, default=False),
    # Profiles proposed in this category join the list unless other lists are named.
    Column("auto_category", String(32), nullable=True, unique=True),
    Column("priority", Integer, nullable=False),
    Column("cameras", JSON, nullable=False),  # camera ids where live; [] = every camera of the districts
    Column("districts", JSON, nullable=False),  # [] = every district
    Column("requires_ack", Boolean, nullable=False, default=True),
    Column("viewers", JSON, nullable=False),  # grants: "role:<role>" / "user:<id>"; [] = every reader
    Column("editors", JSON, nullable=False),
    Column("target_fpir", Float, nullable=False),  # false alerts per stranger track
    Column("threshold_floor", Float, nullable=True),  # a supervisor's raise above the calibration
    Column("gallery_size", Integer, nullable=False, default=0),  # embeddings at the last calibration
    Column("threshold", Float, nullable=False),
    Column("strong_threshold", Float, nullable=False),
    Column("fpir_bound", Float, nullable=False),
    Column("genuine_pass", Float, nullable=False),
    Column("calibration_note", String(MAX_REASON_LENGTH), nullable=False, default=""),
    Column("created_by", String(MAX_ACTOR_LENGTH), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(MAX_ACTOR_LENGTH), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

watch_list_members = Table(
    "watch_list_members",
    metadata,
    Column("list_id", Integer, ForeignKey("watch_lists.id", ondelete="CASCADE"), nullable=False),
    Column("profile_id", Integer, ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("added_by", String(MAX_ACTOR_LENGTH), nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("list_id", "profile_id"),
)
