"""CPU time, the measure of a worker's capacity on a shared machine (wall time and frame rates are not:
they move with whatever else runs there).

``StageClock`` laps one thread's own CPU time (``time.thread_time``) and wall time per stage of a frame,
on the thread that does the work. ``ThreadCpu`` reads other threads' CPU time from the kernel
(``/proc/self/task/<tid>/schedstat``, nanoseconds), for threads whose code does not time itself: a
camera's RTSP source thread, which demuxes, decodes and converts colour.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_TASKS = Path("/proc/self/task")


@dataclass(slots=True)
class StageClock:
    """Wall and CPU milliseconds of one frame's stages, on the thread that runs them."""

    wall_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    _wall: float = field(default_factory=time.perf_counter)
    _cpu: float = field(default_factory=time.thread_time)

    def lap(self, stage: str) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        self.wall_ms[stage] = self.wall_ms.get(stage, 0.0) + (wall - self._wall) * 1e3
        self.cpu_ms[stage] = self.cpu_ms.get(stage, 0.0) + (cpu - self._cpu) * 1e3
        self._wall, self._cpu = wall, cpu


def thread_cpu_ns(native_id: int) -> int | None:
    """CPU nanoseconds a thread of this process has run, or None if it is gone."""
    try:
        return int((_TASKS / str(native_id) / "schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class ThreadCpu:
    """CPU seconds spent by the live threads of one name since the last ``take``.

    Threads are found by name (a camera's source thread is ``source-<camera id>``), so a thread that a
    reconnect or a restart replaced is picked up as the new one starts. What a thread spends between
    its last sample and its end is not seen: at one sample a second, under a second per restart.
    """

    def __init__(self, name: str) -> None:
        """Create it before the threads start: a thread first seen counts everything it has run."""
        self._name = name
        self._seen: dict[int, int] = {}  # native thread id -> CPU ns at the last sample

    def take(self) -> float:
        spent, seen = 0, {}
        for thread in threading.enumerate():
            if thread.name != self._name or thread.native_id is None:
                continue
            now = thread_cpu_ns(thread.native_id)
            if now is None:
                continue
            spent += now - self._seen.get(thread.native_id, 0)  # a new thread: all it has run
            seen[thread.native_id] = now
        self._seen = seen
        return spent / 1e9
