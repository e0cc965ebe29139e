"""Enrolment photos prepared several at once: decode, detect, align and embed are CPU work in OpenCV and
onnxruntime, which release the GIL, so a few threads of one process use every core for a bulk import or
a profile of several photos, while the database writes stay in the caller's thread and order.

Results come back in the order the photos were given; a photo refused (``EnrolmentError``) is returned
in its place, not raised, so one bad photo of a batch does not hide the others' outcomes.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from watchlist.photos import PhotoError

T = TypeVar("T")
Item = TypeVar("Item")


def cpu_cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class PreparePool:
    """``threads`` workers (0: one per core), started on first use; ``threads == 1`` works inline."""

    def __init__(self, threads: int) -> None:
        self.threads = threads or cpu_cores()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="enrol-prepare")
            return self._executor

    def stream(self, work: Callable[[Item], T], items: Iterable[Item]) -> Iterator[T | PhotoError]:
        """``work(item)`` for each item, in order, at most twice ``threads`` ahead of the consumer (so
        the consumer's own work, storing the last result, overlaps the next photos' preparation)."""
        if self.threads == 1:
            yield from (_settled(work, item) for item in items)
            return
        pool, ahead = self._pool(), 2 * self.threads
        pending: deque[Future[T | PhotoError]] = deque()
        for item in items:
            pending.append(pool.submit(_settled, work, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def map(self, work: Callable[[Item], T], items: Iterable[Item]) -> list[T | PhotoError]:
        return list(self.stream(work, items))

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None


def _settled(work: Callable[[Item], T], item: Item) -> T | PhotoError:
    try:
        return work(item)
    except PhotoError as exc:
        return exc
