"""A command centre killed (SIGKILL) in the middle of an import job: another replica takes the job over
once its lease lapses and continues after the last committed batch, so every row is read once, no person
is imported twice, and the counts are exact. On both databases."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy import Engine

from command_center.app import create_app
from command_center.imports.store import ImportJobStore, Job, NewJob
from pipeline.adapters.database import make_engine
from pipeline.adapters.migrations import upgrade
from pipeline.settings import Settings
from tests.command_center.helpers import serve, settings_for
from tests.command_center.import_job_helpers import BATCH, import_settings, persons_csv, until_state
from tests.command_center.test_import_jobs import audited, persons_named
from tests.services import REPO, free_port

ROWS = 600


@pytest.fixture
def settings(database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path) -> Settings:
    return import_settings(settings_for(database_url, nats_url, tmp_path, models_dir, redis_url=redis_url))


def plain(value: Any) -> Any:
    """Settings as the YAML file another process reads them from (secrets in clear)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def config_file(settings: Settings, tmp_path: Path) -> Path:
    values = plain(settings.model_dump(mode="python", exclude_unset=True))
    values["command_center"] = {
        **values.get("command_center", {}),
        "port": free_port(),
        "consumer_name": f"cc-killed-{uuid.uuid4().hex[:8]}",
        "hits_consumer_start": "new",
    }
    values["records"] = plain(settings.records.model_dump(mode="python"))
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


async def until_job(engine: Engine, job_id: int, ready: Any, within_s: float = 60) -> Job:
    store, loop = ImportJobStore(engine), asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        job = await asyncio.to_thread(store.get, job_id)
        assert job is not None
        if ready(job):
            return job
        assert loop.time() < deadline, f"job {job_id} never got there: {job}"
        await asyncio.sleep(0.02)


async def test_a_job_of_a_killed_replica_is_finished_by_another_from_its_last_batch(
    settings: Settings, tmp_path: Path
) -> None:
    data, tag, bad = persons_csv(ROWS)
    engine = make_engine(settings.resolved_database_url)
    await asyncio.to_thread(upgrade, engine)
    new = NewJob(
        "persons", "resume.csv", hashlib.sha256(data).hexdigest(), ROWS, data, None, None, False, None
    )
    job = await asyncio.to_thread(ImportJobStore(engine).create, new, "staff:1:records clerk")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECITY_")}
    env["SAFECITY_CONFIG"] = str(config_file(settings, tmp_path))
    with (tmp_path / "killed.log").open("wb") as log:
        first = subprocess.Popen(  # noqa: ASYNC220 (started once; the test then waits on the database)
            [sys.executable, "-m", "safecity_cli.main", "command-center"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        running = await until_job(engine, job.id, lambda j: j.through_row > 0, within_s=90)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed = await asyncio.to_thread(ImportJobStore(engine).get, job.id)
    assert killed is not None and killed.state == "running" and killed.lease_owner == running.lease_owner
    assert 0 < killed.done < ROWS, (tmp_path / "killed.log").read_text()[-2000:]

    async with serve(create_app(settings, engine=engine)) as served:
        end = await until_state(served.http, job.id, {"completed", "failed"}, within_s=90)
        assert end["state"] == "completed", end
        assert (end["done"], end["failed"], end["imported"]) == (ROWS, len(bad), ROWS - len(bad))
        assert persons_named(served, tag) == ROWS - len(bad)
        batches = audited(served, "persons.import", f"persons_import:job{job.id}-{job.sha256[:16]}")
        spans = sorted((int(str(b["first"])), int(str(b["through"]))) for b in batches)
        assert spans[0][0] == 2 and spans[-1][1] == ROWS + 1
        assert all(after[0] == before[1] + 1 for before, after in itertools.pairwise(spans))
        assert all(through - first + 1 <= BATCH for first, through in spans), spans
    engine.dispose()
