"""Per-camera analysis: detect → gate → align+embed → match → hit. Unknown faces are discarded.

One thread per camera owns its state, so nothing here needs a lock. Only faces that match a watchlist
profile leave this module; the crops and embeddings of everyone else are dropped on the spot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from pipeline.contracts import Box, FaceHit, StageTimings
from pipeline.detections import FaceDetections
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from pipeline.types import Frame
from watchlist.matcher import Match, WatchlistMatcher
from workers.evidence import downscale, encode_jpeg, face_crop
from workers.frame_queue import DropOldestQueue
from workers.stats import CameraCounters

log = logging.getLogger(__name__)

HitSink = Callable[[FaceHit], None]


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


class CameraAnalyser:
    """Consumes one camera's frame queue in its own thread and emits FaceHits to ``sink``."""

    def __init__(
        self,
        camera_id: str,
        worker_id: str,
        settings: Settings,
        analyzer: FaceAnalyzer,
        matcher: WatchlistMatcher,
        queue: DropOldestQueue[Frame],
        counters: CameraCounters,
        sink: HitSink,
        stop: threading.Event,
    ) -> None:
        self.camera_id = camera_id
        self._worker_id = worker_id
        self._rec = settings.recognition
        self._wopt = settings.worker
        self._analyzer = analyzer
        self._matcher = matcher
        self._queue = queue
        self._counters = counters
        self._sink = sink
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name=f"analyse-{camera_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self._queue.get(timeout=0.5)
            if frame is None:
                if self._queue.closed:
                    return
                continue
            try:
                self.process(frame)
            except Exception:
                log.exception("camera %s: analysis failed on a frame", self.camera_id)

    def process(self, frame: Frame) -> list[FaceHit]:
        """Analyse one frame; publish and return the hits it produced."""
        queue_ms = (time.perf_counter_ns() - frame.enqueued_ns) / 1e6 if frame.enqueued_ns else 0.0
        self._counters.frames_analysed += 1
        t0 = time.perf_counter()
        detections = self._analyzer.detect(frame.image)
        t1 = time.perf_counter()
        self._counters.faces_detected += len(detections)
        if len(detections) == 0:
            return []
        big_enough = np.minimum(detections.boxes[:, 2], detections.boxes[:, 3]) >= self._rec.min_face_px
        self._counters.faces_too_small += int((~big_enough).sum())
        detections = detections.filter(big_enough)
        if len(detections) == 0:
            return []
        embeddings = self._analyzer.embed(frame.image, detections)
        t2 = time.perf_counter()
        matches = self._matcher.match(embeddings, top_k=1)
        t3 = time.perf_counter()
        hits = []
        for i, candidates in enumerate(matches):
            best = candidates[0] if candidates else None
            if best is None or not best.passes:
                self._counters.faces_unknown += 1
                continue
            timings = StageTimings(
                decode_ms=frame.decode_ms,
                queue_ms=queue_ms,
                detect_ms=(t1 - t0) * 1e3,
                embed_ms=(t2 - t1) * 1e3,
                match_ms=(t3 - t2) * 1e3,
            )
            hits.append(self._hit(frame, detections, i, best, timings))
        # Embeddings and crops of unmatched faces go out of scope here and are never stored.
        for hit in hits:
            self._sink(hit)
            self._counters.hits_published += 1
        return hits

    def _hit(
        self, frame: Frame, detections: FaceDetections, i: int, best: Match, timings: StageTimings
    ) -> FaceHit:
        t0 = time.perf_counter()
        x, y, w, h = (float(v) for v in detections.boxes[i])
        crop = encode_jpeg(
            face_crop(frame.image, (x, y, w, h), self._wopt.crop_margin), self._wopt.jpeg_quality
        )
        scene = encode_jpeg(downscale(frame.image, self._wopt.scene_max_side), self._wopt.jpeg_quality)
        encode_ms = (time.perf_counter() - t0) * 1e3
        landmarks = [(float(px), float(py)) for px, py in detections.landmarks[i]]
        return FaceHit(
            camera_id=self.camera_id,
            worker_id=self._worker_id,
            frame_seq=frame.seq,
            frame_sent_at=_utc(frame.sent_ns) if frame.sent_ns is not None else None,
            captured_at=_utc(frame.received_ns),
            box=Box(x=x, y=y, w=w, h=h),
            landmarks=landmarks,
            detector_score=min(1.0, max(0.0, float(detections.scores[i]))),
            similarity=best.similarity,
            threshold=self._rec.threshold,
            profile_id=best.profile_id,
            profile_name=best.name,
            category=best.category,
            embedder_model=self._rec.embedder_model,
            crop_jpeg=crop,
            scene_jpeg=scene,
            timings=timings.model_copy(update={"encode_ms": encode_ms}),
        )
