"""Watchlist matching: embeddings in, best profiles out, with the index kept current by changes.

The worker applies changes from its asyncio thread while its analysis thread matches, so every public
method holds one lock. Changes are idempotent: an upsert replaces the profile's embeddings with the ones
it carries (or, if it carries none, only renames/recategorises), a remove drops them; replaying either
changes nothing. A change whose revision is at or below the revision read by ``load`` is already in the
loaded state and is skipped; ``load`` reads the revision *before* the embeddings, so a change committed
in between is re-applied (harmless), never missed.

Every entry carries the expiry of its legal basis. ``match`` ignores an entry from the instant it
expires (and drops it from the index), so a worker running for months stops matching it on time
without waiting for a reload or a message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from pipeline.contracts import WatchlistChange
from pipeline.models.mobilefacenet import EMBEDDING_DIM
from pipeline.settings import Settings
from watchlist.index import FaceIndex, build_index
from watchlist.store import WatchlistStore

_SEARCH_FACTOR = 4  # a profile may hold several embeddings; over-fetch before keeping the best per profile
_MIN_SEARCH = 16


@dataclass(frozen=True, slots=True)
class Match:
    profile_id: int
    name: str
    category: str
    similarity: float
    passes: bool


@dataclass(frozen=True, slots=True)
class _Owner:
    profile_id: int
    name: str
    category: str
    expires_at: datetime | None  # None: no expiry known (a change from an older publisher)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WatchlistMatcher:
    def __init__(
        self, settings: Settings, dim: int = EMBEDDING_DIM, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._index_config = settings.watchlist.index
        self._threshold = settings.recognition.threshold
        self._top_k = settings.recognition.top_k
        self._dim = dim
        self._clock = clock
        self._lock = threading.Lock()
        self._index: FaceIndex = build_index(self._index_config, dim)
        self._owners: dict[int, _Owner] = {}  # embedding id -> profile
        self._by_profile: dict[int, set[int]] = {}  # profile id -> embedding ids
        self._loaded_revision = 0
        self._revision = 0

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def revision(self) -> int:
        """The highest watchlist revision reflected in the index."""
        with self._lock:
            return self._revision

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    def profile_count(self) -> int:
        with self._lock:
            return len(self._by_profile)

    def load(self, store: WatchlistStore) -> None:
        """Rebuild the index from the database (entries in force and unexpired), then swap it in."""
        revision = store.revision()  # read first: anything committed later is re-applied, never lost
        index = build_index(self._index_config, self._dim)
        owners: dict[int, _Owner] = {}
        by_profile: dict[int, set[int]] = {}
        ids: list[int] = []
        vectors: list[npt.NDArray[np.float32]] = []
        for row in store.iter_embeddings(now=self._clock()):
            owners[row.embedding_id] = _Owner(row.profile_id, row.name, row.category, row.expires_at)
            by_profile.setdefault(row.profile_id, set()).add(row.embedding_id)
            ids.append(row.embedding_id)
            vectors.append(row.vector)
        if ids:
            index.add(ids, np.stack(vectors))
        with self._lock:
            self._index, self._owners, self._by_profile = index, owners, by_profile
            self._loaded_revision = self._revision = revision

    def apply(self, change: WatchlistChange) -> bool:
        """Apply one change; returns False if it was already reflected (stale revision)."""
        if change.action == "upsert" and len(change.embeddings) != len(change.embedding_ids):
            raise ValueError(
                f"change for profile {change.profile_id} has {len(change.embedding_ids)} ids "
                f"but {len(change.embeddings)} embeddings"
            )
        with self._lock:
            if 0 < change.revision <= self._loaded_revision:
                return False
            if change.action == "remove":
                known = self._by_profile.get(change.profile_id, set())
                self._drop(change.profile_id, known | set(change.embedding_ids))
            elif change.embedding_ids:
                self._upsert(change)
            else:
                self._rename(change)
            self._revision = max(self._revision, change.revision)
            return True

    def _drop(self, profile_id: int, embedding_ids: set[int]) -> None:
        gone = set(embedding_ids)
        self._index.remove(sorted(gone))
        for embedding_id in gone:
            self._owners.pop(embedding_id, None)
        remaining = self._by_profile.get(profile_id, set()) - gone
        if remaining:
            self._by_profile[profile_id] = remaining
        else:
            self._by_profile.pop(profile_id, None)

    def _upsert(self, change: WatchlistChange) -> None:
        wanted = set(change.embedding_ids)
        self._drop(change.profile_id, self._by_profile.get(change.profile_id, set()) - wanted)
        vectors = np.asarray(change.embeddings, dtype=np.float32).reshape(-1, self._dim)
        self._index.add(change.embedding_ids, vectors)
        owner = _Owner(change.profile_id, change.name, change.category, change.expires_at)
        for embedding_id in change.embedding_ids:
            self._owners[embedding_id] = owner
        self._by_profile[change.profile_id] = wanted

    def _rename(self, change: WatchlistChange) -> None:
        for embedding_id in self._by_profile.get(change.profile_id, set()):
            old = self._owners[embedding_id]
            expires = change.expires_at if change.expires_at is not None else old.expires_at
            self._owners[embedding_id] = _Owner(change.profile_id, change.name, change.category, expires)

    def match(self, embeddings: npt.NDArray[np.float32], top_k: int | None = None) -> list[list[Match]]:
        """For each embedding, the best ``top_k`` profiles (best similarity per profile), best first."""
        k = top_k or self._top_k
        queries = np.asarray(embeddings, dtype=np.float32).reshape(-1, self._dim)
        if len(queries) == 0:
            return []
        with self._lock:
            size = len(self._index)
            if size == 0:
                return [[] for _ in range(len(queries))]
            fetch = min(size, max(k * _SEARCH_FACTOR, _MIN_SEARCH))
            sims, ids = self._index.search(queries, fetch)
            now, expired = self._clock(), set[int]()
            results = [
                self._per_profile(row_sims, row_ids, k, now, expired)
                for row_sims, row_ids in zip(sims, ids, strict=True)
            ]
            for profile_id in expired:  # lapsed since loaded: never consider it again
                self._drop(profile_id, set(self._by_profile.get(profile_id, set())))
            return results

    def _per_profile(
        self,
        sims: npt.NDArray[np.float32],
        ids: npt.NDArray[np.int64],
        k: int,
        now: datetime,
        expired: set[int],
    ) -> list[Match]:
        best: dict[int, Match] = {}
        for sim, embedding_id in zip(sims.tolist(), ids.tolist(), strict=True):
            owner = self._owners.get(embedding_id)
            if owner is None or owner.profile_id in best:
                continue  # results are sorted, so the first hit of a profile is its best
            if owner.expires_at is not None and owner.expires_at <= now:
                expired.add(owner.profile_id)
                continue
            best[owner.profile_id] = Match(
                owner.profile_id, owner.name, owner.category, float(sim), bool(sim >= self._threshold)
            )
        return sorted(best.values(), key=lambda m: m.similarity, reverse=True)[:k]
