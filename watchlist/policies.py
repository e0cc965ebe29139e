"""The watch lists as a worker uses them: which are live, where, and at what thresholds.

Read from the database (a handful of rows) whenever the lists may have changed, and swapped in whole,
so camera threads read a consistent set without locks. A camera's scope is the live lists that watch it
(by camera id or district), each at its calibrated threshold, raised by the camera's own floor.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from pipeline.adapters import transactions
from watchlist.list_types import ListStatus, WatchList, list_from_row
from watchlist.matcher import EVERY_PROFILE, ListThreshold, Scope
from watchlist.store import WatchlistStore
from watchlist.tables import watch_lists


@dataclass(frozen=True, slots=True)
class _State:
    version: int = 0
    lists: dict[int, WatchList] = field(default_factory=dict)
    live: frozenset[int] = frozenset()


class ListPolicies:
    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()  # writers only; readers take the current state as it is

    @property
    def version(self) -> int:
        return self._state.version

    def replace(self, lists: Sequence[WatchList]) -> bool:
        """Swap in these lists; returns whether which lists are live changed."""
        with self._lock:
            before = self._state
            by_id = {w.id: w for w in lists}
            live = frozenset(w.id for w in lists if w.live and not w.all_profiles)
            self._state = _State(before.version + 1, by_id, live)
            return live != before.live

    def load(self, store: WatchlistStore) -> bool:
        """Read the active lists from the database; returns whether which lists are live changed."""
        query = select(watch_lists).where(watch_lists.c.status == ListStatus.ACTIVE.value)
        with transactions.connect(store.engine) as conn:
            rows = conn.execute(query).all()
        return self.replace([list_from_row(r) for r in rows])

    def get(self, list_id: int) -> WatchList | None:
        return self._state.lists.get(list_id)

    def keeps(self, lists: Sequence[int]) -> bool:
        """A worker holds a profile if it is on at least one live list."""
        live = self._state.live
        return any(i in live for i in lists)

    def all_lists(self) -> list[WatchList]:
        return list(self._state.lists.values())

    def decision_scope(self) -> Scope:
        """Every active list at its own threshold, live or not: for links a person then checks (an
        arrested person's photo against the records), never for camera alerts."""
        return {_key(w): _rule(w) for w in self._state.lists.values()}

    def search_scope(self, list_ids: Sequence[int]) -> Scope:
        """These lists with no threshold: ranked candidates for a person to judge."""
        state = self._state
        chosen = [state.lists[i] for i in list_ids if i in state.lists]
        return {_key(w): ListThreshold(w.id, -1.0, 2.0, w.priority) for w in chosen}

    def scope(self, camera_id: str, district: str, camera_floor: float | None = None) -> Scope:
        """The live lists watching this camera, at their thresholds (never below the camera's floor)."""
        state = self._state
        floor = camera_floor or 0.0
        scope: dict[int, ListThreshold] = {}
        for list_id in state.live:
            w = state.lists[list_id]
            if w.covers(camera_id, district):
                raised = max(w.threshold, floor) - w.threshold  # a camera's floor lifts both rules
                scope[list_id] = ListThreshold(
                    list_id, w.threshold + raised, w.strong_threshold + raised, w.priority
                )
        return scope


def _key(w: WatchList) -> int:
    return EVERY_PROFILE if w.all_profiles else w.id


def _rule(w: WatchList) -> ListThreshold:
    return ListThreshold(w.id, w.threshold, w.strong_threshold, w.priority)


class CameraScope:
    """One camera's scope, recomputed only when the lists change (called from its analysis thread)."""

    def __init__(self, policies: ListPolicies, camera_id: str, district: str, floor: float | None) -> None:
        self._policies = policies
        self._camera = (camera_id, district, floor)
        self._version = -1
        self._scope: Scope = {}

    def __call__(self) -> Scope:
        version = self._policies.version
        if version != self._version:
            self._scope = self._policies.scope(*self._camera)
            self._version = version
        return self._scope

    def list_of(self, list_id: int | None) -> WatchList | None:
        return self._policies.get(list_id) if list_id is not None else None
