"""Match a guest photo against the face watchlist, off the event loop; embed a casework photo (an
arrest, a missing person, an unidentified body) for matching against other cases.

The face models load on first use (seconds); the matcher is rebuilt from the watchlist store whenever
its revision moved, so approvals and removals count from the next photo on. One photo at a time: the
models are not shared between threads, and check-in photos are rare next to camera frames.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from watchlist.matcher import WatchlistMatcher
from watchlist.photos import decode_photo
from watchlist.store import WatchlistStore

T = TypeVar("T")


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

    async def embed(self, jpeg: bytes, what: str = "photo") -> npt.NDArray[np.float32] | None:
        """The embedding of the main face of a photo (the largest), None when no face is found.

        Raises PhotoError for an unusable photo and ModelError when the models cannot load."""
        return await asyncio.to_thread(self._embed, jpeg, what)

    def _embed(self, jpeg: bytes, what: str) -> npt.NDArray[np.float32] | None:
        limits = self._settings.records
        image = decode_photo(what, jpeg, limits.max_photo_bytes, limits.max_photo_pixels)
        with self._lock:
            self._analyzer.load()
            detections = self._analyzer.detect(image)
            if len(detections) == 0:
                return None
            areas = detections.boxes[:, 2] * detections.boxes[:, 3]
            main = detections.filter(np.array([int(np.argmax(areas))], dtype=np.intp))
            embedding: npt.NDArray[np.float32] = self._analyzer.embed(image, main)[0]
        return embedding

    async def match_embedding(self, embedding: npt.NDArray[np.float32]) -> list[FaceMatch]:
        """Watchlist profiles at or above the threshold for one face, best first."""
        return await asyncio.to_thread(self._match_embedding, embedding)

    def _match_embedding(self, embedding: npt.NDArray[np.float32]) -> list[FaceMatch]:
        with self._lock:
            [matches] = self._current().match(embedding.reshape(1, -1))
        found = [FaceMatch(m.profile_id, m.name, m.category, m.similarity, 1.0) for m in matches if m.passes]
        return sorted(found, key=lambda m: m.similarity, reverse=True)

    @property
    def threshold(self) -> float:
        return float(self._settings.recognition.threshold)

    async def with_analyzer(self, work: Callable[[FaceAnalyzer], T]) -> T:
        """Run ``work`` with the loaded face models in a thread (one caller at a time), e.g. enrolment."""

        def run() -> T:
            with self._lock:
                self._analyzer.load()
                return work(self._analyzer)

        return await asyncio.to_thread(run)

    def _current(self) -> WatchlistMatcher:
        revision = self._store.revision()
        if self._matcher is None or revision != self._revision:
            matcher = WatchlistMatcher(self._settings)
            matcher.load(self._store)
            self._matcher, self._revision = matcher, revision
        return self._matcher
