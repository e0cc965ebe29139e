"""A camera as the worker reads and analyses it (its RtspSource and CameraRunner threads, the shipped
reconnection settings), watched through a fault that camera_sim injects: how long after the fault ends
the worker analyses frames again. Used by tests/workers/test_fault_recovery.py and bench/fault_recovery.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from camera_sim.server import CameraSimulator
from pipeline.settings import parse
from pipeline.types import CameraId, Frame
from workers.frame_queue import DropOldestQueue
from workers.runner import CameraRunner
from workers.source import RtspSource, SourceOptions
from workers.stats import CameraCounters

# What each fault is given when a test or the bench injects it (durations short enough for CI, a stall
# longer than the worker's read timeout so that the worker must notice it).
FAULTS: dict[str, dict[str, Any]] = {
    "drop": {"kind": "drop", "duration_s": 2.0},
    "stall": {"kind": "stall", "duration_s": 5.0},
    "corrupt": {"kind": "corrupt", "duration_s": 2.0, "fraction": 0.01},
    "resolution": {"kind": "resolution", "duration_s": 3.0, "height": 240},
    "half_fps": {"kind": "half_fps", "duration_s": 2.0},
    "skew": {"kind": "skew", "duration_s": 2.0, "skew_s": 60.0},
}


@dataclass(frozen=True, slots=True)
class Analysed:
    at: float  # monotonic seconds, when the analysis thread took it
    sent_ns: int | None  # when camera_sim sent it (its frame stamp), if the worker believed the stamp
    width: int
    height: int


class Recorder:
    """An analysis stage that keeps what it was given, and wakes those who wait on it."""

    def __init__(self) -> None:
        self.last_stage_ms: dict[str, float] = {}
        self.frames: list[Analysed] = []
        self._changed = threading.Condition()

    def process(self, frame: Frame) -> None:
        height, width = frame.image.shape[:2]
        with self._changed:
            self.frames.append(Analysed(time.monotonic(), frame.sent_ns, width, height))
            self._changed.notify_all()

    def finish(self) -> None:
        pass

    def wait_for(self, check: Callable[[Analysed], bool], timeout: float) -> Analysed | None:
        """The first frame analysed (so far or within ``timeout``) that passes ``check``."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for frame in self.frames[seen:]:
                    if check(frame):
                        return frame
                seen = len(self.frames)
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    return None


class WatchedCamera:
    """One camera read and analysed as the worker does, at the worker's shipped settings."""

    def __init__(self, url: str, camera_id: str = "cam") -> None:
        settings = parse({"cameras": [{"id": camera_id, "url": url}]})
        options = SourceOptions.for_camera(settings.cameras[0], settings.worker)
        self.stop = threading.Event()
        self.counters = CameraCounters(camera_id)
        queue: DropOldestQueue[Frame] = DropOldestQueue(4)
        self.recorder = Recorder()
        self.source = RtspSource(CameraId(camera_id), options, queue, self.counters, self.stop)
        self.runner = CameraRunner(camera_id, {"face": self.recorder}, queue, self.stop, self.counters)

    def start(self) -> None:
        self.runner.start()
        self.source.start()

    def close(self) -> None:
        self.stop.set()
        self.source.join(10)
        self.runner.join(10)


@dataclass(frozen=True, slots=True)
class Recovery:
    kind: str
    seconds: float | None  # from the fault's end to the first frame sent after it being analysed
    reconnects: int  # the worker's reconnections meanwhile
    reconnected_during: bool  # one happened before the fault ended (a stall noticed by its read timeout)
    sizes_during: frozenset[tuple[int, int]]  # frame sizes analysed while the fault lasted
    analysed_during: int
    stamped_during: int  # of those sent after the fault began, how many had a send time the worker believed


def wall_ns(monotonic_s: float) -> int:
    """A monotonic instant as Unix nanoseconds (camera_sim's frame stamps are wall-clock)."""
    return time.time_ns() + round((monotonic_s - time.monotonic()) * 1e9)


def measure(sim: CameraSimulator, camera_id: str, watched: WatchedCamera, spec: dict[str, Any]) -> Recovery:
    """Inject ``spec`` into ``camera_id`` once the worker analyses it, and time the way back."""
    rec = watched.recorder
    if rec.wait_for(lambda _f: True, timeout=20) is None:
        raise AssertionError(f"{camera_id}: no frame analysed before the fault")
    before = watched.counters.reconnects
    fault = sim.inject(camera_id, spec)
    ended = fault.ends_at
    reconnected_during = _wait(lambda: watched.counters.reconnects > before, ended - time.monotonic())

    def over() -> bool:
        return all(f.id != fault.id for f in sim.faults(camera_id))

    if not _wait(over, ended - time.monotonic() + 5):
        raise AssertionError(f"{camera_id}: fault {fault.id} still listed after its end")
    end_ns = wall_ns(ended)
    native = sim.streams(camera_id)[""]

    def recovered(frame: Analysed) -> bool:
        return (
            frame.sent_ns is not None
            and frame.sent_ns >= end_ns
            and (frame.width, frame.height) == (native.width, native.height)
        )

    back = rec.wait_for(recovered, timeout=30)
    during = [f for f in list(rec.frames) if fault.starts_at <= f.at < ended]
    start_ns = wall_ns(fault.starts_at)
    return Recovery(
        kind=spec["kind"],
        seconds=None if back is None else max(0.0, back.at - ended),
        reconnects=watched.counters.reconnects - before,
        reconnected_during=reconnected_during,
        sizes_during=frozenset((f.width, f.height) for f in during),
        analysed_during=len(during),
        stamped_during=sum(f.sent_ns is not None and f.sent_ns >= start_ns for f in during),
    )


def _wait(check: Callable[[], bool], timeout: float) -> bool:
    """Whether ``check()`` held within ``timeout``, polled on an event that nothing sets."""
    never = threading.Event()
    deadline = time.monotonic() + timeout
    while not check():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        never.wait(min(0.05, left))
    return True
