"""Builders for bulk import job tests: CSV files of CRO persons with known bad rows, waiting on a job."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from pipeline.settings import Settings

HEADER = ["name", "father's name", "CNIC", "gender", "district", "category", "cases", "photo"]
BATCH = 20  # rows per batch in these tests
BAD_EVERY = 7  # every 7th data row is bad, in turn for one of FAULTS


def persons_csv(rows: int, tag: str | None = None) -> tuple[bytes, str, dict[int, str]]:
    """``rows`` data rows (names ``<tag> <i>``): (file, tag, spreadsheet row -> reason word of a bad row)."""
    tag = tag or f"P{uuid.uuid4().hex[:8]}"
    base = uuid.uuid4().int % 10**6
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    bad: dict[int, str] = {}
    for i in range(1, rows + 1):
        cnic = f"3{base:06d}{i:06d}"
        row = [f"{tag} {i}", f"Father {i}", f"{cnic[:5]}-{cnic[5:12]}-{cnic[12]}", "male", "Lahore", "wanted"]
        row += [f"{i}/2025|PS Gulberg|302 PPC|under_trial" if i % 3 == 0 else "", ""]
        if i % BAD_EVERY == 0:
            fault = (i // BAD_EVERY) % 3
            if fault == 0:
                row[5], bad[i + 1] = "thief", "category"
            elif fault == 1:
                row[2], bad[i + 1] = "12345", "cnic"
            else:
                row[2], bad[i + 1] = writer_cnic_of(base, 1), "already"
        writer.writerow(row)
    return out.getvalue().encode(), tag, bad


def writer_cnic_of(base: int, i: int) -> str:
    cnic = f"3{base:06d}{i:06d}"
    return f"{cnic[:5]}-{cnic[5:12]}-{cnic[12]}"


async def upload(http: httpx.AsyncClient, name: str, data: bytes, **extra: Any) -> httpx.Response:
    files: dict[str, Any] = {"file": (name, data, "text/csv")}
    if "photos" in extra:
        files["photos"] = ("photos.zip", extra.pop("photos"), "application/zip")
    return await http.post("/imports", files=files, data={k: str(v).lower() for k, v in extra.items()})


async def until_state(http: httpx.AsyncClient, job_id: int, states: set[str], within_s: float = 60) -> Any:
    """The job once it is in one of ``states`` (asked again as soon as each answer comes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        job = (await http.get(f"/imports/{job_id}")).json()
        if job["state"] in states:
            return job
        assert loop.time() < deadline, f"job {job_id} still {job['state']} after {within_s} s: {job}"
        await asyncio.sleep(0.05)


async def next_progress(ws: ClientConnection, job_id: int, within_s: float = 60) -> dict[str, Any]:
    """The next progress message of ``job_id`` on /ws/imports."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), within_s))
        if message.get("type") == "import_progress" and message["job"]["job_id"] == job_id:
            job: dict[str, Any] = message["job"]
            return job


def import_settings(base: Settings) -> Settings:
    """Small batches (several per test file), a short lease (a dead replica's job is taken over in
    seconds), small limits to exceed."""
    records = {"import_batch_rows": BATCH, "import_max_rows": 2000, "import_poll_s": 0.2, "import_lease_s": 3}
    records["import_max_photos_bytes"] = 50_000
    cc = base.command_center.model_copy(update={"max_upload_bytes": 400_000})
    return base.model_copy(update={"records": base.records.model_copy(update=records), "command_center": cc})
