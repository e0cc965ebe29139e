"""Watchlist matching: embeddings in, best profiles out, with the index kept current by changes.

The worker applies changes from its asyncio thread while its analysis thread matches, so every public
method holds one lock. Changes are idempotent: an upsert replaces the profile's embeddings with the ones
it carries (or, if it carries none, only renames/recategorises), a remove drops them; replaying either
changes nothing. A change whose revision is at or below the revision read by ``load`` is already in the
loaded state and is skipped; ``load`` reads the revision *before* the embeddings, so a change committed
in between is re-applied (harmless), never missed.

``export`` and ``restore`` move the whole state through a snapshot (``watchlist.snapshot``), so a worker
starts without rebuilding the index; ``caught_up`` records how far a catch-up with the database got.

Every entry carries the expiry of its legal basis. ``match`` ignores an entry from the instant it
expires (and drops it from the index), so a worker running for months stops matching it on time
without waiting for a reload or a message.

Every entry also carries the watch lists its profile is on. A matcher built with ``keep`` holds only
the profiles whose lists it keeps (a worker: those on a live list); one without holds every profile in
force (investigative search). ``match`` with a ``scope`` (list id -> thresholds) considers only profiles
on a list in scope, each judged by the lowest threshold among its lists there.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from pipeline.contracts import WatchlistChange
from pipeline.models.mobilefacenet import EMBEDDING_DIM
from pipeline.settings import Settings
from watchlist.bulk_read import read_in_force
from watchlist.index import FaceIndex, StateError, build_index, restore_index
from watchlist.snapshot import Owners, WatchlistState, from_micros, to_micros
from watchlist.store import WatchlistStore

T = TypeVar("T")

_SEARCH_FACTOR = 4  # a profile may hold several embeddings; over-fetch before keeping the best per profile
_MIN_SEARCH = 16


@dataclass(frozen=True, slots=True)
class ListThreshold:
    """How one watch list matches where it is in scope (a camera): its thresholds, its priority."""

    list_id: int
    threshold: float
    strong: float
    priority: int = 3


Scope = Mapping[int, ListThreshold]
"""List id -> how it matches; the key ``EVERY_PROFILE`` holds a list that applies to every profile (the
gallery of every profile in force), whatever lists the profile is on."""
EVERY_PROFILE = 0
KeepLists = Callable[[Sequence[int]], bool]


@dataclass(frozen=True, slots=True)
class Match:
    profile_id: int
    name: str
    category: str
    similarity: float
    passes: bool
    threshold: float = 0.0
    strong: float | None = None
    list_id: int | None = None  # the list it matched through (the lowest threshold in scope)
    lists: tuple[int, ...] = ()


class _Owner(NamedTuple):  # a tuple: 1.5M of them are built in a fraction of a dataclass's time
    profile_id: int
    name: str
    category: str
    expires_at: datetime | None  # None: no expiry known (a change from an older publisher)
    lists: tuple[int, ...] = ()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WatchlistMatcher:
    def __init__(
        self,
        settings: Settings,
        dim: int = EMBEDDING_DIM,
        clock: Callable[[], datetime] = _utcnow,
        keep: KeepLists | None = None,
    ) -> None:
        """``keep``: which profiles to hold, by their lists (None: every profile in force)."""
        self._keep = keep
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

    @property
    def loaded_revision(self) -> int:
        """The revision up to which the index matches the database (a load, a snapshot, a catch-up);
        announced changes may have taken ``revision`` further."""
        with self._lock:
            return self._loaded_revision

    def caught_up(self, revision: int) -> None:
        """Record that every change up to ``revision`` is now applied (``watchlist.catchup``)."""
        with self._lock:
            self._loaded_revision = max(self._loaded_revision, revision)
            self._revision = max(self._revision, revision)

    def export(self, taken_at: datetime, model: str, write: Callable[[WatchlistState], T]) -> T:
        """Call ``write`` with the current state (``watchlist.snapshot``) while holding the lock, so no
        change lands half-way. The watermark is the loaded revision and ``taken_at``, the moment the
        database was last read: a reader catches up from there, so a change this matcher never heard
        of is not lost either."""
        with self._lock:
            profile_ids = sorted(self._by_profile)
            first = [self._owners[min(self._by_profile[p])] for p in profile_ids]
            embedding_ids = sorted(self._owners)
            owners = Owners(
                embedding_ids=np.asarray(embedding_ids, dtype=np.int64),
                embedding_profiles=np.asarray([self._owners[e].profile_id for e in embedding_ids], np.int64),
                profile_ids=np.asarray(profile_ids, dtype=np.int64),
                names=[o.name for o in first],
                categories=[o.category for o in first],
                expires_us=np.asarray([to_micros(o.expires_at) for o in first], dtype=np.int64),
                lists=[o.lists for o in first],
            )
            state = WatchlistState(
                self._loaded_revision, taken_at, model, self._dim, self._index.export_state(), owners
            )
            return write(state)

    def restore(self, state: WatchlistState) -> None:
        """Swap in a snapshot's content; StateError if it does not fit this matcher (nothing changes)."""
        if state.dim != self._dim:
            raise StateError(f"the snapshot holds {state.dim}-d embeddings, this matcher {self._dim}-d")
        index = restore_index(self._index_config, self._dim, state.index)
        o = state.owners
        expiry = {us: from_micros(us) for us in set(o.expires_us.tolist())}  # legal bases share dates
        with _gc_paused():
            per_profile = {
                pid: _Owner(pid, name, category, expiry[expires], lists)
                for pid, name, category, expires, lists in zip(
                    o.profile_ids.tolist(),
                    o.names,
                    o.categories,
                    o.expires_us.tolist(),
                    o.lists,
                    strict=True,
                )
            }
            owners, by_profile = _owner_maps(o.embedding_ids, o.embedding_profiles, per_profile)
        if len(owners) != len(index):
            raise StateError(f"the snapshot's index holds {len(index)} vectors for {len(owners)} owners")
        self._keep_only(index, owners, by_profile)
        with self._lock:
            self._index, self._owners, self._by_profile = index, owners, by_profile
            self._loaded_revision = self._revision = state.revision

    def load(self, store: WatchlistStore) -> None:
        """Rebuild the index from the database (entries in force and unexpired), then swap it in.

        Rows are read column by column (``watchlist.bulk_read``): with 1.5M profiles the vectors are
        most of the memory this takes, not one Python object per row."""
        revision = store.revision()  # read first: anything committed later is re-applied, never lost
        rows = read_in_force(store, self._clock(), self._dim, self._keep)
        index = build_index(self._index_config, self._dim)
        if len(rows.embedding_ids):
            index.add(rows.embedding_ids, rows.vectors)
        with _gc_paused():
            per_profile = {pid: _Owner(pid, *owner) for pid, owner in rows.owners.items()}
            owners, by_profile = _owner_maps(rows.embedding_ids, rows.embedding_profiles, per_profile)
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
            if change.action == "lists":
                pass  # the lists' thresholds changed: whoever scopes matches reloads them
            elif change.action == "remove" or not self._keeps(change.lists):
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
        owner = _Owner(
            change.profile_id, change.name, change.category, change.expires_at, tuple(change.lists)
        )
        for embedding_id in change.embedding_ids:
            self._owners[embedding_id] = owner
        self._by_profile[change.profile_id] = wanted

    def _rename(self, change: WatchlistChange) -> None:
        for embedding_id in self._by_profile.get(change.profile_id, set()):
            old = self._owners[embedding_id]
            expires = change.expires_at if change.expires_at is not None else old.expires_at
            self._owners[embedding_id] = _Owner(
                change.profile_id, change.name, change.category, expires, tuple(change.lists)
            )

    def _keeps(self, lists: Sequence[int]) -> bool:
        return self._keep is None or self._keep(lists)

    def _keep_only(
        self, index: FaceIndex, owners: dict[int, _Owner], by_profile: dict[int, set[int]]
    ) -> None:
        """Drop, from a state being built, the profiles this matcher does not hold (by their lists)."""
        if self._keep is None:
            return
        dropped = [pid for pid, ids in by_profile.items() if not self._keeps(owners[min(ids)].lists)]
        gone = sorted(e for pid in dropped for e in by_profile.pop(pid))
        if gone:
            index.remove(gone)
            for embedding_id in gone:
                del owners[embedding_id]

    def refilter(self) -> int:
        """Drop the profiles ``keep`` no longer holds (a list stopped being live); returns how many.
        Profiles it now holds again come back through a catch-up, which re-reads them."""
        with self._lock:
            before = len(self._by_profile)
            self._keep_only(self._index, self._owners, self._by_profile)
            return before - len(self._by_profile)

    def match(
        self, embeddings: npt.NDArray[np.float32], top_k: int | None = None, scope: Scope | None = None
    ) -> list[list[Match]]:
        """For each embedding, the best ``top_k`` profiles (best similarity per profile), best first.

        With ``scope``, only profiles on a list in it, each passing at its lowest list threshold there;
        without, every profile held, passing at the global threshold."""
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
                self._per_profile(row_sims, row_ids, k, now, expired, scope)
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
        scope: Scope | None,
    ) -> list[Match]:
        best: dict[int, Match] = {}
        for sim, embedding_id in zip(sims.tolist(), ids.tolist(), strict=True):
            owner = self._owners.get(embedding_id)
            if owner is None or owner.profile_id in best:
                continue  # results are sorted, so the first hit of a profile is its best
            if owner.expires_at is not None and owner.expires_at <= now:
                expired.add(owner.profile_id)
                continue
            if scope is None:
                threshold, strong, via = self._threshold, None, None
            else:
                rule = _loosest(owner.lists, scope)
                if rule is None:
                    continue  # on no list watched here
                threshold, strong, via = rule.threshold, rule.strong, rule.list_id
            best[owner.profile_id] = Match(
                owner.profile_id,
                owner.name,
                owner.category,
                float(sim),
                bool(sim >= threshold),
                threshold,
                strong,
                via,
                owner.lists,
            )
        return sorted(best.values(), key=lambda m: m.similarity, reverse=True)[:k]


def _loosest(lists: Sequence[int], scope: Scope) -> ListThreshold | None:
    """The list in scope with the lowest threshold (then the most urgent): the one a match goes by."""
    rules = [scope[i] for i in lists if i in scope]
    if EVERY_PROFILE in scope:
        rules.append(scope[EVERY_PROFILE])
    return min(rules, key=lambda r: (r.threshold, r.priority, r.list_id)) if rules else None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of tuples and sets are built: each collection would
    walk every object built so far, which costs more than the building (3.5 s of 5 s at 1.5M)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _owner_maps(
    embedding_ids: npt.NDArray[np.int64],
    embedding_profiles: npt.NDArray[np.int64],
    per_profile: dict[int, _Owner],
) -> tuple[dict[int, _Owner], dict[int, set[int]]]:
    """Embedding id -> owner and profile id -> embedding ids; one owner object shared per profile.

    Written for 1.5M entries: dict and set building in C where it can be (most profiles hold one)."""
    ids, profile_of = embedding_ids.tolist(), embedding_profiles.tolist()
    try:
        owners = dict(zip(ids, map(per_profile.__getitem__, profile_of), strict=True))
    except KeyError as exc:
        raise StateError(f"an embedding belongs to profile {exc.args[0]}, which is not listed") from None
    unique, counts = np.unique(embedding_profiles, return_counts=True)
    shared = set(unique[counts > 1].tolist())
    by_profile = {pid: {eid} for eid, pid in zip(ids, profile_of, strict=True) if pid not in shared}
    for eid, pid in zip(ids, profile_of, strict=True):
        if pid in shared:
            by_profile.setdefault(pid, set()).add(eid)
    return owners, by_profile
