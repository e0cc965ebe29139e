"""Watchlist profiles, their photos and face embeddings, in SQLite or PostgreSQL (SQLAlchemy Core).

Removal is a soft delete: the profile row is kept (alerts and audit refer to it) but marked inactive, and
its embeddings are never returned by ``iter_embeddings`` again. Embedding ids double as FAISS ids, so
tables use AUTOINCREMENT on SQLite as well: an id is never reused, even after the newest row is deleted.
Every change bumps ``watchlist_meta.revision`` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

CATEGORIES: tuple[str, ...] = (
    "wanted",
    "missing",
    "hbt",
    "history_sheeter",
    "rowdy_sheeter",
    "local",
    "non_local",
    "watch",
)
MAX_NAME_LENGTH = 200
_VECTOR_DTYPE = np.dtype("<f4")

metadata = MetaData()

profiles = Table(
    "profiles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(MAX_NAME_LENGTH), nullable=False),
    Column("category", String(32), nullable=False, index=True),
    Column("active", Boolean, nullable=False, default=True, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
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


class InvalidProfileError(ValueError):
    """A profile field (name, category) that cannot be stored; the message says which and why."""


class ProfileNotFoundError(LookupError):
    def __init__(self, profile_id: int) -> None:
        super().__init__(f"no active watchlist profile with id {profile_id}")
        self.profile_id = profile_id


def validate_category(category: str) -> str:
    value = category.strip().lower()
    if value not in CATEGORIES:
        raise InvalidProfileError(f"unknown category {category!r}; use one of: {', '.join(CATEGORIES)}")
    return value


def validate_name(name: str) -> str:
    value = " ".join(name.split())
    if not value:
        raise InvalidProfileError("a profile needs a non-empty name")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidProfileError(f"name is {len(value)} characters; at most {MAX_NAME_LENGTH} allowed")
    return value


@dataclass(frozen=True, slots=True)
class NewPhoto:
    """One accepted enrolment photo with its face crop and embedding."""

    original: bytes
    crop_jpeg: bytes
    width: int
    height: int
    embedding: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AddedProfile:
    profile_id: int
    photo_ids: list[int]
    embedding_ids: list[int]
    revision: int


@dataclass(frozen=True, slots=True)
class RemovedProfile:
    profile_id: int
    embedding_ids: list[int]
    revision: int


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    name: str
    category: str
    active: bool
    created_at: datetime
    updated_at: datetime
    photo_count: int
    embedding_count: int


@dataclass(frozen=True, slots=True)
class StoredEmbedding:
    embedding_id: int
    profile_id: int
    name: str
    category: str
    vector: npt.NDArray[np.float32]


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def vector_to_bytes(vector: npt.NDArray[np.float32]) -> bytes:
    return np.ascontiguousarray(vector, dtype=_VECTOR_DTYPE).reshape(-1).tobytes()


def vector_from_bytes(data: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(data, dtype=_VECTOR_DTYPE).astype(np.float32)


class WatchlistStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create missing tables and the revision row; safe to call from several processes."""
        metadata.create_all(self.engine)
        with self.engine.connect() as conn:
            if conn.execute(select(watchlist_meta.c.id)).first() is not None:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(watchlist_meta).values(id=1, revision=0))
        except IntegrityError:
            pass  # another process created it first

    def _bump(self, conn: Connection) -> int:
        conn.execute(
            update(watchlist_meta)
            .where(watchlist_meta.c.id == 1)
            .values(revision=watchlist_meta.c.revision + 1)
        )
        return int(
            conn.execute(select(watchlist_meta.c.revision).where(watchlist_meta.c.id == 1)).scalar_one()
        )

    def revision(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(watchlist_meta.c.revision).where(watchlist_meta.c.id == 1)).scalar()
        return int(value or 0)

    def add_profile(self, name: str, category: str, photos: Sequence[NewPhoto], model: str) -> AddedProfile:
        """Store a profile with all its photos and embeddings in one transaction."""
        name = validate_name(name)
        category = validate_category(category)
        if not photos:
            raise InvalidProfileError("a profile needs at least one photo")
        now = _now()
        with self.engine.begin() as conn:
            profile_id = int(
                conn.execute(
                    insert(profiles)
                    .values(name=name, category=category, active=True, created_at=now, updated_at=now)
                    .returning(profiles.c.id)
                ).scalar_one()
            )
            photo_ids, embedding_ids = [], []
            for photo in photos:
                photo_id = int(
                    conn.execute(
                        insert(profile_photos)
                        .values(
                            profile_id=profile_id,
                            original=photo.original,
                            crop_jpeg=photo.crop_jpeg,
                            width=photo.width,
                            height=photo.height,
                            created_at=now,
                        )
                        .returning(profile_photos.c.id)
                    ).scalar_one()
                )
                embedding_id = int(
                    conn.execute(
                        insert(face_embeddings)
                        .values(
                            profile_id=profile_id,
                            photo_id=photo_id,
                            model=model,
                            vector=vector_to_bytes(photo.embedding),
                        )
                        .returning(face_embeddings.c.id)
                    ).scalar_one()
                )
                photo_ids.append(photo_id)
                embedding_ids.append(embedding_id)
            revision = self._bump(conn)
        return AddedProfile(profile_id, photo_ids, embedding_ids, revision)

    def remove_profile(self, profile_id: int) -> RemovedProfile:
        """Deactivate a profile; returns the embedding ids that must leave every index."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(profiles)
                .where(profiles.c.id == profile_id, profiles.c.active.is_(True))
                .values(active=False, updated_at=_now())
            )
            if done.rowcount != 1:
                raise ProfileNotFoundError(profile_id)
            ids = conn.execute(
                select(face_embeddings.c.id)
                .where(face_embeddings.c.profile_id == profile_id)
                .order_by(face_embeddings.c.id)
            )
            embedding_ids = [int(i) for i in ids.scalars()]
            revision = self._bump(conn)
        return RemovedProfile(profile_id, embedding_ids, revision)

    def get_profile(self, profile_id: int, include_inactive: bool = False) -> Profile | None:
        rows = self._profiles(profiles.c.id == profile_id, include_inactive, limit=1, offset=0)
        return rows[0] if rows else None

    def list_profiles(
        self, limit: int = 100, offset: int = 0, category: str | None = None, include_inactive: bool = False
    ) -> list[Profile]:
        where = profiles.c.category == validate_category(category) if category else None
        return self._profiles(where, include_inactive, limit=limit, offset=offset)

    def count_profiles(self, include_inactive: bool = False) -> int:
        query = select(func.count(profiles.c.id))
        if not include_inactive:
            query = query.where(profiles.c.active.is_(True))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _profiles(
        self, where: ColumnElement[bool] | None, include_inactive: bool, limit: int, offset: int
    ) -> list[Profile]:
        photos = (
            select(func.count(profile_photos.c.id))
            .where(profile_photos.c.profile_id == profiles.c.id)
            .scalar_subquery()
        )
        embeddings = (
            select(func.count(face_embeddings.c.id))
            .where(face_embeddings.c.profile_id == profiles.c.id)
            .scalar_subquery()
        )
        query = select(profiles, photos.label("photo_count"), embeddings.label("embedding_count"))
        if where is not None:
            query = query.where(where)
        if not include_inactive:
            query = query.where(profiles.c.active.is_(True))
        query = query.order_by(profiles.c.id).limit(max(0, limit)).offset(max(0, offset))
        with self.engine.connect() as conn:
            return [
                Profile(
                    id=int(row.id),
                    name=row.name,
                    category=row.category,
                    active=bool(row.active),
                    created_at=_utc(row.created_at),
                    updated_at=_utc(row.updated_at),
                    photo_count=int(row.photo_count),
                    embedding_count=int(row.embedding_count),
                )
                for row in conn.execute(query)
            ]

    def iter_embeddings(self) -> Iterator[StoredEmbedding]:
        """Every embedding of every active profile, in id order."""
        query = (
            select(
                face_embeddings.c.id,
                face_embeddings.c.profile_id,
                profiles.c.name,
                profiles.c.category,
                face_embeddings.c.vector,
            )
            .join(profiles, profiles.c.id == face_embeddings.c.profile_id)
            .where(profiles.c.active.is_(True))
            .order_by(face_embeddings.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            yield StoredEmbedding(
                int(row.id), int(row.profile_id), row.name, row.category, vector_from_bytes(row.vector)
            )

    def profile_photo(self, profile_id: int, crop: bool, photo_id: int | None = None) -> bytes | None:
        """The first (or the given) photo of a profile: the face crop JPEG or the original bytes."""
        column = profile_photos.c.crop_jpeg if crop else profile_photos.c.original
        query = select(column).where(profile_photos.c.profile_id == profile_id)
        if photo_id is not None:
            query = query.where(profile_photos.c.id == photo_id)
        with self.engine.connect() as conn:
            data = conn.execute(query.order_by(profile_photos.c.id).limit(1)).scalar()
        return bytes(data) if data is not None else None

    def photo_ids(self, profile_id: int) -> list[int]:
        query = select(profile_photos.c.id).where(profile_photos.c.profile_id == profile_id)
        with self.engine.connect() as conn:
            return [int(i) for i in conn.execute(query.order_by(profile_photos.c.id)).scalars()]
