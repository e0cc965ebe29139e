"""Bulk import jobs over HTTP: records staff upload a file of CRO persons (with a zip of their photos) and
watch it go in (``persons:write``; every start, cancel and error-report download audited, every batch
audited as ``safecity persons import`` does).

* ``POST /imports`` (multipart: ``file`` CSV or JSON lines, ``photos`` a zip, ``enrol_watchlist``,
  ``legal_reference``): 202 with the queued job. 413 for a file, zip or row count over its limit, 422 for
  a file that is no import file (its header or format is checked before a job exists).
* ``GET /imports``, ``GET /imports/{id}``: jobs, newest first: state, rows done, left out, total.
* ``POST /imports/{id}/cancel``: stop after the batch under way (the rows before it stay in); 409 when
  the job has ended.
* ``GET /imports/{id}/errors``: the error report, CSV (row, outcome, reason).
* ``WS /ws/imports``: ``{"type": "import_progress", "job": {...}}`` after every batch of every job.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Response, UploadFile, WebSocket
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from command_center.api.deps import ServicesDep, WebSocketRefused, authenticate_websocket, require
from command_center.imports.files import UploadRefused, check_photos, count_rows, rows_file_name
from command_center.imports.store import ImportJobStore, Job, NewJob
from command_center.imports.wiring import ImportServices
from command_center.security.api.auditing import AuditorDep
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.adapters import transactions
from pipeline.settings import Settings
from pipeline.types import fields_of

router = APIRouter(tags=["bulk import"])

Importer = Annotated[Principal, require(Permission.PERSONS_WRITE)]
JobId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="Import job id")]
WS_SUBPROTOCOL = "bearer"


def get_imports(services: ServicesDep) -> ImportServices:
    return services.imports


ImportsDep = Annotated[ImportServices, Depends(get_imports)]


class JobView(BaseModel):
    id: int
    kind: str
    state: Literal["queued", "running", "completed", "failed", "cancelled"]
    file_name: str
    sha256: str
    has_photos: bool
    enrol_watchlist: bool
    total: int = Field(description="Data rows in the file")
    done: int = Field(description="Rows read so far, imported or left out")
    failed: int = Field(description="Rows left out; their reasons are in the error report")
    imported: int
    noted: int = Field(description="Rows imported with a note (a photo that could not be used)")
    enrolled: int = Field(description="Photos enrolled on the camera watchlist")
    through_row: int = Field(description="The last row of the last committed batch")
    message: str | None
    cancel_requested: bool
    started_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_by: str | None
    errors: str = Field(description="Where the error report is")

    @classmethod
    def of(cls, job: Job) -> JobView:
        fields = fields_of(job)
        fields.pop("lease_owner", None), fields.pop("lease_until", None), fields.pop("legal_reference", None)
        return cls.model_validate({**fields, "errors": f"/imports/{job.id}/errors"})


class JobPage(BaseModel):
    jobs: list[JobView]
    total: int


async def _read(upload: UploadFile, most: int, what: str) -> bytes:
    data = await upload.read(most + 1)
    if len(data) > most:
        raise HTTPException(413, f"the {what} is larger than {most} bytes (command_center.max_upload_bytes)")
    return data


async def _new_job(
    settings: Settings, file: UploadFile, photos: UploadFile | None, enrol: bool, reference: str | None
) -> NewJob:
    most = settings.command_center.max_upload_bytes
    name = rows_file_name(file.filename)
    rows = await _read(file, most, "import file")
    zipped = None if photos is None else await _read(photos, most, "photos zip")
    records = settings.records
    with tempfile.TemporaryDirectory(prefix="safecity-upload-") as scratch:
        total = await run_in_threadpool(count_rows, name, rows, records.import_max_rows, Path(scratch))
    if zipped is not None:
        await run_in_threadpool(check_photos, zipped, records.import_max_photos_bytes)
    photos_name = None if photos is None else photos.filename
    digest = hashlib.sha256(rows).hexdigest()
    return NewJob("persons", name, digest, total, rows, zipped, photos_name, enrol, reference)


@router.post("/imports", status_code=202, response_model=JobView)
async def start_import(
    _: Importer,
    services: ServicesDep,
    imports: ImportsDep,
    auditor: AuditorDep,
    file: Annotated[UploadFile, File(description="CRO persons: CSV, or JSON lines (.jsonl)")],
    photos: Annotated[UploadFile | None, File(description="A zip of the photos the rows name")] = None,
    enrol_watchlist: Annotated[bool, Form(description="Enrol each photo's face on the watchlist")] = True,
    legal_reference: Annotated[
        str | None, Form(max_length=200, description="Watchlist basis of rows without a case")
    ] = None,
) -> JobView:
    """Queue an import of CRO persons; a replica of the command centre runs it in the background."""
    try:
        new = await _new_job(services.settings, file, photos, enrol_watchlist, legal_reference)
    except UploadRefused as refused:
        raise HTTPException(refused.status, refused.reason) from None
    job = await run_in_threadpool(imports.store.create, new, auditor.principal.actor)
    details = {"file": job.file_name, "sha256": job.sha256, "rows": job.total, "photos": job.has_photos}
    await auditor.record("imports.start", f"import_job:{job.id}", details=details)
    transactions.after_commit(imports.runner.wake)
    return JobView.of(job)


@router.get("/imports", response_model=JobPage)
async def list_imports(
    _: Importer,
    imports: ImportsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> JobPage:
    jobs, total = await run_in_threadpool(imports.store.listing, None, limit, offset)
    return JobPage(jobs=[JobView.of(j) for j in jobs], total=total)


async def _job(store: ImportJobStore, job_id: JobId) -> Job:
    job = await run_in_threadpool(store.get, job_id)
    if job is None:
        raise HTTPException(404, f"no import job {job_id}")
    return job


@router.get("/imports/{job_id}", response_model=JobView)
async def get_import(_: Importer, imports: ImportsDep, job_id: JobId) -> JobView:
    return JobView.of(await _job(imports.store, job_id))


@router.post("/imports/{job_id}/cancel", response_model=JobView)
async def cancel_import(_: Importer, imports: ImportsDep, auditor: AuditorDep, job_id: JobId) -> JobView:
    """Stop the job after the batch under way; the rows imported before stay (each batch is audited)."""
    job = await _job(imports.store, job_id)
    cancelled = await run_in_threadpool(imports.store.request_cancel, job_id, auditor.principal.actor)
    if cancelled is None:
        raise HTTPException(409, f"import job {job_id} has ended ({job.state}); nothing to cancel")
    await auditor.record("imports.cancel", f"import_job:{job_id}", details={"done": cancelled.done})
    if cancelled.state == "cancelled":  # no replica was running it: tell the consoles here
        await transactions.when_committed(lambda: imports.runner.publish(cancelled))
    return JobView.of(cancelled)


@router.get("/imports/{job_id}/errors")
async def import_errors(_: Importer, imports: ImportsDep, auditor: AuditorDep, job_id: JobId) -> Response:
    """The rows left out (and those imported with a note), with the reason, as CSV."""
    job = await _job(imports.store, job_id)
    lines = await run_in_threadpool(imports.store.errors, job_id)
    await auditor.record("imports.errors", f"import_job:{job_id}", details={"lines": len(lines)})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "outcome", "reason"])
    writer.writerows(lines)
    name = f"{Path(job.file_name).stem}.errors.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.websocket("/ws/imports")
async def import_feed(websocket: WebSocket) -> None:
    """Progress of every import job as it happens (``persons:write``; bearer subprotocol as /ws/alerts)."""
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None)
    try:
        credentials = await authenticate_websocket(websocket, Permission.PERSONS_WRITE)
    except WebSocketRefused as refused:
        await websocket.close(code=refused.code, reason=refused.reason[:120])
        return
    services = websocket.app.state.services
    principal = credentials.principal
    await services.imports.feed.serve(
        websocket,
        until=credentials.until,
        user_id=principal.id if principal.kind == "staff" else None,
        session_id=principal.session_id,
        still_valid=credentials.still_valid,
        recheck_s=services.settings.command_center.ws_recheck_s,
    )
