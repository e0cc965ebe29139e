"""One thread per camera runs that camera's analysis stages (faces, plates) on each frame in turn.

The stages share the camera's bounded frame queue and never each other's state, so nothing needs a
lock; a stage that fails on a frame is logged and the others still see it. An optional observer
(the worker's metrics) is told each frame's stage times.

Every frame taken from the queue is counted as analysed, whichever analytics the camera runs, and the
thread's CPU time in each stage is added to the camera's counters: a stage that times its own parts
(``last_stage_cpu_ms``, the face analysis) is counted by part, any other under its analytic's name.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from pipeline.types import Frame
from watchlist.index import search_on_this_thread
from workers.frame_queue import DropOldestQueue
from workers.stats import CameraCounters

log = logging.getLogger(__name__)


class Stage(Protocol):
    last_stage_ms: dict[str, float]  # the sub-stages of the last frame processed, in milliseconds

    def process(self, frame: Frame) -> object:
        """Analyse one frame (publishing what it decides)."""
        ...

    def finish(self) -> None:
        """The stream ended or the worker stops: decide what is pending and free it."""
        ...


@runtime_checkable
class TimesItsCpu(Protocol):
    last_stage_cpu_ms: dict[str, float]  # the thread's CPU time in each part of the last frame


class FrameObserver(Protocol):
    def frame_received(self, frame: Frame) -> None: ...

    def frame_done(self, frame: Frame, stage_ms: dict[str, float]) -> None: ...

    def frame_finished(self, frame: Frame) -> None: ...


class CameraRunner:
    def __init__(
        self,
        camera_id: str,
        stages: Mapping[str, Stage],
        queue: DropOldestQueue[Frame],
        stop: threading.Event,
        counters: CameraCounters,
        observer: FrameObserver | None = None,
    ) -> None:
        if not stages:
            raise ValueError(f"camera {camera_id}: no analysis stage configured")
        self.camera_id = camera_id
        self.stages = dict(stages)  # analytic (face, plate) -> its stage
        self._counters = counters
        self._queue = queue
        self._stop = stop
        self._observer = observer
        self._thread = threading.Thread(target=self._run, name=f"analyse-{camera_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        search_on_this_thread()  # the camera's watchlist searches: no spinning helper threads
        try:
            while not self._stop.is_set():
                frame = self._queue.get(timeout=0.5)
                if frame is None:
                    if self._queue.closed:
                        return
                    continue
                self._analyse(frame)
        finally:
            for stage in self.stages.values():
                try:
                    stage.finish()
                except Exception:
                    log.exception("camera %s: %s failed to finish", self.camera_id, type(stage).__name__)

    def _analyse(self, frame: Frame) -> None:
        observer = self._observer
        self._counters.frames_analysed += 1
        if observer is not None:
            observer.frame_received(frame)
        for analytic, stage in self.stages.items():
            started = time.thread_time()
            try:
                stage.process(frame)
            except Exception:
                self._counters.add_cpu(analytic, time.thread_time() - started)
                log.exception(
                    "camera %s: %s failed on a frame",
                    self.camera_id,
                    type(stage).__name__,
                    extra={"camera_id": self.camera_id},
                )
                continue
            self._count_cpu(analytic, stage, time.thread_time() - started)
            if observer is not None:
                observer.frame_done(frame, stage.last_stage_ms)
        if observer is not None:
            observer.frame_finished(frame)

    def _count_cpu(self, analytic: str, stage: Stage, seconds: float) -> None:
        if not isinstance(stage, TimesItsCpu):
            self._counters.add_cpu(analytic, seconds)
            return
        parts = stage.last_stage_cpu_ms
        for part, ms in parts.items():
            self._counters.add_cpu(part, ms / 1e3)
        # What the stage did outside its timed parts (little: bookkeeping between them).
        self._counters.add_cpu(analytic, max(0.0, seconds - sum(parts.values()) / 1e3))
