"""Match a guest photo against the face watchlist, off the event loop.

The face models load on first use (seconds); the matcher is rebuilt from the watchlist store whenever
its revision moved, so approvals and removals count from the next photo on. One photo at a time: the
models are not shared between threads, and check-in photos are rare next to camera frames.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from watchlist.matcher import WatchlistMatcher
from watchlist.photos import decode_photo
from watchlist.store import WatchlistStore


@dataclass(frozen=True, slots=True)
class FaceMatch:
    profile_id: int
    name: str
    category: str
    similarity: float
    detector_score: float


class GuestFaceMatcher:
    def __init__(self, settings: Settings, store: WatchlistStore) -> None:
        self._settings = settings
        self._store = store
        self._analyzer = FaceAnalyzer(settings, settings.models_dir)  # reads no file until load()
        self._matcher: WatchlistMatcher | None = None
        self._revision = -1
        self._lock = threading.Lock()

    async def match(self, jpeg: bytes) -> list[FaceMatch]:
        """Watchlist profiles at or above the threshold, best first, over every face in the photo.

        Raises PhotoError for an unusable photo and ModelError when the models cannot load."""
        return await asyncio.to_thread(self._match, jpeg)

    def _match(self, jpeg: bytes) -> list[FaceMatch]:
        limits = self._settings.records
        image = decode_photo("guest photo", jpeg, limits.checkin_photo_max_bytes, limits.max_photo_pixels)
        with self._lock:
            self._analyzer.load()
            matcher = self._current()
            detections, embeddings = self._analyzer.analyse(image)
            results = matcher.match(embeddings) if len(detections) else []
        best: dict[int, FaceMatch] = {}
        for score, matches in zip(detections.scores.tolist(), results, strict=True):
            for m in matches:
                if m.passes and (m.profile_id not in best or best[m.profile_id].similarity < m.similarity):
                    best[m.profile_id] = FaceMatch(
                        m.profile_id, m.name, m.category, m.similarity, float(score)
                    )
        return sorted(best.values(), key=lambda m: m.similarity, reverse=True)

    def _current(self) -> WatchlistMatcher:
        revision = self._store.revision()
        if self._matcher is None or revision != self._revision:
            matcher = WatchlistMatcher(self._settings)
            matcher.load(self._store)
            self._matcher, self._revision = matcher, revision
        return self._matcher
