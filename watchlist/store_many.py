"""Many watchlist profiles stored in one transaction: a bulk import's group of enrolments.

``WatchlistStore.add_profile`` spends a dozen statements on one profile (its row, a photo, an
embedding, its lists, their thresholds, the revision): on PostgreSQL about 15 ms of the client's CPU,
as much as finding and embedding the face. Here each table gets one multi-row INSERT ... RETURNING for
the whole group (ids in the order given), each category's default list is looked up once, every list
touched is recalibrated once and the revision bumped once. All or nothing, as one profile is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

from pipeline.adapters import transactions
from watchlist.governance import InvalidProfileError, LegalBasis, Status
from watchlist.membership import add_members, chosen_lists
from watchlist.store import WatchlistStore, profile_row, vector_to_bytes
from watchlist.tables import face_embeddings, profile_photos, profiles
from watchlist.types import AddedProfile, NewPhoto

RecalibrateMany = Callable[[Connection, Sequence[int]], None]
"""Inside the transaction: the thresholds of every list these profiles are on follow, each list once."""


@dataclass(frozen=True, slots=True)
class ProfileToAdd:
    name: str
    category: str
    photos: Sequence[NewPhoto]
    basis: LegalBasis
    lists: Sequence[int] | None = None  # watch list ids; None: the list that takes its category


def add_profiles(
    store: WatchlistStore,
    items: Sequence[ProfileToAdd],
    model: str,
    *,
    proposed_by: str,
    approved_by: str | None = None,
    recalibrate: RecalibrateMany | None = None,
) -> list[AddedProfile]:
    """Store ``items`` in one transaction, as ``add_profile`` stores each (pending without
    ``approved_by``, active with it); their results in the same order. Raises InvalidProfileError (for
    the first invalid item, or an unknown list) and stores nothing then."""
    if not items:
        return []
    now = datetime.now(UTC)
    rows = [profile_row(i.name, i.category, i.basis, proposed_by, approved_by, now) for i in items]
    if any(not item.photos for item in items):
        raise InvalidProfileError("a profile needs at least one photo")
    status, actor = Status(str(rows[0]["status"])), str(rows[0]["proposed_by"])
    with transactions.begin(store.engine) as conn:
        profile_ids = _inserted(conn, profiles, rows)
        photo_ids, embedding_ids = _add_photos(conn, profile_ids, items, model, now)
        joined = _join(conn, profile_ids, [str(r["category"]) for r in rows], items, actor)
        if status is Status.ACTIVE and recalibrate is not None:
            recalibrate(conn, profile_ids)
        revision = store.bump(conn) if status is Status.ACTIVE else store.revision_in(conn)
    return [
        AddedProfile(pid, photos, embeddings, revision, status, lists)
        for pid, photos, embeddings, lists in zip(profile_ids, photo_ids, embedding_ids, joined, strict=True)
    ]


def _inserted(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (one multi-row statement where the driver allows); their ids in row order."""
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(i) for i in conn.execute(statement, rows).scalars().all()]


def _add_photos(
    conn: Connection, profile_ids: list[int], items: Sequence[ProfileToAdd], model: str, now: datetime
) -> tuple[list[list[int]], list[list[int]]]:
    """Every item's photos and their embeddings; per item, the photo ids and the embedding ids."""
    owners = [(pid, photo) for pid, item in zip(profile_ids, items, strict=True) for photo in item.photos]
    photo_rows = [
        {
            "profile_id": pid,
            "original": photo.original,
            "crop_jpeg": photo.crop_jpeg,
            "width": photo.width,
            "height": photo.height,
            "created_at": now,
        }
        for pid, photo in owners
    ]
    photo_ids = _inserted(conn, profile_photos, photo_rows)
    embedding_rows = [
        {"profile_id": pid, "photo_id": photo_id, "model": model, "vector": vector_to_bytes(photo.embedding)}
        for (pid, photo), photo_id in zip(owners, photo_ids, strict=True)
    ]
    embedding_ids = _inserted(conn, face_embeddings, embedding_rows)
    per_photo, per_embedding, at = [], [], 0
    for item in items:
        per_photo.append(photo_ids[at : at + len(item.photos)])
        per_embedding.append(embedding_ids[at : at + len(item.photos)])
        at += len(item.photos)
    return per_photo, per_embedding


def _join(
    conn: Connection, profile_ids: list[int], categories: list[str], items: Sequence[ProfileToAdd], actor: str
) -> list[list[int]]:
    """Each profile put on its lists (each distinct choice of lists looked up once); the lists per item."""
    found: dict[tuple[str, tuple[int, ...] | None], list[int]] = {}
    joined = []
    for category, item in zip(categories, items, strict=True):
        key = (category, tuple(item.lists) if item.lists is not None else None)
        if key not in found:
            found[key] = chosen_lists(conn, category, item.lists)
        joined.append(found[key])
    add_members(conn, list(zip(profile_ids, joined, strict=True)), actor)
    return joined
