"""Schema of bulk import jobs: the job (state, counts, who, when, the lease of the replica running it),
the uploaded files (kept in the database, so any replica can run or resume the job) and the per-row
error report."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    false,
)

from pipeline.adapters.database import UtcDateTime, metadata

KINDS = ("persons", "vehicles")
STATES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE = ("queued", "running")
FILE_ROLES = ("rows", "photos")

import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("has_photos", Boolean, nullable=False, server_default=false()),
    Column("enrol_watchlist", Boolean, nullable=False, server_default=false()),
    Column("legal_reference", String(200), nullable=True),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False, server_default="0"),  # rows read (imported or not)
    Column("failed", Integer, nullable=False, server_default="0"),  # rows left out
    Column("imported", Integer, nullable=False, server_default="0"),
    Column("noted", Integer, nullable=False, server_default="0"),  # imported with something to say
    Column("enrolled", Integer, nullable=False, server_default="0"),  # photos on the watchlist
    Column("through_row", Integer, nullable=False, server_default="0"),  # last row of the last batch
    Column("message", String(1000), nullable=True),  # why it failed or stopped
    Column("cancel_requested", Boolean, nullable=False, server_default=false()),
    Column("started_by", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime(), nullable=True),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("cancelled_by", String(200), nullable=True),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Index("ix_import_jobs_state", "state", "id"),
)

import_job_files = Table(
    "import_job_files",
    metadata,
    Column("job_id", Integer, ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), primary_key=True),  # rows | photos
    Column("name", String(255), nullable=False),
    Column("content", LargeBinary, nullable=False),
)

import_job_errors = Table(
    "import_job_errors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("import_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("row", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # skipped | imported (with a note)
    Column("reason", String(1000), nullable=False),
    Index("ix_import_job_errors_job", "job_id", "row"),
)
