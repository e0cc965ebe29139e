"""Real safecity processes for end-to-end tests, each logging to a file the test can show on failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.services import REPO, SHARED, TEST_SECURITY, free_port


class Processes:
    def __init__(self, workdir: Path, config: Path) -> None:
        self.workdir = workdir
        self.config = config
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {**os.environ, "SAFECITY_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}
        for key in [k for k in self.env if k.startswith("SAFECITY_") and k != "SAFECITY_CONFIG"]:
            del self.env[key]

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        out = self.log(name).open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "safecity_cli.main", *args],
            cwd=REPO,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "safecity_cli.main", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def wait_exit(self, name: str, timeout: float) -> int:
        return self.procs[name].wait(timeout)

    def logs(self) -> str:
        parts = []
        for name in self.procs:
            text = self.log(name).read_text(errors="replace")[-4000:]
            parts.append(f"----- {name} -----\n{text}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s: {last}")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def write_system_config(
    workdir: Path, *, nats_url: str, database_url: str, models_dir: Path, videos: dict[str, str], tag: str
) -> tuple[Path, Path, int]:
    """A settings file and a camera_sim scenario for cameras ``{camera_id: video file name}``."""
    rtsp_port = free_port()
    http_port = free_port()
    scenario = workdir / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "cameras": [
                    {"id": cid, "file": str(SHARED / "media" / "video" / f)} for cid, f in videos.items()
                ]
            }
        )
    )
    settings: dict[str, Any] = {
        "environment": "test",
        "security": TEST_SECURITY,
        "data_dir": str(workdir / "data"),
        "database_url": database_url,
        "nats_url": nats_url,
        "models_dir": str(models_dir),
        "models_registry": str(REPO / "configs" / "models.yaml"),
        "worker": {"analysis_fps": 5, "reconnect_initial_s": 0.3},
        "command_center": {"port": http_port, "consumer_name": f"cc-{tag}", "hits_consumer_start": "new"},
        "camera_sim": {"port": rtsp_port, "scenario": str(scenario)},
        "cameras": [{"id": cid, "url": f"rtsp://127.0.0.1:{rtsp_port}/{cid}"} for cid in videos],
    }
    config = workdir / "safecity.yaml"
    config.write_text(yaml.safe_dump(settings))
    return config, scenario, http_port
