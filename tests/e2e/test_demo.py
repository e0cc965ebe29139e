"""``safecity demo`` beside a foreign system: it runs on NATS and Redis servers of its own, so hits another
system publishes on the machine's NATS (the server the demo's configuration names) never become its alerts;
and Ctrl-C typed at ``make demo`` stops it cleanly: make exits with status 0 (not "Interrupt"), and every
process the demo started is gone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import nats
import pytest

from pipeline.adapters.streams import ensure_stream, hits_stream_config
from tests.command_center.helpers import hit
from tests.e2e.procs import get_json, sign_in, wait_http
from tests.names import subjects
from tests.services import REPO, free_port

pytestmark = pytest.mark.e2e

CAMERA = "cam-hamilton"  # one of the demo's cameras (configs/safecity.yaml), so its hits are not refused
FOREIGN_PROFILE, OWN_PROFILE = 990_001, 990_002


class Demo:
    """``make demo`` as a user runs it: in a terminal (a pseudo-terminal here), stopped by typing Ctrl-C."""

    def __init__(self, env: dict[str, str]) -> None:
        # -o: the installation is taken as done (the test runs in the installed checkout).
        argv = ["make", "-s", "-o", ".venv/.installed", "demo"]
        self.pid, self._terminal = pty.fork()
        if self.pid == 0:  # the child: in the checkout, on the terminal, becomes make
            os.chdir(REPO)
            os.execvpe(argv[0], argv, env)
        self.lines: list[str] = []
        self.status: int | None = None  # make's wait status once it ended
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pending = b""
        with contextlib.suppress(OSError):  # EIO once every process on the terminal is gone
            while chunk := os.read(self._terminal, 4096):
                pending += chunk
                *done, pending = pending.split(b"\n")
                self.lines += [line.decode(errors="replace").rstrip("\r") for line in done]

    def running(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            self.status = status if pid else None
        return self.status is None

    def said(self, pattern: str) -> re.Match[str] | None:
        return next((m for line in list(self.lines) if (m := re.search(pattern, line))), None)

    def started_pids(self) -> list[int]:
        """Every process the demo said it started (servers run in sessions of their own)."""
        return [
            int(m) for line in list(self.lines) for m in re.findall(r"demo: started \S+ \(pid (\d+)", line)
        ]

    def ctrl_c(self, timeout: float = 60) -> int:
        """Type Ctrl-C; make's exit status."""
        os.write(self._terminal, b"\x03")
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                raise AssertionError(f"make demo still running {timeout}s after Ctrl-C")
            time.sleep(0.1)
        self._reader.join(5)
        os.close(self._terminal)
        assert self.status is not None
        return os.waitstatus_to_exitcode(self.status)


def demo_env(tmp_path: Path, machine_nats: str, models_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECITY_")}
    return {
        **env,
        "SAFECITY_NATS_URL": machine_nats,  # what the configuration names: where the foreign system is
        "SAFECITY_DATA_DIR": str(tmp_path / "data"),
        "SAFECITY_MODELS_DIR": str(models_dir),
        "SAFECITY_LOG_FORMAT": "text",
        "SAFECITY_COMMAND_CENTER__PORT": str(port),
        "SAFECITY_WORKER__METRICS_PORT": str(free_port()),
        "SAFECITY_CAMERA_SIM__PORT": str(free_port()),
        "SAFECITY_CAMERA_SIM__METRICS_PORT": str(free_port()),
        "SAFECITY_SECURITY__SMS_BACKEND": "outbox",
        "SAFECITY_SECURITY__SMS_OUTBOX": str(tmp_path / "outbox.jsonl"),
    }


async def publish_hit(url: str, profile_id: int) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, hits_stream_config(subjects))
        await js.publish(subjects.hits("face", CAMERA), hit(CAMERA, profile_id=profile_id).to_bytes())
    finally:
        await nc.drain()


def ready(base: str) -> bool:
    with contextlib.suppress(OSError):
        wait_http(f"{base}/health/ready", 0.1)
        return True
    return False


def profiles_alerted(base: str, token: str) -> set[int]:
    found = get_json(f"{base}/alerts?camera_id={CAMERA}&limit=100", token)["alerts"]
    return {a["profile_id"] for a in found}


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout}s")
        time.sleep(0.2)
    return result


def test_a_demo_beside_a_foreign_system_shows_none_of_its_hits_and_ctrl_c_ends_it_cleanly(
    nats_url: str, models_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = Demo(demo_env(tmp_path, nats_url, models_dir, port))
    try:
        wait_for(lambda: not demo.running() or ready(base), 240, "the demo's console")
        assert demo.running(), demo.lines
        said = demo.said(r"demo: NATS (nats://\S+) \(private to this demo")
        assert said is not None, demo.lines
        own_nats = said.group(1)
        assert own_nats != nats_url and demo.said(r"demo: Redis redis://\S+ \(private to this demo\)")

        # The foreign system's hit, on the machine's NATS, from a camera id the demo has too; then one on
        # the demo's own NATS, which must show (so the demo is listening, not merely deaf).
        asyncio.run(publish_hit(nats_url, FOREIGN_PROFILE))
        asyncio.run(publish_hit(own_nats, OWN_PROFILE))
        token = sign_in(base, tmp_path / "outbox.jsonl", "DEMO-ADMIN", "+923000000000", timeout=30)
        seen = wait_for(
            lambda: OWN_PROFILE in (p := profiles_alerted(base, token)) and p, 30, "the demo's hit"
        )
        assert FOREIGN_PROFILE not in seen
        started = demo.started_pids()
        assert len(started) == 5, demo.lines  # nats, redis, command-center, camera-sim, worker
    finally:
        rc = demo.ctrl_c()
    assert rc == 0, "\n".join(demo.lines[-20:])  # make's status: the demo, not make, took the Ctrl-C
    assert demo.said(r"demo: stopping")
    left = [pid for pid in started if Path(f"/proc/{pid}").exists()]
    assert left == [], f"processes the demo started still run: {left}"
