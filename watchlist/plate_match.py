"""Matching plate reads against the vehicle hotlist, tolerant to OCR confusions and partial reads.

``HotlistMatcher`` holds the alerting hotlist in memory as three hash indexes, so a read costs a few
dictionary lookups whatever the size of the list:

- exact: the read's key is an entry's key;
- confusion: same length, every difference a known OCR confusion (``O``/``0``, ``I``/``1``, ``B``/``8``
  ...), at most ``MatchPolicy.confusions_allowed(len)`` of them (none under 5 characters) besides O/0 and
  I/1, which many plate fonts draw alike (they still add to the distance);
- partial: the read misses the first or last character of an entry (a plate cut by the frame edge or
  a character lost to glare), with at most one confusion in the rest, and is at least 5 characters.

Exact beats confusion beats partial: when a read matches some entry exactly, weaker explanations of
the same read are not reported (they would be false alerts on another vehicle). The thresholds were
set on the 242 distinct plates of the benchmark set: with all of them on the list, no plate hits
another (see ``tests/watchlist/test_plate_match.py``). General edits (a wrong letter that is no known
confusion, a missing middle character) never alert; officers find such vehicles with the search
(``watchlist.vehicle_search``).

The matcher is safe to share between threads: ``load`` builds a new index aside and swaps it in with
one assignment, and ``match`` reads whichever index was current when it started.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from watchlist.plate_text import confusions, fold, plate_distance, read_key, telling_differences
from watchlist.vehicle_types import HotlistEntry

__all__ = [
    "HotlistMatch",
    "HotlistMatcher",
    "HotlistSource",
    "MatchKind",
    "MatchPolicy",
    "classify",
    "plate_distance",
]

MatchKind = Literal["exact", "confusion", "partial"]
KIND_RANK: dict[str, int] = {"exact": 0, "confusion": 1, "partial": 2}


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """When a read counts as a sighting of a hotlisted vehicle (an alert)."""

    min_confusion_length: int = 5  # shorter keys alert only on an exact read
    max_confusions: int = 2  # in keys of ``long_key`` characters or more; one below that
    long_key: int = 7
    max_confusion_cost: float = 0.6
    min_partial_length: int = 5  # characters a read missing one end must still have
    max_partial_confusions: int = 1
    partial_cost: float = 0.5  # what the missing end character adds to the distance

    def confusions_allowed(self, length: int) -> int:
        if length < self.min_confusion_length:
            return 0
        return self.max_confusions if length >= self.long_key else 1


DEFAULT_POLICY = MatchPolicy()


@dataclass(frozen=True, slots=True)
class HotlistMatch:
    entry: HotlistEntry
    kind: MatchKind
    distance: float  # weighted: confusions 0.2-0.4 each, a missing end character 0.5
    score: float  # 1.0 for an exact read, lower the further the read is from the entry
    read: str  # the key that was matched


def score(distance: float, key: str) -> float:
    return round(max(0.0, 1.0 - distance / max(len(key), 1)), 4)


def classify(read: str, key: str, policy: MatchPolicy = DEFAULT_POLICY) -> tuple[MatchKind, float] | None:
    """How the read ``read`` matches the entry key ``key`` under ``policy``, or None if it does not."""
    if read == key:
        return "exact", 0.0
    costs = confusions(read, key)
    if costs is not None:
        total = round(sum(costs), 6)
        counted = telling_differences(read, key)  # O/0 and I/1 cost, but are not counted as confusions
        if counted <= policy.confusions_allowed(len(key)) and total <= policy.max_confusion_cost:
            return "confusion", total
        return None
    if len(read) + 1 != len(key) or len(read) < policy.min_partial_length:
        return None
    best: float | None = None
    for part in (key[1:], key[:-1]):
        costs = confusions(read, part)
        if costs is not None and len(costs) <= policy.max_partial_confusions:
            distance = round(policy.partial_cost + sum(costs), 6)
            best = distance if best is None else min(best, distance)
    return ("partial", best) if best is not None else None


class HotlistSource(Protocol):
    """Where the matcher loads from: ``watchlist.vehicles.VehicleHotlist`` or a test double."""

    def revision(self) -> int: ...

    def matching_entries(self, now: datetime | None = None) -> list[HotlistEntry]: ...


Index = dict[str, tuple[HotlistEntry, ...]]


@dataclass(frozen=True, slots=True)
class _Indexes:
    revision: int
    size: int
    exact: Index
    folded: Index  # fold(key) -> entries: confusion candidates
    trimmed: Index  # fold(key minus its first or last character) -> entries: partial candidates


def _build(entries: Iterable[HotlistEntry], revision: int) -> _Indexes:
    exact: defaultdict[str, list[HotlistEntry]] = defaultdict(list)
    folded: defaultdict[str, list[HotlistEntry]] = defaultdict(list)
    trimmed: defaultdict[str, list[HotlistEntry]] = defaultdict(list)
    size = 0
    for entry in entries:
        if entry.removed:
            continue
        size += 1
        key = entry.plate_key
        exact[key].append(entry)
        folded[fold(key)].append(entry)
        for part in {fold(key[1:]), fold(key[:-1])}:
            trimmed[part].append(entry)

    def freeze(index: defaultdict[str, list[HotlistEntry]]) -> Index:
        return {key: tuple(found) for key, found in index.items()}

    return _Indexes(revision, size, freeze(exact), freeze(folded), freeze(trimmed))


class HotlistMatcher:
    """The alerting hotlist in memory: ``match(text)`` -> the entries a plate read is a sighting of."""

    def __init__(
        self, entries: Iterable[HotlistEntry] = (), *, policy: MatchPolicy = DEFAULT_POLICY, revision: int = 0
    ) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._indexes = _build(entries, revision)

    @classmethod
    def from_store(cls, source: HotlistSource, *, policy: MatchPolicy = DEFAULT_POLICY) -> HotlistMatcher:
        matcher = cls(policy=policy)
        matcher.load(source)
        return matcher

    @property
    def revision(self) -> int:
        """The hotlist revision the current index was built from."""
        return self._indexes.revision

    def __len__(self) -> int:
        return self._indexes.size

    def replace(self, entries: Iterable[HotlistEntry], revision: int) -> None:
        """Swap in a new index built from ``entries`` (built first, so matching never waits)."""
        indexes = _build(entries, revision)
        with self._lock:
            self._indexes = indexes

    def load(self, source: HotlistSource) -> int:
        """(Re)load every alerting entry from ``source``; returns the revision loaded."""
        with self._lock:  # one load at a time; match() does not take the lock
            revision = source.revision()  # read first: a change during the load is seen next time
            self._indexes = _build(source.matching_entries(), revision)
            return revision

    def refresh(self, source: HotlistSource) -> bool:
        """Reload if the hotlist changed since the last load; True if it did."""
        if source.revision() == self._indexes.revision:
            return False
        self.load(source)
        return True

    def match(self, text: str, now: datetime | None = None) -> list[HotlistMatch]:
        """Alerting entries the read ``text`` is a sighting of, best first; [] for none.

        Only the strongest kind found is reported (exact, else confusion, else partial); within it,
        by distance, then priority (1 first), then entry id. Expiry is checked against ``now``.
        """
        key = read_key(text)
        if not key:
            return []
        indexes, when = self._indexes, now or datetime.now(UTC)
        found: dict[int, HotlistMatch] = {}
        for entry in self._candidates(indexes, key):
            if entry.id in found or not entry.alerting(when):
                continue
            result = classify(key, entry.plate_key, self.policy)
            if result is not None:
                kind, distance = result
                found[entry.id] = HotlistMatch(entry, kind, distance, score(distance, entry.plate_key), key)
        if not found:
            return []
        best = min(KIND_RANK[m.kind] for m in found.values())
        matches = [m for m in found.values() if KIND_RANK[m.kind] == best]
        return sorted(matches, key=lambda m: (m.distance, m.entry.priority, m.entry.id))

    def _candidates(self, indexes: _Indexes, key: str) -> Iterable[HotlistEntry]:
        folded = fold(key)
        yield from indexes.exact.get(key, ())
        yield from indexes.folded.get(folded, ())
        yield from indexes.trimmed.get(folded, ())
