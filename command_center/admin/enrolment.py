"""Watchlist changes for the API: face models loaded on first use, work in a thread, approved changes
announced on NATS. Proposals are stored pending and never announced; only an approval reaches workers."""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client as NATS

from pipeline.contracts import WatchlistChange
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from watchlist.announce import announce_committed
from watchlist.enrol import Enroller, EnrolResult
from watchlist.governance import LegalBasis
from watchlist.lists import WatchLists
from watchlist.review import Decision, Reviews
from watchlist.store import WatchlistStore

log = logging.getLogger(__name__)


class EnrolmentService:
    def __init__(self, settings: Settings, store: WatchlistStore, nc: NATS, lists: WatchLists) -> None:
        self._nc = nc
        self._names = settings.nats.subjects
        # Constructing the analyzer reads no files; load() (seconds, on first enrolment) does.
        self._analyzer = FaceAnalyzer(settings, settings.models_dir)
        self._enroller = Enroller(settings, self._analyzer, store, lists=lists)
        self._reviews = Reviews(store, lists.recalibrate_in)
        self._loaded = False
        # Models loaded once; proposals then run side by side (onnxruntime and OpenCV release the GIL,
        # each proposal is its own transaction), so several clerks use every core.
        self._lock = asyncio.Lock()

    async def propose(
        self,
        name: str,
        category: str,
        photos: list[tuple[str, bytes]],
        basis: LegalBasis,
        proposed_by: str,
        lists: list[int] | None = None,
    ) -> EnrolResult:
        """Store a pending profile (raises EnrolmentError with the reason, ModelError). Not announced.
        It joins ``lists``, or by default the watch list that takes its category."""
        if not self._loaded:
            async with self._lock:
                if not self._loaded:
                    await asyncio.to_thread(self._analyzer.load)
                    self._loaded = True
        return await asyncio.to_thread(
            self._enroller.propose, name, category, photos, basis, proposed_by, lists
        )

    async def propose_removal(self, profile_id: int, proposed_by: str, reason: str) -> Decision:
        """active -> pending_removal (raises ProfileNotFoundError, ReviewError). Not announced."""
        return await asyncio.to_thread(self._reviews.propose_removal, profile_id, proposed_by, reason)

    async def approve(self, profile_id: int, approver: str) -> Decision:
        """Approve a pending change (raises ProfileNotFoundError, ReviewError), then tell the workers."""
        decision = await asyncio.to_thread(self._reviews.approve, profile_id, approver)
        if decision.change is not None:
            await self._announce(decision.change)  # workers also reload its lists' new thresholds
        return decision

    async def reject(self, profile_id: int, reviewer: str, reason: str) -> Decision:
        return await asyncio.to_thread(self._reviews.reject, profile_id, reviewer, reason)

    async def _announce(self, change: WatchlistChange) -> None:
        await announce_committed(self._nc, self._names, change)
