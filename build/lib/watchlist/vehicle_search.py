"""Vehicle search for officers: exact, wildcard (``LEA-12*``), partial and fuzzy, ranked.

A query with ``*`` (any run of characters) or ``?`` (one character) is a wildcard pattern over plate
keys (separators are ignored: ``LEA-12*`` finds ``LEA 1234``); it needs at least two letters or digits.
Any other query is a registration number, possibly incomplete or misread, and finds:

- ``exact``: the same key;
- ``confusion``: the same length, differing only by OCR confusions (O/0, I/1, B/8 ...);
- ``partial``: the query is part of the plate (at least 3 characters), or the plate less its first or
  last character with at most one confusion;
- ``fuzzy``: within a weighted edit distance of 1 (keys under 6 characters) or 2 (longer), where
  confusions cost 0.2-0.4 and other edits 1.

Results come best first: by kind in that order, then distance, priority (1 first), plate. Unlike
matching plate reads for alerts (``watchlist.plate_match``), search is meant to over-find: a person
reads the results. Recovered and expired entries are found too (their status says so); removed ones
only when asked for.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from sqlalchemy import Engine

from watchlist.plate_match import classify
from watchlist.plate_text import (
    MAX_DISPLAY_LENGTH,
    InvalidPlateError,
    confusions,
    fold,
    literal_length,
    normalise_plate,
    plate_distance,
)
from watchlist.vehicle_types import HotlistEntry
from watchlist.vehicles import VehicleHotlist

__all__ = ["InvalidQueryError", "SearchKind", "VehicleSearchResult", "search_vehicles"]

SearchKind = Literal["exact", "confusion", "partial", "wildcard", "fuzzy"]
KIND_ORDER: dict[str, int] = {"exact": 0, "confusion": 1, "partial": 2, "wildcard": 2, "fuzzy": 3}
MAX_RESULTS = 200
DEFAULT_RESULTS = 50
MIN_WILDCARD_LITERALS = 2
MIN_SUBSTRING = 3
SUBSTRING_COST = 0.5  # per character of the plate the query leaves out
SHORT_KEY = 6  # keys shorter than this get fuzzy matches within 1, others within 2
_WILDCARD = re.compile(r"[A-Z0-9*? .\-/]+", re.ASCII)


class InvalidQueryError(ValueError):
    """A query that is neither a registration number nor a usable pattern; the message says why."""


@dataclass(frozen=True, slots=True)
class VehicleSearchResult:
    entry: HotlistEntry
    kind: SearchKind
    distance: float
    score: float  # 1.0 for an exact match

    def as_dict(self) -> dict[str, Any]:
        match = {"kind": self.kind, "distance": self.distance, "score": self.score}
        return {**self.entry.as_dict(), "match": match}

    def rank(self) -> tuple[int, float, int, str, int]:
        entry = self.entry
        return KIND_ORDER[self.kind], self.distance, entry.priority, entry.plate_key, entry.id


def search_vehicles(
    source: Engine | VehicleHotlist,
    text: str,
    *,
    limit: int = DEFAULT_RESULTS,
    include_removed: bool = False,
) -> list[VehicleSearchResult]:
    """Hotlist entries for the query ``text``, best first, at most ``limit`` (1-200).

    ``source`` is a database engine (the hotlist schema must exist: ``VehicleHotlist.create_schema``)
    or a ``VehicleHotlist``. Raises InvalidQueryError for a query that cannot be searched.
    """
    store = source if isinstance(source, VehicleHotlist) else VehicleHotlist(source)
    limit = max(1, min(limit, MAX_RESULTS))
    query = " ".join(unicodedata.normalize("NFKC", text).upper().split())
    if "*" in query or "?" in query:
        return _wildcard(store, query, limit, include_removed)
    try:
        _, key = normalise_plate(query)
    except InvalidPlateError as exc:
        raise InvalidQueryError(str(exc)) from None
    found = {r.entry.id: r for r in _near(store, key, include_removed)}
    if len(key) >= MIN_SUBSTRING:
        for entry in store.by_pattern(f"%{key}%", MAX_RESULTS, include_removed):
            if entry.id not in found:
                distance = SUBSTRING_COST * (len(entry.plate_key) - len(key))
                found[entry.id] = _result(entry, "partial", distance)
    return sorted(found.values(), key=VehicleSearchResult.rank)[:limit]


def _wildcard(
    store: VehicleHotlist, query: str, limit: int, include_removed: bool
) -> list[VehicleSearchResult]:
    if len(query) > MAX_DISPLAY_LENGTH or not _WILDCARD.fullmatch(query):
        raise InvalidQueryError(
            "a pattern holds A-Z, 0-9, separators and the wildcards * and ?, "
            f"at most {MAX_DISPLAY_LENGTH} characters"
        )
    pattern = re.sub(r"[^A-Z0-9*?]", "", query)
    literals = literal_length(pattern)
    if literals < MIN_WILDCARD_LITERALS:
        raise InvalidQueryError(
            f"a pattern needs at least {MIN_WILDCARD_LITERALS} letters or digits besides * and ?"
        )
    like = re.sub("%+", "%", pattern.replace("*", "%").replace("?", "_"))
    entries = store.by_pattern(like, limit, include_removed)
    return [_result(e, "wildcard", float(len(e.plate_key) - literals)) for e in entries]


def max_fuzzy_distance(key: str) -> float:
    return 1.0 if len(key) < SHORT_KEY else 2.0


def _near(store: VehicleHotlist, key: str, include_removed: bool) -> list[VehicleSearchResult]:
    """Entries within the fuzzy distance of ``key``. The plain Levenshtein distance of folded keys never
    exceeds the weighted one, so rapidfuzz can prefilter without losing a match."""
    limit = max_fuzzy_distance(key)
    edits = int(limit)
    keys = dict(store.keys_by_length(len(key) - edits, len(key) + edits, include_removed))
    folded = {entry_id: fold(k) for entry_id, k in keys.items()}
    close = process.extract(fold(key), folded, scorer=Levenshtein.distance, score_cutoff=edits, limit=None)
    scored: dict[int, tuple[SearchKind, float]] = {}
    for _, _, entry_id in close:
        kind_distance = _classify(key, keys[entry_id], limit)
        if kind_distance is not None:
            scored[entry_id] = kind_distance
    return [_result(e, *scored[e.id]) for e in store.by_ids(scored)]


def _classify(query: str, key: str, limit: float) -> tuple[SearchKind, float] | None:
    if query == key:
        return "exact", 0.0
    costs = confusions(query, key)
    if costs is not None:
        total = round(sum(costs), 6)
        return ("confusion", total) if total <= limit else None
    matched = classify(query, key)
    if matched is not None and matched[0] == "partial":
        return "partial", matched[1]
    distance = plate_distance(query, key)
    return ("fuzzy", distance) if distance <= limit else None


def _result(entry: HotlistEntry, kind: SearchKind, distance: float) -> VehicleSearchResult:
    score = round(max(0.0, 1.0 - distance / max(len(entry.plate_key), 1)), 4)
    return VehicleSearchResult(entry, kind, round(distance, 6), score)
