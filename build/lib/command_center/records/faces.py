"""Faces in the command centre, off the event loop: a guest photo against the live watch lists, an
arrested person's photo against every list, an investigator's photo search ranked over the lists the
caller may see; and casework photos (an arrest, a missing person, an unidentified body) embedded for
matching against other cases.

Each use has its scope (``watchlist.policies``): a check-in alerts only through the live lists that
watch the hotel's district, at their calibrated thresholds; an arrest links through any list at its own
threshold; a photo search refuses nobody and ranks, for a person to judge.

The face models load on first use (seconds); the matcher and the lists are re-read from the watchlist
store whenever its revision moved, so approvals and removals count from the next photo on. One photo
at a time: the models are not shared between threads, and these photos are rare next to camera frames.
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
from watchlist.matcher import Match, Scope, WatchlistMatcher
from watchlist.photos import decode_photo
from watchlist.policies import ListPolicies
from watchlist.store import WatchlistStore

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FaceMatch:
    profile_id: int
    name: str
    category: str
    similarity: float
    detector_score: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    faces: int  # faces found in the photo; the largest is searched
    box: tuple[float, float, float, float] | None
    detector_score: float
    candidates: list[Match]
    gallery: int  # embeddings held: how many chances a stranger had


class GuestFaceMatcher:
    def __init__(self, settings: Settings, store: WatchlistStore) -> None:
        self._settings = settings
        self._store = store
        self._analyzer = FaceAnalyzer(settings, settings.models_dir)  # reads no file until load()
        self._matcher: WatchlistMatcher | None = None
        self._policies = ListPolicies()
        self._revision = -1
        self._lock = threading.Lock()

    async def match(self, jpeg: bytes, district: str) -> list[FaceMatch]:
        """Profiles on the live lists watching ``district`` at or above their list's threshold, best
        first, over every face in the photo.

        Raises PhotoError for an unusable photo and ModelError when the models cannot load."""
        return await asyncio.to_thread(self._match, jpeg, district)

    def _match(self, jpeg: bytes, district: str) -> list[FaceMatch]:
        limits = self._settings.records
        image = decode_photo("guest photo", jpeg, limits.checkin_photo_max_bytes, limits.max_photo_pixels)
        with self._lock:
            self._analyzer.load()
            matcher = self._current()
            scope = self._policies.scope("", district)
            detections, embeddings = self._analyzer.analyse(image)
            results = matcher.match(embeddings, scope=scope) if len(detections) and scope else []
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
            matcher = self._current()
            [matches] = matcher.match(embedding.reshape(1, -1), scope=self._policies.decision_scope())
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

    async def search(self, jpeg: bytes, list_ids: list[int], top_k: int) -> SearchResult:
        """The largest face of the photo against these lists, ``top_k`` candidates ranked (no
        threshold). Raises PhotoError for an unusable photo and ModelError when the models cannot load."""
        return await asyncio.to_thread(self._search, jpeg, list_ids, top_k)

    def _search(self, jpeg: bytes, list_ids: list[int], top_k: int) -> SearchResult:
        limits = self._settings.records
        image = decode_photo("photo", jpeg, limits.max_photo_bytes, limits.max_photo_pixels)
        with self._lock:
            self._analyzer.load()
            matcher = self._current()
            detections = self._analyzer.detect(image)
            if len(detections) == 0:
                return SearchResult(0, None, 0.0, [], len(matcher))
            areas = detections.boxes[:, 2] * detections.boxes[:, 3]
            main = int(np.argmax(areas))
            embedding = self._analyzer.embed(image, detections.filter(np.array([main], dtype=np.intp)))
            scope: Scope = self._policies.search_scope(list_ids)
            [candidates] = matcher.match(embedding, top_k=top_k, scope=scope) if scope else [[]]
        box = tuple(float(v) for v in detections.boxes[main])
        return SearchResult(
            len(detections),
            (box[0], box[1], box[2], box[3]),
            float(detections.scores[main]),
            candidates,
            len(matcher),
        )

    def lists(self) -> ListPolicies:
        """The watch lists as last read (call ``refresh`` first for the current ones)."""
        return self._policies

    def refresh(self) -> None:
        with self._lock:
            self._current()

    def _current(self) -> WatchlistMatcher:
        revision = self._store.revision()
        if self._matcher is None or revision != self._revision:
            self._policies.load(self._store)
            matcher = WatchlistMatcher(self._settings)  # every profile in force; scopes choose
            matcher.load(self._store)
            self._matcher, self._revision = matcher, revision
        return self._matcher
