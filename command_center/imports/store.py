"""Import jobs in the database: created with their files, claimed by one replica at a time (a lease it
renews while it works), advanced batch by batch in the batch's own transaction, finished or cancelled.

The lease is the only lock: a replica claims a job whose lease is free or expired with one conditional
UPDATE, so of several replicas exactly one wins; a replica that dies stops renewing, and another takes the
job over after ``lease_s`` and goes on from the last committed batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from command_center.imports.tables import ACTIVE, import_job_errors, import_job_files, import_jobs
from command_center.records.types import now
from pipeline.adapters import transactions

MAX_MESSAGE = 1000


class LeaseLost(Exception):
    """Another replica holds the job now (this one was too slow to renew): stop without writing."""


@dataclass(frozen=True, slots=True)
class NewJob:
    kind: str
    file_name: str
    sha256: str
    total: int
    rows: bytes
    photos: bytes | None
    photos_name: str | None
    enrol_watchlist: bool
    legal_reference: str | None


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    state: str
    file_name: str
    sha256: str
    has_photos: bool
    enrol_watchlist: bool
    legal_reference: str | None
    total: int
    done: int
    failed: int
    imported: int
    noted: int
    enrolled: int
    through_row: int
    message: str | None
    cancel_requested: bool
    started_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_by: str | None
    lease_owner: str | None
    lease_until: datetime | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


@dataclass(frozen=True, slots=True)
class Progress:
    """What one batch adds to a job."""

    rows: int
    failed: int
    imported: int
    noted: int
    enrolled: int
    through_row: int
    lines: list[tuple[int, str, str]]  # the error report's lines: (row, outcome, reason)


def _job(row: Any) -> Job:
    return Job(**{name: getattr(row, name) for name in Job.__slots__})


class ImportJobStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, new: NewJob, actor: str) -> Job:
        """The job and its files, queued (inside the caller's unit of work: audited with it)."""
        values = {
            "kind": new.kind,
            "state": "queued",
            "file_name": new.file_name[-255:],
            "sha256": new.sha256,
            "has_photos": new.photos is not None,
            "enrol_watchlist": new.enrol_watchlist and new.photos is not None,
            "legal_reference": new.legal_reference,
            "total": new.total,
            "started_by": actor,
            "created_at": now(),
        }
        with transactions.begin(self.engine) as conn:
            key = conn.execute(insert(import_jobs).values(values)).inserted_primary_key
            assert key is not None
            job_id = int(key[0])
            files = [{"job_id": job_id, "role": "rows", "name": values["file_name"], "content": new.rows}]
            if new.photos is not None:
                name = (new.photos_name or "photos.zip")[-255:]
                files.append({"job_id": job_id, "role": "photos", "name": name, "content": new.photos})
            conn.execute(insert(import_job_files), files)
            return _job(conn.execute(select(import_jobs).where(import_jobs.c.id == job_id)).one())

    def get(self, job_id: int) -> Job | None:
        with transactions.connect(self.engine) as conn:
            row = conn.execute(select(import_jobs).where(import_jobs.c.id == job_id)).first()
        return None if row is None else _job(row)

    def listing(self, kind: str | None, limit: int, offset: int) -> tuple[list[Job], int]:
        query = select(import_jobs)
        counted = select(func.count()).select_from(import_jobs)
        if kind is not None:
            query, counted = (
                query.where(import_jobs.c.kind == kind),
                counted.where(import_jobs.c.kind == kind),
            )
        with transactions.connect(self.engine) as conn:
            rows = conn.execute(query.order_by(import_jobs.c.id.desc()).limit(limit).offset(offset)).all()
            total = int(conn.execute(counted).scalar_one())
        return [_job(r) for r in rows], total

    def file(self, job_id: int, role: str) -> bytes | None:
        with transactions.connect(self.engine) as conn:
            found = conn.execute(
                select(import_job_files.c.content).where(
                    import_job_files.c.job_id == job_id, import_job_files.c.role == role
                )
            ).scalar()
        return None if found is None else bytes(found)

    def errors(self, job_id: int) -> list[tuple[int, str, str]]:
        c = import_job_errors.c
        query = select(c.row, c.outcome, c.reason).where(c.job_id == job_id).order_by(c.row, c.id)
        with transactions.connect(self.engine) as conn:
            return [(int(r.row), str(r.outcome), str(r.reason)) for r in conn.execute(query)]

    def claimable(self) -> list[int]:
        """Jobs no live replica holds, oldest first."""
        c = import_jobs.c
        free = or_(c.lease_owner.is_(None), c.lease_until < now())
        query = select(c.id).where(c.state.in_(ACTIVE), free).order_by(c.id)
        with transactions.connect(self.engine) as conn:
            return [int(i) for i in conn.execute(query).scalars()]

    def claim(self, job_id: int, owner: str, lease_s: float) -> Job | None:
        """Take the job for ``owner`` if its lease is free or expired; None if another replica has it."""
        c, stamp = import_jobs.c, now()
        free = or_(c.lease_owner.is_(None), c.lease_until < stamp, c.lease_owner == owner)
        values = {"lease_owner": owner, "lease_until": stamp + timedelta(seconds=lease_s), "state": "running"}
        with self.engine.begin() as conn:
            done = conn.execute(
                update(import_jobs).where(c.id == job_id, c.state.in_(ACTIVE), free).values(values)
            )
            if done.rowcount != 1:
                return None
            conn.execute(
                update(import_jobs).where(c.id == job_id, c.started_at.is_(None)).values(started_at=stamp)
            )
            return _job(conn.execute(select(import_jobs).where(c.id == job_id)).one())

    def renew(self, job_id: int, owner: str, lease_s: float) -> Job:
        """Extend the lease; the job as it stands (a cancel request shows here). LeaseLost if taken."""
        c = import_jobs.c
        until = now() + timedelta(seconds=lease_s)
        with self.engine.begin() as conn:
            held = and_(c.id == job_id, c.lease_owner == owner)
            if conn.execute(update(import_jobs).where(held).values(lease_until=until)).rowcount != 1:
                raise LeaseLost(f"import job {job_id} is held by another replica now")
            return _job(conn.execute(select(import_jobs).where(c.id == job_id)).one())

    def advance(self, job_id: int, owner: str, progress: Progress, lease_s: float) -> None:
        """Add a batch's counts and report lines: called inside the batch's transaction, so the job's
        progress and the rows it counts commit together. LeaseLost (rolling the batch back) if taken."""
        c = import_jobs.c
        values = {
            "done": c.done + progress.rows,
            "failed": c.failed + progress.failed,
            "imported": c.imported + progress.imported,
            "noted": c.noted + progress.noted,
            "enrolled": c.enrolled + progress.enrolled,
            "through_row": progress.through_row,
            "lease_until": now() + timedelta(seconds=lease_s),
        }
        with transactions.begin(self.engine) as conn:
            held = and_(c.id == job_id, c.lease_owner == owner)
            if conn.execute(update(import_jobs).where(held).values(values)).rowcount != 1:
                raise LeaseLost(f"import job {job_id} is held by another replica now")
            if progress.lines:
                lines = [
                    {"job_id": job_id, "row": row, "outcome": outcome, "reason": reason[:MAX_MESSAGE]}
                    for row, outcome, reason in progress.lines
                ]
                conn.execute(insert(import_job_errors), lines)

    def finish(self, job_id: int, owner: str | None, state: str, message: str | None = None) -> Job | None:
        """End the job (completed, failed, cancelled) and free its lease; None if it was not active (or,
        with ``owner``, not held by it)."""
        c = import_jobs.c
        where = and_(c.id == job_id, c.state.in_(ACTIVE))
        if owner is not None:
            where = and_(where, c.lease_owner == owner)
        values = {"state": state, "finished_at": now(), "lease_owner": None, "lease_until": None}
        if message is not None:
            values["message"] = message[:MAX_MESSAGE]
        with transactions.begin(self.engine) as conn:
            if conn.execute(update(import_jobs).where(where).values(values)).rowcount != 1:
                return None
            return _job(conn.execute(select(import_jobs).where(c.id == job_id)).one())

    def release(self, job_id: int, owner: str) -> None:
        """Give the lease up (this replica is stopping): the next replica to look takes the job at once."""
        c = import_jobs.c
        free = {"lease_owner": None, "lease_until": None}
        with self.engine.begin() as conn:
            conn.execute(update(import_jobs).where(c.id == job_id, c.lease_owner == owner).values(free))

    def request_cancel(self, job_id: int, actor: str) -> Job | None:
        """Ask the job to stop: a queued job (no replica on it) stops at once, a running one after its
        batch under way. None if the job is not active."""
        c = import_jobs.c
        with transactions.begin(self.engine) as conn:
            where = and_(c.id == job_id, c.state.in_(ACTIVE))
            values = {"cancel_requested": True, "cancelled_by": actor}
            if conn.execute(update(import_jobs).where(where).values(values)).rowcount != 1:
                return None
            idle = and_(c.id == job_id, or_(c.lease_owner.is_(None), c.lease_until < now()))
            stop = {"state": "cancelled", "finished_at": now(), "lease_owner": None, "lease_until": None}
            conn.execute(update(import_jobs).where(idle).values(stop))
            return _job(conn.execute(select(import_jobs).where(c.id == job_id)).one())
