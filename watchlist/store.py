"""Watchlist profiles, their photos and face embeddings, in SQLite or PostgreSQL (SQLAlchemy Core).

Rows are never deleted: a removed or rejected profile is kept (alerts and the audit trail refer to it)
with its status, and ``iter_embeddings`` returns only entries in force and unexpired. Review steps
(approve, reject, propose removal) live in ``watchlist.review``; the schema in ``watchlist.tables``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from pipeline.adapters import transactions
from pipeline.adapters.migrations import upgrade
from pipeline.validators import normalise_person_name
from watchlist.governance import (
    IN_FORCE,
    InvalidProfileError,
    LegalBasis,
    Status,
    utc,
    validate_actor,
    validate_reason,
)
from watchlist.membership import join_lists
from watchlist.tables import (
    MAX_NAME_LENGTH,
    face_embeddings,
    profile_photos,
    profiles,
    watchlist_meta,
)
from watchlist.types import (
    AddedProfile,
    NewPhoto,
    Profile,
    RemovedProfile,
    StoredEmbedding,
    profile_from_row,
)

__all__ = [
    "MAX_NAME_LENGTH",
    "AddedProfile",
    "InvalidProfileError",
    "NewPhoto",
    "Profile",
    "RemovedProfile",
    "StoredEmbedding",
    "WatchlistStore",
]

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
_VECTOR_DTYPE = np.dtype("<f4")

Recalibrate = Callable[[Connection, int], None]
"""Inside a transaction that put a profile in or out of force: its watch lists' thresholds follow."""


class ProfileNotFoundError(LookupError):
    def __init__(self, profile_id: int, what: str = "watchlist profile") -> None:
        super().__init__(f"no {what} with id {profile_id}")
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
    try:  # control characters: a NUL, for one, is a 500 from PostgreSQL
        return normalise_person_name(value)
    except ValueError as exc:
        raise InvalidProfileError(str(exc)) from None


def _now() -> datetime:
    return datetime.now(UTC)


def profile_row(
    name: str, category: str, basis: LegalBasis, proposed_by: str, approved_by: str | None, now: datetime
) -> dict[str, object]:
    """A new profile's row, every field validated (InvalidProfileError says which is wrong): pending
    without ``approved_by``, active at once with it."""
    status = Status.PENDING_ADD if approved_by is None else Status.ACTIVE
    basis = basis.validated()
    return {
        "name": validate_name(name),
        "category": validate_category(category),
        "status": status.value,
        "active": status is Status.ACTIVE,
        "legal_reference": basis.legal_reference,
        "authorised_by": basis.authorised_by,
        "expires_at": basis.expires_at,
        "proposed_by": validate_actor(proposed_by),
        "proposed_at": now,
        "approved_by": validate_actor(approved_by) if approved_by is not None else None,
        "approved_at": now if approved_by is not None else None,
        "created_at": now,
        "updated_at": now,
    }


def vector_to_bytes(vector: npt.NDArray[np.float32]) -> bytes:
    return np.ascontiguousarray(vector, dtype=_VECTOR_DTYPE).reshape(-1).tobytes()


def vector_from_bytes(data: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(data, dtype=_VECTOR_DTYPE).astype(np.float32)


class WatchlistStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create missing tables and the revision row; safe to call from several processes."""
        upgrade(self.engine)
        with transactions.connect(self.engine) as conn:
            if conn.execute(select(watchlist_meta.c.id)).first() is not None:
                return
        try:
            with transactions.begin(self.engine) as conn:
                conn.execute(insert(watchlist_meta).values(id=1, revision=0))
        except IntegrityError:
            pass  # another process created it first

    def bump(self, conn: Connection) -> int:
        """Increment the revision inside the caller's transaction; returns the new value."""
        conn.execute(
            update(watchlist_meta)
            .where(watchlist_meta.c.id == 1)
            .values(revision=watchlist_meta.c.revision + 1)
        )
        return int(
            conn.execute(select(watchlist_meta.c.revision).where(watchlist_meta.c.id == 1)).scalar_one()
        )

    def revision(self) -> int:
        with transactions.connect(self.engine) as conn:
            value = conn.execute(select(watchlist_meta.c.revision).where(watchlist_meta.c.id == 1)).scalar()
        return int(value or 0)

    def add_profile(
        self,
        name: str,
        category: str,
        photos: Sequence[NewPhoto],
        model: str,
        *,
        basis: LegalBasis,
        proposed_by: str,
        approved_by: str | None = None,
        lists: Sequence[int] | None = None,
        recalibrate: Recalibrate | None = None,
    ) -> AddedProfile:
        """Store a profile with all its photos and embeddings in one transaction.

        Without ``approved_by`` the profile is ``pending_add`` and matches nothing until a second person
        approves it (``watchlist.review``). With it, the profile is active at once: the administrative
        bootstrap path, where the caller is responsible for recording who did it. The profile joins
        ``lists`` (watch list ids), or by default the list that takes its category; ``recalibrate``, when
        it is active at once, brings those lists' thresholds to their new size in the same transaction.
        """
        now = _now()
        row = profile_row(name, category, basis, proposed_by, approved_by, now)
        if not photos:
            raise InvalidProfileError("a profile needs at least one photo")
        status, category, proposed_by = (
            Status(str(row["status"])),
            str(row["category"]),
            str(row["proposed_by"]),
        )
        with transactions.begin(self.engine) as conn:
            profile_id = int(
                conn.execute(insert(profiles).values(**row).returning(profiles.c.id)).scalar_one()
            )
            photo_ids, embedding_ids = [], []
            for photo in photos:
                photo_id, embedding_id = self._add_photo(conn, profile_id, photo, model, now)
                photo_ids.append(photo_id)
                embedding_ids.append(embedding_id)
            joined = join_lists(conn, profile_id, category, lists, proposed_by)
            if status is Status.ACTIVE and recalibrate is not None:
                recalibrate(conn, profile_id)
            revision = self.bump(conn) if status is Status.ACTIVE else self._revision(conn)
        return AddedProfile(profile_id, photo_ids, embedding_ids, revision, status, joined)

    def revision_in(self, conn: Connection) -> int:
        """The revision as the caller's transaction sees it."""
        return self._revision(conn)

    def _revision(self, conn: Connection) -> int:
        return int(
            conn.execute(select(watchlist_meta.c.revision).where(watchlist_meta.c.id == 1)).scalar_one()
        )

    def _add_photo(
        self, conn: Connection, profile_id: int, photo: NewPhoto, model: str, now: datetime
    ) -> tuple[int, int]:
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
        return photo_id, embedding_id

    def remove_profile(
        self, profile_id: int, removed_by: str, reason: str, recalibrate: Recalibrate | None = None
    ) -> RemovedProfile:
        """Remove an entry in force at once (administrative path, no second person); returns the
        embedding ids that must leave every index. Raises ProfileNotFoundError."""
        now = _now()
        removed_by = validate_actor(removed_by)
        reason = validate_reason(reason)
        with transactions.begin(self.engine) as conn:
            done = conn.execute(
                update(profiles)
                .where(profiles.c.id == profile_id, profiles.c.status.in_([s.value for s in IN_FORCE]))
                .values(
                    status=Status.REMOVED.value,
                    active=False,
                    removal_proposed_by=removed_by,
                    removal_proposed_at=now,
                    removal_reason=reason,
                    removal_approved_by=removed_by,
                    removal_approved_at=now,
                    updated_at=now,
                )
            )
            if done.rowcount != 1:
                raise ProfileNotFoundError(profile_id, "active watchlist profile")
            if recalibrate is not None:
                recalibrate(conn, profile_id)
            embedding_ids = self.embedding_ids(conn, profile_id)
            revision = self.bump(conn)
        return RemovedProfile(profile_id, embedding_ids, revision)

    def embedding_ids(self, conn: Connection, profile_id: int) -> list[int]:
        query = (
            select(face_embeddings.c.id)
            .where(face_embeddings.c.profile_id == profile_id)
            .order_by(face_embeddings.c.id)
        )
        return [int(i) for i in conn.execute(query).scalars()]

    def get_profile(self, profile_id: int) -> Profile | None:
        """The profile whatever its status (removed and rejected ones too)."""
        rows = self._profiles(profiles.c.id == profile_id, limit=1, offset=0)
        return rows[0] if rows else None

    def profiles_by_ids(self, profile_ids: Sequence[int]) -> list[Profile]:
        """These profiles (whatever their status), in id order; unknown ids are left out."""
        if not profile_ids:
            return []
        where = profiles.c.id.in_(sorted(set(profile_ids)))
        return self._profiles(where, limit=len(profile_ids), offset=0)

    def list_profiles(
        self,
        limit: int = 100,
        offset: int = 0,
        category: str | None = None,
        statuses: Sequence[Status] | None = None,
    ) -> list[Profile]:
        """Profiles in id order; ``statuses`` None means every status."""
        return self._profiles(self._filter(category, statuses), limit=limit, offset=offset)

    def count_profiles(self, category: str | None = None, statuses: Sequence[Status] | None = None) -> int:
        query = select(func.count(profiles.c.id))
        where = self._filter(category, statuses)
        if where is not None:
            query = query.where(where)
        with transactions.connect(self.engine) as conn:
            return int(conn.execute(query).scalar_one())

    def _filter(self, category: str | None, statuses: Sequence[Status] | None) -> ColumnElement[bool] | None:
        clauses: list[ColumnElement[bool]] = []
        if category:
            clauses.append(profiles.c.category == validate_category(category))
        if statuses is not None:
            clauses.append(profiles.c.status.in_([s.value for s in statuses]))
        return and_(*clauses) if clauses else None

    def _profiles(self, where: ColumnElement[bool] | None, limit: int, offset: int) -> list[Profile]:
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
        query = query.order_by(profiles.c.id).limit(max(0, limit)).offset(max(0, offset))
        with transactions.connect(self.engine) as conn:
            return [profile_from_row(row) for row in conn.execute(query)]

    def iter_embeddings(
        self, now: datetime | None = None, profile_id: int | None = None
    ) -> Iterator[StoredEmbedding]:
        """Every embedding of every profile in force and unexpired at ``now``, in id order."""
        query = (
            select(
                face_embeddings.c.id,
                face_embeddings.c.profile_id,
                profiles.c.name,
                profiles.c.category,
                face_embeddings.c.vector,
                profiles.c.expires_at,
            )
            .join(profiles, profiles.c.id == face_embeddings.c.profile_id)
            .where(
                profiles.c.status.in_([s.value for s in IN_FORCE]),
                profiles.c.expires_at > (now or _now()),
            )
            .order_by(face_embeddings.c.id)
        )
        if profile_id is not None:
            query = query.where(face_embeddings.c.profile_id == profile_id)
        with transactions.connect(self.engine) as conn:
            rows = conn.execute(query).all()
        for row in rows:
            yield StoredEmbedding(
                int(row.id),
                int(row.profile_id),
                row.name,
                row.category,
                vector_from_bytes(row.vector),
                utc(row.expires_at),
            )

    def profile_photo(self, profile_id: int, crop: bool, photo_id: int | None = None) -> bytes | None:
        """The first (or the given) photo of a profile: the face crop JPEG or the original bytes."""
        column = profile_photos.c.crop_jpeg if crop else profile_photos.c.original
        query = select(column).where(profile_photos.c.profile_id == profile_id)
        if photo_id is not None:
            query = query.where(profile_photos.c.id == photo_id)
        with transactions.connect(self.engine) as conn:
            data = conn.execute(query.order_by(profile_photos.c.id).limit(1)).scalar()
        return bytes(data) if data is not None else None

    def photo_ids(self, profile_id: int) -> list[int]:
        query = select(profile_photos.c.id).where(profile_photos.c.profile_id == profile_id)
        with transactions.connect(self.engine) as conn:
            return [int(i) for i in conn.execute(query.order_by(profile_photos.c.id)).scalars()]
