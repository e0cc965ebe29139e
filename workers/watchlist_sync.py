"""Keeps a worker's watchlist index current: load from the database, then follow announced changes.

The subscription starts *before* the database load and buffers what arrives meanwhile, so an
enrolment committed during the load is neither lost nor doubled (changes are idempotent).
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from pydantic import ValidationError

from pipeline import subjects
from pipeline.contracts import WatchlistChange
from pipeline.streams import ensure_stream, watchlist_stream_config
from watchlist.matcher import WatchlistMatcher
from watchlist.store import WatchlistStore

log = logging.getLogger(__name__)


class WatchlistSync:
    def __init__(self, js: JetStreamContext, matcher: WatchlistMatcher, store: WatchlistStore) -> None:
        self._js = js
        self._matcher = matcher
        self._store = store
        self._buffer: list[WatchlistChange] = []
        self._loaded = False
        self.applied = 0
        self.resyncs = 0

    async def start(self) -> None:
        await ensure_stream(self._js, watchlist_stream_config())
        self._sub = await self._js.subscribe(
            subjects.watchlist_changes(),
            cb=self._on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )
        await asyncio.to_thread(self._matcher.load, self._store)
        for change in self._buffer:
            self._matcher.apply(change)
        self._buffer.clear()
        self._loaded = True
        log.info("watchlist loaded: %d embeddings", len(self._matcher))

    async def stop(self) -> None:
        await self._sub.unsubscribe()

    async def resync_forever(self, every_s: float) -> None:
        """Reload from the database whenever it is ahead of what announcements brought us.

        An enrolment made while NATS was unreachable (the CLI works offline) is never announced;
        this is how a running worker still learns of it.
        """
        while True:
            await asyncio.sleep(every_s)
            await self.resync()

    async def resync(self) -> bool:
        try:
            current = await asyncio.to_thread(self._store.revision)
        except Exception as exc:  # the database is away: keep matching with what we have
            log.warning("watchlist revision check failed: %s", exc)
            return False
        if current <= self._matcher.revision:
            return False
        await asyncio.to_thread(self._matcher.load, self._store)
        self.resyncs += 1
        log.info("watchlist reloaded: database at revision %d was ahead of the announcements", current)
        return True

    async def _on_message(self, msg: Msg) -> None:
        try:
            change = WatchlistChange.from_bytes(msg.data)
        except ValidationError as exc:
            log.error("ignoring malformed watchlist change: %s", exc)
            return
        if not self._loaded:
            self._buffer.append(change)
            return
        await asyncio.to_thread(self._matcher.apply, change)
        self.applied += 1
        log.info("watchlist change applied: %s profile %d", change.action, change.profile_id)
