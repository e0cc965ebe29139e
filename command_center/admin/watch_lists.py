"""Watch lists for the API: changes off the event loop, announced to workers, thresholds kept calibrated.

A committed change is announced on NATS (the profiles whose lists changed, then ``lists`` so workers
reload thresholds and scopes); a worker that misses it catches up from the watchlist revision, so an
announcement that fails is logged, never a failed request. ``recalibrate_forever`` recomputes every
list's threshold on a schedule: entries expire, approvals add members.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Mapping
from typing import Any

from nats.aio.client import Client as NATS

from pipeline.aio import cancel_and_wait
from pipeline.calibration import Calibration
from pipeline.contracts import WatchlistChange
from pipeline.subjects import Subjects
from watchlist.announce import announce_committed
from watchlist.list_types import WatchList
from watchlist.lists import ListChange, ListSpec, WatchLists, announcements
from watchlist.store import WatchlistStore

log = logging.getLogger(__name__)


class WatchListService:
    def __init__(self, lists: WatchLists, store: WatchlistStore, nc: NATS, names: Subjects) -> None:
        self.lists = lists
        self._store = store
        self._nc = nc
        self._names = names

    @property
    def stranger_tracks_per_hour(self) -> float:
        return self.lists.calibrator.stranger_tracks_per_hour

    async def all(self, include_archived: bool = False) -> list[WatchList]:
        return await asyncio.to_thread(self.lists.all, include_archived)

    async def get(self, list_id: int) -> WatchList:
        return await asyncio.to_thread(self.lists.get, list_id)

    async def members(self, list_id: int, limit: int, offset: int) -> tuple[list[int], int]:
        return await asyncio.to_thread(self.lists.members, list_id, limit, offset)

    async def preview(
        self, list_id: int, gallery: int | None, target_fpir: float | None, floor: float | None
    ) -> Calibration:
        return await asyncio.to_thread(self.lists.preview, list_id, gallery, target_fpir, floor)

    async def create(self, spec: ListSpec, actor: str) -> ListChange:
        change = await asyncio.to_thread(self.lists.create, spec, actor)
        await self._announce(change)
        return change

    async def update(self, list_id: int, values: Mapping[str, Any], actor: str) -> ListChange:
        change = await asyncio.to_thread(self.lists.update, list_id, values, actor)
        await self._announce(change)
        return change

    async def add_members(self, list_id: int, profile_ids: Collection[int], actor: str) -> ListChange:
        change = await asyncio.to_thread(self.lists.add_members, list_id, profile_ids, actor)
        await self._announce(change)
        return change

    async def remove_members(self, list_id: int, profile_ids: Collection[int], actor: str) -> ListChange:
        change = await asyncio.to_thread(self.lists.remove_members, list_id, profile_ids, actor)
        await self._announce(change)
        return change

    async def recalibrate(self) -> list[WatchList]:
        moved = await asyncio.to_thread(self.lists.recalibrate)
        if moved:
            revision = await asyncio.to_thread(self._store.revision)
            await announce_committed(
                self._nc, self._names, WatchlistChange(action="lists", profile_id=0, revision=revision)
            )
        return moved

    def start(self, every_s: float, stack: contextlib.AsyncExitStack) -> None:
        """Recalibrate every ``every_s`` seconds until ``stack`` closes."""
        task = asyncio.create_task(self.recalibrate_forever(every_s))

        async def stop() -> None:
            await cancel_and_wait(task)

        stack.push_async_callback(stop)

    async def recalibrate_forever(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                moved = await self.recalibrate()
            except Exception:  # the database is away: try again next time
                log.exception("watch lists not recalibrated")
                continue
            for w in moved:
                log.info("watch list %d (%s) now alerts at %.3f", w.id, w.name, w.threshold)

    async def _announce(self, change: ListChange) -> None:
        for message in await asyncio.to_thread(announcements, self._store, change):
            await announce_committed(self._nc, self._names, message)
