"""Progress of a bulk import job, announced by the replica running it after every committed batch and
when it ends (core NATS, ``subjects.import_progress``): every command-centre replica relays it to the
consoles watching imports, whichever replica their browser is connected to."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.messages import Message

JobState = Literal["queued", "running", "completed", "failed", "cancelled"]


class ImportProgress(Message):
    job_id: int = Field(ge=1)
    kind: Literal["persons", "vehicles"]
    state: JobState
    total: int = Field(ge=0, description="Data rows in the file")
    done: int = Field(ge=0, description="Rows read so far, imported or not")
    failed: int = Field(ge=0, description="Rows left out (their reasons are in the error report)")
    imported: int = Field(ge=0)
    message: str | None = Field(None, max_length=1000)
