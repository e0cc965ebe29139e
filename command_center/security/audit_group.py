"""Group commit of audited writes: one appender per process chains many requests' entries in one commit.

A request hands its work (``Work``: a function that writes through the stores and returns its result
and the audit entries that record it) to ``GroupAppender.run`` and waits. The appender's thread takes
every job waiting (up to ``max_batch``), opens one transaction on a connection of its own (kept open:
no pool checkout or ping per batch), runs the jobs (a job that fails gets its error, and nothing it
wrote is kept), takes the chain's lock and reads its head (the advisory lock on PostgreSQL, the write
lock on SQLite, exactly as every other audited writer does, so replicas and the other writers stay in
one linear chain; one round trip on PostgreSQL; on SQLite the lock is taken before the jobs run, as a
writer there must read nothing before it), appends all the entries the jobs returned in their order
with one multi-row insert that also moves the head (one statement on PostgreSQL), and commits once: on
PostgreSQL another process's appender waits for three round trips of this one (head, entries, commit),
not for its jobs' writes. Jobs of one ``BulkWork`` class run together (``run_all``: e.g. every
request's check-ins in one insert), so a batch costs the same few round trips however many requests it
holds. Jobs run without savepoints of their own: a job that raises has the batch rolled back and run
again without it (bulk work that raises, one job at a time), so ``Work`` must be safe to run again.

Requests are answered only after that commit, so:

- a change is stored if and only if its audit entry is (they are in the same transaction);
- an answered request's change and entry are committed (durable on PostgreSQL; on SQLite as durable
  as the database's ``synchronous`` setting makes any commit);
- a crash before the commit loses the whole batch, none of whose requests was answered.

The requests waiting on an event loop hear back in one callback per batch on that loop (one wake-up of
the loop, not one a request).

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
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from command_center.security.audit import AuditTrail, _Fields
from pipeline.adapters import transactions

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[], tuple[T, list[_Fields]]]
MAX_BATCH = 512


class BulkWork(Generic[T]):
    """Work that runs together with the other jobs of its class in a batch (``run_all``, in the batch's
    transaction, their results in order); called alone when the bulk run failed, to find the job."""

    def __call__(self) -> tuple[T, list[_Fields]]:
        raise NotImplementedError

    @classmethod
    def run_all(cls, works: list[Self]) -> list[tuple[T, list[_Fields]]]:
        raise NotImplementedError


class _MergeFailed:
    """A bulk run raised: the batch is run again one job at a time."""


_MERGE_FAILED = _MergeFailed()
_Done = tuple[list[tuple["_Job[Any]", Any]], list[_Fields]]


@dataclass(slots=True)
class _Job(Generic[T]):
    """A job and who waits for it: a thread (``future``, ``run_sync``) or a task (``waiter``, ``run``)."""

    work: Work[T]
    future: concurrent.futures.Future[T] | None = None
    waiter: asyncio.Future[T] | None = None

    def start(self) -> bool:
        """Whether it is still wanted (its waiter not cancelled meanwhile); a thread's can no longer be."""
        if self.future is not None:
            return self.future.set_running_or_notify_cancel()
        return self.waiter is not None and not self.waiter.cancelled()


_Outcome = tuple[_Job[Any], Any, BaseException | None]


def _settle(outcomes: list[_Outcome]) -> None:
    """Each job's result or error to whoever waits for it: a thread's at once; the tasks' on their
    event loop, one callback per loop for the whole batch (one wake-up of the loop, not one a job)."""
    waiting: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for job, value, error in outcomes:
        if job.future is not None:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(value)
        elif job.waiter is not None:
            waiting.setdefault(job.waiter.get_loop(), []).append((job, value, error))
    for loop, jobs in waiting.items():
        try:
            loop.call_soon_threadsafe(_resolve, jobs)
        except RuntimeError:  # the loop is closed: nobody waits any more
            log.debug("%d audited job(s) finished after their event loop closed", len(jobs))


def _resolve(outcomes: list[_Outcome]) -> None:
    """On the waiters' loop: the outcomes set (a waiter cancelled meanwhile is left alone)."""
    for job, value, error in outcomes:
        waiter = job.waiter
        if waiter is None or waiter.done():
            continue
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(value)


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
        self._conn: Connection | None = None  # the appender thread's own
        self.stats = GroupStats()

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in the next group commit; its result once that commit is done."""
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._submit(_Job(work, waiter=waiter))
        return await waiter

    def run_sync(self, work: Work[T]) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._submit(_Job(work, future=future))
        return future.result()

    def close(self) -> None:
        """Finish the jobs already handed in, then stop the thread."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _submit(self, job: _Job[T]) -> None:
        with self._start_lock:
            if self._closed:
                raise AppenderClosedError("the audit appender is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="audit-appender", daemon=True)
                self._thread.start()
            self._queue.put(job)

    def _loop(self) -> None:
        try:
            self._take_batches()
        finally:
            if self._conn is not None:
                self._conn.close()

    def _take_batches(self) -> None:
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
        batch = [job for job in batch if job.start()]
        failed: list[tuple[_Job[Any], BaseException]] = []
        try:
            values = self._commit_all(batch, failed)
        except BaseException as exc:  # nothing of the batch was stored: every request hears so
            self.stats.failed_batches += 1
            log.warning("an audit group commit of %d job(s) failed: %s", len(batch), exc)
            _settle([(job, None, exc) for job in batch])
            if not isinstance(exc, Exception):
                raise
            return
        self.stats.batches += 1
        self.stats.jobs += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        _settle([(job, None, error) for job, error in failed] + [(job, value, None) for job, value in values])

    def _commit_all(
        self, batch: list[_Job[Any]], failed: list[tuple[_Job[Any], BaseException]]
    ) -> list[tuple[_Job[Any], Any]]:
        """Run the jobs in one transaction and commit it. The jobs run without savepoints (a round trip
        each saved): when one raises, the transaction is rolled back and the batch run again without
        it, so what it wrote before raising is never kept (jobs must be safe to run again). A connection
        found broken before the commit is replaced, and the batch run again on the new one, once."""
        merge, reconnect = True, True
        while True:
            conn = self._connection()
            committing = False
            try:
                with conn.begin() as tx:
                    # PostgreSQL: the jobs write before the chain's lock is taken, so that other processes'
                    # appenders wait only for this one's head, entries and commit (SQLite: the write lock
                    # first, as every writer there must read nothing before taking it).
                    head = None if conn.dialect.name == "postgresql" else self.trail.lock_head(conn)
                    done = self._run_jobs(conn, batch, merge)
                    if isinstance(done, _MergeFailed | _Failed):
                        tx.rollback()
                    else:
                        head = head or self.trail.lock_head(conn)
                        self.trail.append_many(conn, done[1], head)
                        committing = True  # from here on, whether it committed is not known
                        tx.commit()
                        return done[0]
            except DBAPIError as exc:
                self._drop_connection()
                if committing or not (exc.connection_invalidated and reconnect):
                    raise
                reconnect = False
                continue
            except BaseException:
                self._drop_connection()
                raise
            if isinstance(done, _MergeFailed):
                merge = False
            else:
                failed.append((done.job, done.error))
                batch = [job for job in batch if job is not done.job]

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.trail.engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception as exc:  # it is broken already: nothing more to release
                log.debug("closing the appender's connection: %s", exc)

    def _run_jobs(
        self, conn: Connection, batch: list[_Job[Any]], merge: bool
    ) -> _Done | _Failed | _MergeFailed:
        """Each job's result and all their entries in the batch's order; or the first job that failed
        and its error; or ``_MERGE_FAILED`` when a bulk run raised."""
        shared = transactions.Unit.over(self.trail.engine, conn)
        done: dict[int, tuple[Any, list[_Fields]]] = {}
        with transactions.entered(shared):
            if merge:
                for kind, jobs in _bulk_kinds(batch).items():
                    try:
                        outcomes = kind.run_all([job.work for job in jobs])  # type: ignore[misc]
                    except Exception as exc:
                        log.info("a bulk run of %d job(s) failed (%s): one at a time", len(jobs), exc)
                        return _MERGE_FAILED
                    done |= {id(job): outcome for job, outcome in zip(jobs, outcomes, strict=True)}
            for job in batch:
                if id(job) not in done:
                    try:
                        done[id(job)] = job.work()
                    except Exception as exc:
                        return _Failed(job, exc)
        values = [(job, done[id(job)][0]) for job in batch]
        return values, [entry for job in batch for entry in done[id(job)][1]]


def _bulk_kinds(batch: list[_Job[Any]]) -> dict[type[BulkWork[Any]], list[_Job[Any]]]:
    kinds: dict[type[BulkWork[Any]], list[_Job[Any]]] = {}
    for job in batch:
        if isinstance(job.work, BulkWork):
            kinds.setdefault(type(job.work), []).append(job)
    return kinds
