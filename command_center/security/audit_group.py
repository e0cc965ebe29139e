"""Group commit of audited writes: one appender per process chains many requests' entries in one commit.

A request hands its work (``Work``: a function that writes through the stores and returns its result
and the audit entries that record it) to ``GroupAppender.run`` and waits. The appender's thread takes
every job waiting (up to ``max_batch``), opens one transaction, takes the chain's lock (the advisory lock
on PostgreSQL, the write lock on SQLite, exactly as every other audited writer does, so replicas and
the other writers stay in one linear chain), runs each job (a job that fails gets its error, and
nothing it wrote is kept), appends all the entries the jobs returned in
their order with one read of the head, one multi-row insert and one update of the head, and commits
once. Jobs run without savepoints of their own (one round trip each is all a check-in costs): a job
that raises has the batch rolled back and run again without it, so ``Work`` must be safe to run again.

Requests are answered only after that commit, so:

- a change is stored if and only if its audit entry is (they are in the same transaction);
- an answered request's change and entry are committed (durable on PostgreSQL; on SQLite as durable
  as the database's ``synchronous`` setting makes any commit);
- a crash before the commit loses the whole batch, none of whose requests was answered.

While one batch commits the next one gathers, so under load batches grow by themselves and an idle
system commits each request at once (no deliberate delay).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

from command_center.security.audit import AuditTrail, _Fields
from pipeline.adapters import transactions

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[], tuple[T, list[_Fields]]]
MAX_BATCH = 512


@dataclass(slots=True)
class _Job(Generic[T]):
    work: Work[T]
    future: concurrent.futures.Future[T] = field(default_factory=concurrent.futures.Future)


@dataclass(frozen=True, slots=True)
class _Failed:
    job: _Job[Any]
    error: BaseException


@dataclass(slots=True)
class GroupStats:
    batches: int = 0
    jobs: int = 0
    largest: int = 0
    failed_batches: int = 0


class AppenderClosedError(RuntimeError):
    """The appender was closed (the process is stopping): nothing was written."""


class GroupAppender:
    """The process's single audit appender (a thread): ``await run(work)`` or ``run_sync(work)``."""

    def __init__(self, trail: AuditTrail, *, max_batch: int = MAX_BATCH) -> None:
        self.trail = trail
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.stats = GroupStats()

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in the next group commit; its result once that commit is done."""
        return await asyncio.wrap_future(self._submit(work))

    def run_sync(self, work: Work[T]) -> T:
        return self._submit(work).result()

    def close(self) -> None:
        """Finish the jobs already handed in, then stop the thread."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _submit(self, work: Work[T]) -> concurrent.futures.Future[T]:
        job: _Job[T] = _Job(work)
        with self._start_lock:
            if self._closed:
                raise AppenderClosedError("the audit appender is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="audit-appender", daemon=True)
                self._thread.start()
            self._queue.put(job)
        return job.future

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[_Job[Any]]) -> None:
        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
        failed: list[tuple[_Job[Any], BaseException]] = []
        try:
            values = self._commit_all(batch, failed)
        except BaseException as exc:  # nothing of the batch was stored: every request hears so
            self.stats.failed_batches += 1
            log.warning("an audit group commit of %d job(s) failed: %s", len(batch), exc)
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.stats.batches += 1
        self.stats.jobs += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        for job, error in failed:
            job.future.set_exception(error)
        for job, value in values:
            job.future.set_result(value)

    def _commit_all(
        self, batch: list[_Job[Any]], failed: list[tuple[_Job[Any], BaseException]]
    ) -> list[tuple[_Job[Any], Any]]:
        """Run the jobs in one transaction and commit it. The jobs run without savepoints (a round trip
        each saved): when one raises, the transaction is rolled back and the batch run again without
        it, so what it wrote before raising is never kept (jobs must be safe to run again)."""
        while True:
            with self.trail.engine.connect() as conn:
                tx = conn.begin()
                self.trail.lock(conn)
                done = self._run_jobs(conn, batch)
                if isinstance(done, _Failed):
                    tx.rollback()
                    failed.append((done.job, done.error))
                    batch = [job for job in batch if job is not done.job]
                    continue
                values, entries = done
                self.trail.append_many(conn, entries)
                tx.commit()
                return values

    def _run_jobs(
        self, conn: Connection, batch: list[_Job[Any]]
    ) -> tuple[list[tuple[_Job[Any], Any]], list[_Fields]] | _Failed:
        """Each job's result and all their entries, or the first job that failed and its error."""
        shared = transactions.Unit.over(self.trail.engine, conn)
        entries: list[_Fields] = []
        values: list[tuple[_Job[Any], Any]] = []
        for job in batch:
            try:
                with transactions.entered(shared):
                    value, written = job.work()
            except Exception as exc:
                return _Failed(job, exc)
            entries.extend(written)
            values.append((job, value))
        return values, entries
