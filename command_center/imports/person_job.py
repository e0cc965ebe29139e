"""One run of a persons import job, in a worker thread of the replica holding its lease: the CLI's engine
(``PersonImport``, ``batches``) on the uploaded file, each batch's progress written in the batch's own
transaction, so a run that dies anywhere is taken up after the last committed batch and counts no row
twice. A cancel request is honoured between batches."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from command_center.imports.files import extract_photos
from command_center.imports.store import ImportJobStore, Job, Progress
from command_center.records.import_rows import read_rows
from command_center.records.person_import import (
    BatchResult,
    Enrolment,
    PersonImport,
    batches,
    report_lines,
)
from command_center.records.types import now
from pipeline.contracts import WatchlistChange
from pipeline.settings import Settings
from watchlist.enrol import Enroller

log = logging.getLogger(__name__)

ENROLMENT_DAYS = 365


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a run needs from the replica: where to write, who it is, whom to tell."""

    engine: Engine
    settings: Settings
    store: ImportJobStore
    owner: str
    publish: Callable[[Job], None]  # progress to the consoles (thread-safe)
    announce: Callable[[list[WatchlistChange]], None]  # new watchlist profiles to the workers
    stopping: threading.Event  # the replica is shutting down: stop after the batch under way


def job_key(job: Job) -> str:
    """The checkpoint key of the job's batches in the audit trail (``persons_import:<key>``): the job's
    own, so a file uploaded again is a new import, and a resumed job continues only its own batches."""
    return f"job{job.id}-{job.sha256[:16]}"


def run_persons(context: JobContext, job: Job) -> str:
    """Import the job's rows not yet imported; the state it ended in (completed or cancelled), or ""
    when the replica is stopping (the job stays for the next one to resume)."""
    store = context.store
    rows = store.file(job.id, "rows")
    photos = store.file(job.id, "photos") if job.has_photos else None
    assert rows is not None, f"import job {job.id} has no file"
    with tempfile.TemporaryDirectory(prefix=f"safecity-import-{job.id}-") as scratch:
        path = Path(scratch) / Path(job.file_name).name
        path.write_bytes(rows)
        photos_dir = None
        if photos is not None:
            photos_dir = Path(scratch) / "photos"
            photos_dir.mkdir()
            extract_photos(photos, photos_dir, context.settings.records.import_max_photos_bytes)
        importer = _importer(context, job, photos_dir)
        try:
            return _batches(context, job, importer, path)
        finally:
            importer.close()


def _importer(context: JobContext, job: Job, photos_dir: Path | None) -> PersonImport:
    return PersonImport(
        context.engine,
        context.settings,
        actor=job.started_by,
        key=job_key(job),
        file_name=job.file_name,
        photos_dir=photos_dir,
        enrolment=_enrolment(context, job) if photos_dir is not None else None,
    )


def _enrolment(context: JobContext, job: Job) -> Enrolment | None:
    if not job.enrol_watchlist:
        return None
    settings = context.settings

    def make(engine: Engine) -> Enroller:
        from pipeline.face import FaceAnalyzer
        from watchlist.store import WatchlistStore

        analyzer = FaceAnalyzer(settings)
        analyzer.load()  # a ModelError fails the job with its reason
        return Enroller(settings, analyzer, WatchlistStore(engine))

    reference = job.legal_reference or f"CRO records import {job.file_name}"
    expires = now() + timedelta(days=ENROLMENT_DAYS)
    return Enrolment(make, reference[:200], job.started_by, expires)


def _batches(context: JobContext, job: Job, importer: PersonImport, path: Path) -> str:
    store, records = context.store, context.settings.records
    lease_s = records.import_lease_s
    after = importer.done_through()  # the audit trail's checkpoint: the last committed batch
    for batch in batches(read_rows(path, after), records.import_batch_rows, records.import_batch_photos):
        if context.stopping.is_set():
            return ""
        current = store.renew(job.id, context.owner, lease_s)
        if current.cancel_requested:
            return "cancelled"

        def progress(result: BatchResult, rows: int = len(batch)) -> None:
            lines = report_lines(result)
            counts = Progress(
                rows=rows,
                failed=len(result.skipped),
                imported=len(result.person_ids),
                noted=len(result.notes),
                enrolled=result.enrolled,
                through_row=result.through,
                lines=lines,
            )
            store.advance(job.id, context.owner, counts, lease_s)

        result = importer.write(batch, batch[-1].number, within=progress)
        if result.changes:
            context.announce(result.changes)
        updated = store.get(job.id)
        if updated is not None:
            context.publish(updated)
    return "completed"
