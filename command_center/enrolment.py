"""Enrolment for the API: face models loaded on first use, work in a thread, changes announced on NATS."""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client as NATS

from pipeline.contracts import WatchlistChange
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from watchlist.announce import announce
from watchlist.enrol import Enroller, EnrolResult
from watchlist.store import WatchlistStore

log = logging.getLogger(__name__)


class EnrolmentService:
    def __init__(self, settings: Settings, store: WatchlistStore, nc: NATS) -> None:
        self._nc = nc
        # Constructing the analyzer reads no files; load() (seconds, on first enrolment) does.
        self._analyzer = FaceAnalyzer(settings, settings.models_dir)
        self._enroller = Enroller(settings, self._analyzer, store)
        self._loaded = False
        # One enrolment at a time: they are rare, and it keeps model loading single.
        self._lock = asyncio.Lock()

    async def enrol(self, name: str, category: str, photos: list[tuple[str, bytes]]) -> EnrolResult:
        """Store a profile (raises EnrolmentError with the reason, ModelError), then tell the workers."""
        async with self._lock:
            if not self._loaded:
                await asyncio.to_thread(self._analyzer.load)
                self._loaded = True
            result = await asyncio.to_thread(self._enroller.enrol, name, category, photos)
        await self._announce(result.change)
        return result

    async def remove(self, profile_id: int) -> WatchlistChange:
        """Deactivate a profile (raises ProfileNotFoundError), then tell the workers."""
        change = await asyncio.to_thread(self._enroller.remove, profile_id)
        await self._announce(change)
        return change

    async def _announce(self, change: WatchlistChange) -> None:
        # The change is committed; a worker that misses the message catches up from the
        # watchlist revision when it next loads, so a NATS hiccup must not fail the request.
        try:
            await announce(self._nc, change)
        except Exception:
            log.exception("watchlist change of profile %s stored but not announced", change.profile_id)
