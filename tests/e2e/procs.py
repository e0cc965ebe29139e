"""Real safecity processes for end-to-end tests, each logging to a file the test can show on failure."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.services import REPO, SHARED, TEST_SECURITY, deployment_audit_key, free_port

# What a system written by write_system_config wants from a scraper of its command centre's /metrics.
METRICS_TOKEN = "e2e-scraper-token-0123456789"


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

    def enroll(
        self, name: str, photos: list[Path], tag: str, category: str = "wanted"
    ) -> subprocess.CompletedProcess[str]:
        """``safecity watchlist enroll`` with a legal basis valid for 30 days (on the category's list)."""
        expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        return self.run(
            "watchlist",
            "enroll",
            "--name",
            name,
            "--category",
            category,
            "--legal-reference",
            f"FIR 1/2025 {tag}",
            "--authorised-by",
            f"SSP {tag}",
            "--expires",
            expires,
            *map(str, photos),
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


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, bytes]:
    """One request on a keep-alive HTTP/1.1 connection (raw sockets: no client library's retries, pools
    or CPU): ``head`` is the request line and headers but Content-Length; (status, body) of the answer."""
    writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def get_json(url: str, token: str | None = None) -> Any:
    return json.loads(get_bytes(url, token))


def get_bytes(url: str, token: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
        body: bytes = resp.read()
        return body


def post_json(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def add_staff(procs: Processes, role: str, *districts: str) -> tuple[str, str]:
    """A staff account made with ``safecity users add`` (as on a fresh install): (government ID, mobile)."""
    government_id = f"E2E-{os.getpid()}-{time.monotonic_ns() % 10**8}"
    mobile = f"+9230{time.monotonic_ns() % 10**8:08d}"
    extra = [arg for district in districts for arg in ("--district", district)]
    args = ["--government-id", government_id, "--mobile", mobile, "--name", f"E2E {role}", "--role", role]
    added = procs.run("users", "add", *args, *extra)
    assert added.returncode == 0, added.stderr
    return government_id, mobile


def sign_in(base: str, outbox: Path, government_id: str, mobile: str, timeout: float = 10) -> str:
    """The real flow: POST /auth/login, the code from the SMS outbox, POST /auth/verify → access token."""
    status, _ = post_json(f"{base}/auth/login", {"government_id": government_id, "mobile": mobile})
    assert status == 202
    deadline = time.monotonic() + timeout
    while True:
        lines = outbox.read_text().splitlines() if outbox.exists() else []
        codes = [
            re.findall(r"code is ([0-9]+)", m["text"]) for m in map(json.loads, lines) if m["to"] == mobile
        ]
        if codes:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"no code was sent to {mobile} within {timeout}s")
        time.sleep(0.1)
    body = {"government_id": government_id, "mobile": mobile, "code": codes[-1][0]}
    status, tokens = post_json(f"{base}/auth/verify", body)
    assert status == 200
    token: str = tokens["access_token"]
    return token


def outbox_of(workdir: Path) -> Path:
    return workdir / "sms_outbox.jsonl"


def write_system_config(
    workdir: Path,
    *,
    nats_url: str,
    database_url: str,
    models_dir: Path,
    videos: dict[str, str],
    tag: str,
    redis_url: str = "redis://127.0.0.1:6379/0",
    district: str = "",
    analytics: dict[str, list[str]] | None = None,
    extra: dict[str, Any] | None = None,
    camera_extra: dict[str, dict[str, Any]] | None = None,
    scenario_extra: dict[str, dict[str, Any]] | None = None,
) -> tuple[Path, Path, int]:
    """A settings file and a camera_sim scenario for cameras ``{camera_id: video file}`` (a name in the
    shared media's video folder, or a path).

    Codes sent by SMS land in ``outbox_of(workdir)``; every camera is in ``district``; ``analytics`` gives
    a camera's analytics (default: faces); ``extra`` adds top-level settings sections, ``camera_extra``
    fields of a camera (e.g. its plate_countries), ``scenario_extra`` fields of its simulated camera (e.g.
    encode, substream: a camera with a sub-stream is analysed on it, its main stream giving evidence).
    """
    rtsp_port = free_port()
    http_port = free_port()
    simulated = scenario_extra or {}
    scenario = workdir / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "cameras": [
                    {"id": cid, "file": str(SHARED / "media" / "video" / f), **simulated.get(cid, {})}
                    for cid, f in videos.items()
                ]
            }
        )
    )
    sub_streams = {
        cid: {"analysis_url": f"rtsp://127.0.0.1:{rtsp_port}/{cid}/sub"}
        for cid, fields in simulated.items()
        if "substream" in fields
    }
    settings: dict[str, Any] = {
        "environment": "test",
        "security": {
            **TEST_SECURITY,
            "audit_key": deployment_audit_key(),
            "sms_backend": "outbox",
            "sms_outbox": str(outbox_of(workdir)),
        },
        "data_dir": str(workdir / "data"),
        "database_url": database_url,
        "nats_url": nats_url,
        "redis_url": redis_url,
        "models_dir": str(models_dir),
        "models_registry": str(REPO / "configs" / "models.yaml"),
        # Not the default fleet: a demo run on this machine leaves its cameras in that catalogue.
        "worker": {"analysis_fps": 5, "reconnect_initial_s": 0.3, "fleet": "tests"},
        "command_center": {
            "port": http_port,
            "consumer_name": f"cc-{tag}",
            "hits_consumer_start": "new",
            "metrics_token": METRICS_TOKEN,
        },
        "camera_sim": {"port": rtsp_port, "scenario": str(scenario)},
        "cameras": [
            {
                "id": cid,
                "url": f"rtsp://127.0.0.1:{rtsp_port}/{cid}",
                "district": district,
                "analytics": (analytics or {}).get(cid, ["face"]),
                **sub_streams.get(cid, {}),
                **(camera_extra or {}).get(cid, {}),
            }
            for cid in videos
        ],
        **(extra or {}),
    }
    config = workdir / "safecity.yaml"
    config.write_text(yaml.safe_dump(settings))
    return config, scenario, http_port
