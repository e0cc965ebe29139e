"""The command centre's import runner: every replica runs one, and each job is run by exactly one of them
at a time (the job's lease in the database). A replica looks for jobs no live replica holds every
``records.import_poll_s`` (and at once when a job is created on it), claims one, runs it in a worker
thread while a heartbeat renews its lease, and announces the job's progress after every batch on NATS for
every replica's consoles. On shutdown the batch under way finishes and the lease is given up, so another
replica (or this one, restarted) continues from the last committed batch; a replica killed outright is
replaced when its lease lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import uuid

from nats.aio.client import Client as NATS
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from command_center.imports.person_job import JobContext, run_persons
from command_center.imports.store import ImportJobStore, Job, LeaseLost
from pipeline.aio import cancel_and_wait
from pipeline.contracts import WatchlistChange
from pipeline.import_progress import ImportProgress
from pipeline.settings import Settings
from watchlist.announce import announce

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 5.0


def progress_of(job: Job) -> ImportProgress:
    return ImportProgress(
        job_id=job.id,
        kind=job.kind,
        state=job.state,
        total=job.total,
        done=job.done,
        failed=job.failed,
        imported=job.imported,
        message=job.message,
    )


class ImportRunner:
    def __init__(self, settings: Settings, engine: Engine, nc: NATS, store: ImportJobStore) -> None:
        self._settings = settings
        self._engine = engine
        self._nc = nc
        self._store = store
        self._subject = settings.nats.subjects.import_progress()
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run_forever(), name="import-runner")

    def wake(self) -> None:
        """A job was created here: look now rather than at the next poll."""
        self._wake.set()

    async def close(self) -> None:
        """Stop after the batch under way; the job's lease is given up for the next replica."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), self._settings.records.import_lease_s)
            await cancel_and_wait(self._task)

    async def publish(self, job: Job) -> None:
        with contextlib.suppress(Exception):
            await self._nc.publish(self._subject, progress_of(job).to_bytes())

    async def _run_forever(self) -> None:
        poll_s = self._settings.records.import_poll_s
        while not self._stopping.is_set():
            try:
                await self._run_claimable()
            except Exception:
                log.exception("import runner: could not look for jobs; trying again")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_s)
            self._wake.clear()

    async def _run_claimable(self) -> None:
        lease_s = self._settings.records.import_lease_s
        for job_id in await asyncio.to_thread(self._store.claimable):
            if self._stopping.is_set():
                return
            job = await asyncio.to_thread(self._store.claim, job_id, self.owner, lease_s)
            if job is not None:
                await self._run(job)

    async def _run(self, job: Job) -> None:
        log.info(
            "import job %d (%s, %s): running from row %d", job.id, job.kind, job.file_name, job.through_row
        )
        await self.publish(job)
        heartbeat = asyncio.create_task(self._heartbeat(job.id))
        try:
            state, message = await asyncio.to_thread(self._execute, job)
        finally:
            await cancel_and_wait(heartbeat)
        if not state:
            await asyncio.to_thread(self._store.release, job.id, self.owner)
            return
        ended = await asyncio.to_thread(self._store.finish, job.id, self.owner, state, message)
        if ended is not None:
            log.info("import job %d %s: %d rows, %d left out", job.id, state, ended.done, ended.failed)
            await self.publish(ended)

    def _execute(self, job: Job) -> tuple[str, str | None]:
        """(final state, why) of one run; ("", None) when the job goes on elsewhere or later."""
        try:
            return run_persons(self._context(), job), None
        except LeaseLost as exc:
            log.warning("%s", exc)
        except OperationalError as exc:  # the database is away: the job waits for it, nothing is lost
            log.warning("import job %d paused, the database failed: %s", job.id, exc.orig)
        except Exception as exc:
            log.exception("import job %d failed", job.id)
            return "failed", f"{type(exc).__name__}: {exc}"
        return "", None

    def _context(self) -> JobContext:
        return JobContext(
            engine=self._engine,
            settings=self._settings,
            store=self._store,
            owner=self.owner,
            publish=self._publish_from_thread,
            announce=self._announce_from_thread,
            stopping=self._stopping,
        )

    def _publish_from_thread(self, job: Job) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self.publish(job), self._loop)

    def _announce_from_thread(self, changes: list[WatchlistChange]) -> None:
        assert self._loop is not None

        async def tell() -> None:
            for change in changes:
                try:
                    await announce(self._nc, self._settings.nats.subjects, change)
                except Exception as exc:  # workers read the watchlist again when they next load
                    log.warning("watchlist change %s not announced: %s", change.profile_id, exc)

        future = asyncio.run_coroutine_threadsafe(tell(), self._loop)
        with contextlib.suppress(Exception):
            future.result(PUBLISH_TIMEOUT_S + len(changes))

    async def _heartbeat(self, job_id: int) -> None:
        lease_s = self._settings.records.import_lease_s
        while True:
            await asyncio.sleep(lease_s / 3)
            try:
                await asyncio.to_thread(self._store.renew, job_id, self.owner, lease_s)
            except LeaseLost:
                return
            except Exception as exc:
                log.warning("import job %d: lease not renewed: %s", job_id, exc)
