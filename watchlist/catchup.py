"""Bring a matcher from an older state to the database's, reading only the profiles changed since.

A snapshot, or a worker's last full read, reflects the database as of a moment. Every change that
affects matching (an activation, a removal, a rename) rewrites its profile's ``updated_at`` in the same
transaction that bumps the revision, so the profiles with ``updated_at`` after that moment — less a
margin for clock skew between hosts and for transactions that were still open — are all that can
differ. Each becomes one ``WatchlistChange`` (revision 0: always applied): an upsert carrying the
profile's embeddings while it is in force and unexpired, a removal otherwise. Re-applying one that
was already reflected changes nothing, so the margin costs a little work, never correctness.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from pipeline.adapters import transactions
from pipeline.contracts import WatchlistChange
from watchlist.governance import IN_FORCE, utc
from watchlist.membership import member_lists
from watchlist.store import WatchlistStore, vector_from_bytes
from watchlist.tables import face_embeddings, profiles

_IN_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class CatchUp:
    revision: int  # the database's revision, read before the profiles: everything up to it is covered
    changes: list[WatchlistChange]


def _chunks(values: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield list(values[start : start + _IN_CHUNK])


def changes_since(store: WatchlistStore, since: datetime, now: datetime) -> CatchUp:
    """Every profile changed at or after ``since``, as the change that brings a matcher up to date."""
    revision = store.revision()  # first: a change committed after this is re-read or announced
    return CatchUp(revision, _changes(store, profiles.c.updated_at >= since, now))


def changes_for(store: WatchlistStore, profile_ids: Sequence[int], now: datetime) -> list[WatchlistChange]:
    """The changes that bring a matcher up to date on these profiles (their lists moved, say)."""
    changes = []
    for chunk in _chunks(sorted(set(profile_ids))):
        changes.extend(_changes(store, profiles.c.id.in_(chunk), now))
    return changes


def _changes(store: WatchlistStore, where: ColumnElement[bool], now: datetime) -> list[WatchlistChange]:
    in_force = [s.value for s in IN_FORCE]
    with transactions.connect(store.engine) as conn:
        rows = conn.execute(
            select(
                profiles.c.id, profiles.c.name, profiles.c.category, profiles.c.status, profiles.c.expires_at
            )
            .where(where)
            .order_by(profiles.c.id)
        ).all()
        embeddings: dict[int, list[tuple[int, bytes]]] = {}
        ids = [int(r.id) for r in rows]
        for chunk in _chunks(ids):
            query = (
                select(face_embeddings.c.profile_id, face_embeddings.c.id, face_embeddings.c.vector)
                .where(face_embeddings.c.profile_id.in_(chunk))
                .order_by(face_embeddings.c.id)
            )
            for e in conn.execute(query):
                embeddings.setdefault(int(e.profile_id), []).append((int(e.id), bytes(e.vector)))
        lists = member_lists(conn, ids)
    changes = []
    for row in rows:
        own = embeddings.get(int(row.id), [])
        expires = utc(row.expires_at)
        if row.status in in_force and expires > now and own:
            changes.append(
                WatchlistChange(
                    action="upsert",
                    profile_id=int(row.id),
                    name=row.name,
                    category=row.category,
                    embedding_ids=[i for i, _ in own],
                    embeddings=[vector_from_bytes(v).astype(float).tolist() for _, v in own],
                    expires_at=expires,
                    lists=lists.get(int(row.id), []),
                )
            )
        else:
            changes.append(
                WatchlistChange(action="remove", profile_id=int(row.id), embedding_ids=[i for i, _ in own])
            )
    return changes


def stored_embeddings(
    store: WatchlistStore, embedding_ids: Sequence[int]
) -> dict[int, tuple[int, npt.NDArray[np.float32]]]:
    """Embedding id -> (profile id, vector) for the ids the database holds, whatever their status."""
    found: dict[int, tuple[int, npt.NDArray[np.float32]]] = {}
    with transactions.connect(store.engine) as conn:
        for chunk in _chunks(list(embedding_ids)):
            query = select(
                face_embeddings.c.id, face_embeddings.c.profile_id, face_embeddings.c.vector
            ).where(face_embeddings.c.id.in_(chunk))
            for row in conn.execute(query):
                found[int(row.id)] = (int(row.profile_id), vector_from_bytes(row.vector))
    return found
