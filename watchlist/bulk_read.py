"""Every embedding in force, read column by column: what building an index from the database needs.

Rows stream from the database in partitions (a server-side cursor on PostgreSQL) and land in numpy
arrays, so 1.5 million profiles cost their vectors (768 MB) and one small tuple per profile, not the
several gigabytes that one Python object per row and column would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select

from pipeline.adapters import transactions
from watchlist.governance import IN_FORCE, utc
from watchlist.index_base import FloatArray, IdArray
from watchlist.store import WatchlistStore
from watchlist.tables import face_embeddings, profiles, watch_list_members, watch_lists

_PARTITION = 20_000


@dataclass(frozen=True)
class InForce:
    embedding_ids: IdArray
    embedding_profiles: IdArray  # the profile of each embedding
    vectors: FloatArray  # (n, dim)
    owners: dict[int, tuple[str, str, datetime, tuple[int, ...]]]  # profile -> name, category, expiry, lists


def read_in_force(
    store: WatchlistStore, now: datetime, dim: int, keep: Callable[[Sequence[int]], bool] | None = None
) -> InForce:
    """Every embedding of every profile in force and unexpired at ``now``, in embedding id order; with
    ``keep``, only those of profiles whose watch lists it keeps."""
    where = (profiles.c.status.in_([s.value for s in IN_FORCE]), profiles.c.expires_at > now)
    joined = face_embeddings.join(profiles, profiles.c.id == face_embeddings.c.profile_id)
    columns = (
        face_embeddings.c.id,
        face_embeddings.c.profile_id,
        face_embeddings.c.vector,
        profiles.c.name,
        profiles.c.category,
        profiles.c.expires_at,
    )
    owners: dict[int, tuple[str, str, datetime, tuple[int, ...]]] = {}
    with transactions.connect(store.engine) as conn:
        lists = _memberships(conn)
        expected = int(conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one())
        ids = np.zeros(expected, dtype=np.int64)  # filled in place: no second copy of the vectors
        owner_ids = np.zeros(expected, dtype=np.int64)
        vectors = np.zeros((expected, dim), dtype=np.float32)
        filled = 0
        query = select(*columns).select_from(joined).where(*where).order_by(face_embeddings.c.id)
        for partition in conn.execute(query, execution_options={"yield_per": _PARTITION}).partitions():
            end = filled + len(partition)
            if end > len(ids):  # enrolled since the count: grow (rare)
                ids, owner_ids, vectors = (_grown(a, end + _PARTITION) for a in (ids, owner_ids, vectors))
            ids[filled:end] = [r.id for r in partition]
            owner_ids[filled:end] = [r.profile_id for r in partition]
            blob = b"".join(bytes(r.vector) for r in partition)
            vectors[filled:end] = np.frombuffer(blob, dtype="<f4").reshape(-1, dim)
            for r in partition:
                if r.profile_id not in owners:
                    on = lists.get(int(r.profile_id), ())
                    owners[int(r.profile_id)] = (r.name, r.category, utc(r.expires_at), on)
            filled = end
    found = InForce(ids[:filled], owner_ids[:filled], vectors[:filled], owners)
    return found if keep is None else _kept(found, keep)


def _memberships(conn: Any) -> dict[int, tuple[int, ...]]:
    """Profile id -> its active watch lists; one tuple object per distinct set (most profiles share one)."""
    query = (
        select(watch_list_members.c.profile_id, watch_list_members.c.list_id)
        .join(watch_lists, watch_lists.c.id == watch_list_members.c.list_id)
        .where(watch_lists.c.status == "active")
        .order_by(watch_list_members.c.profile_id, watch_list_members.c.list_id)
    )
    grouped: dict[int, list[int]] = {}
    for profile_id, list_id in conn.execute(query):
        grouped.setdefault(int(profile_id), []).append(int(list_id))
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}
    return {pid: shared.setdefault(tuple(ids), tuple(ids)) for pid, ids in grouped.items()}


def _kept(found: InForce, keep: Callable[[Sequence[int]], bool]) -> InForce:
    owners = {pid: owner for pid, owner in found.owners.items() if keep(owner[3])}
    mask = np.fromiter((int(p) in owners for p in found.embedding_profiles), dtype=bool)
    return InForce(found.embedding_ids[mask], found.embedding_profiles[mask], found.vectors[mask], owners)


def _grown(array: npt.NDArray[Any], length: int) -> npt.NDArray[Any]:
    grown = np.zeros((length, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown
