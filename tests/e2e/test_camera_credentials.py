"""Password-protected cameras end to end: camera_sim (Digest login) → worker → NATS → command centre.

Two cameras ask for a login. The worker has the right password of one (``password_ref env:``) and an old
password of the other, written into its URL the way installers used to (``rtsp://user:pass@...``, split
by the settings into username and password). The right one is analysed; the wrong one is refused once,
waits minutes instead of retrying every reconnect, and operators of its district get a camera-health
notice on the live feed and in ``GET /cameras``. Every log line (caplog, each process's stdout/stderr),
every CLI output, the notices and the API answers are searched for the passwords: none is found.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import Processes, add_staff, get_json, outbox_of, sign_in, wait_http, write_system_config
from tests.e2e.test_face_alert import _collect_alerts
from tests.services import free_port

pytestmark = pytest.mark.e2e
DISTRICT = "Rawalpindi"
USER = "operator"
YARD_USER = "yard-operator"  # one Digest user has one password in a simulator
GOOD = "G00d/pa:ss@word#1%"
BAD = "0ld-pa$$word@2023"  # the camera's password was changed; the worker still has this one
SIM_BAD = "N3w:pa/ss@word#2%"  # what the camera now wants
AUTH_RETRY_S = 120.0  # the worker's first wait after a refused login in this run
TIMEOUT_S = 90.0


def forbidden() -> list[str]:
    """Every form a password could leak in: as is, percent-encoded, and Basic's base64 of user:pass."""
    forms = []
    for secret in (GOOD, BAD, SIM_BAD):
        forms += [
            secret,
            urllib.parse.quote(secret, safe=""),
            b64encode(f"{USER}:{secret}".encode()).decode(),
        ]
    return forms


@pytest.fixture
def system(
    tmp_path: Path, nats_url: str, redis_url: str, models_dir: Path
) -> Iterator[tuple[Processes, dict[str, str]]]:
    tag = uuid.uuid4().hex[:8]
    good, bad = f"e2e-gate-{tag}", f"e2e-yard-{tag}"
    metrics = {"worker": free_port(), "camera-sim": free_port()}
    config, _scenario, port = write_system_config(
        tmp_path,
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=f"sqlite:///{tmp_path / 'safecity.db'}",
        models_dir=models_dir,
        videos={good: "hamilton_whitehouse_clip.mp4", bad: "hamilton_whitehouse_clip.mp4"},
        tag=tag,
        district=DISTRICT,
        extra={
            "worker": {
                "analysis_fps": 5,
                "reconnect_initial_s": 0.3,
                "fleet": f"creds-{tag}",
                "metrics_port": metrics["worker"],
                "heartbeat_s": 1.0,
                "auth_retry_initial_s": AUTH_RETRY_S,
            },
        },
        camera_extra={
            good: {"username": USER, "password_ref": "env:E2E_GATE_PASSWORD"},
            bad: {"url": "OLD-STYLE"},  # replaced below, once the RTSP port is known
        },
        scenario_extra={
            good: {"auth": {"username": USER, "password_env": "SIM_GATE_PASSWORD"}},
            bad: {"auth": {"username": YARD_USER, "password_env": "SIM_YARD_PASSWORD"}},
        },
    )
    text = config.read_text()
    rtsp_port = re.search(r"rtsp://127\.0\.0\.1:(\d+)/", text)
    assert rtsp_port is not None
    old_style = f"rtsp://{YARD_USER}:{urllib.parse.quote(BAD, safe='')}@127.0.0.1:{rtsp_port[1]}/{bad}"
    config.write_text(text.replace("OLD-STYLE", old_style))
    sim_conf = f"camera_sim:\n  metrics_port: {metrics['camera-sim']}\n"
    config.write_text(config.read_text().replace("camera_sim:\n", sim_conf, 1))
    procs = Processes(tmp_path, config)
    procs.env |= {"E2E_GATE_PASSWORD": GOOD, "SIM_GATE_PASSWORD": GOOD, "SIM_YARD_PASSWORD": SIM_BAD}
    try:
        yield (
            procs,
            {
                "good": good,
                "bad": bad,
                "bad_url": f"rtsp://127.0.0.1:{rtsp_port[1]}/{bad}",
                "base": f"http://127.0.0.1:{port}",
                **_ports(metrics),
            },
        )
    finally:
        procs.stop_all()
        asyncio.run(_drop_bucket(nats_url, f"creds-{tag}"))


async def _drop_bucket(nats_url: str, fleet: str) -> None:
    """The run's own camera catalogue, made by ``cameras import``: gone with the test."""
    import nats

    from tests.names import subjects

    nc = await nats.connect(nats_url)
    try:
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_key_value(subjects.cameras_bucket(fleet))
    finally:
        await nc.close()


def _ports(metrics: dict[str, int]) -> dict[str, str]:
    return {f"{name}_metrics": f"http://127.0.0.1:{port}/metrics" for name, port in metrics.items()}


def metric(url: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus exposition (0 if absent, or the endpoint not up yet)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_until(what: str, check: object, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout}s")
        time.sleep(0.25)


def test_protected_cameras_leak_no_password_and_a_refused_login_is_not_hammered(
    system: tuple[Processes, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    procs, at = system
    good, bad, base = at["good"], at["bad"], at["base"]
    outputs: list[str] = []

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        done = procs.run(*args)
        outputs.append(done.stdout + done.stderr)  # what it printed (not the command line the test typed)
        return done

    assert cli("cameras", "list", "--validate-config").returncode == 0
    cc = procs.start("command-center", "command-center")
    wait_http(f"{base}/health/ready", 60, cc)
    token = sign_in(base, outbox_of(procs.workdir), *add_staff(procs, "operator", DISTRICT))
    feed: list[dict[str, object]] = []

    async def run() -> dict[str, float]:
        done = asyncio.Event()
        collector = asyncio.create_task(
            _collect_alerts(base.replace("http", "ws", 1) + "/ws/alerts", token, done, feed)
        )
        await asyncio.sleep(0.5)  # connected before any notice can exist
        sim = procs.start("camera-sim", "camera-sim")
        await asyncio.to_thread(wait_http, at["camera-sim_metrics"].replace("/metrics", "/readyz"), 60, sim)
        procs.start("worker", "worker", "--camera", good, "--camera", bad)
        seen: dict[str, float] = {}

        def notice_and_frames() -> bool:
            noticed = any(m.get("type") == "camera_health" and bad in json.dumps(m) for m in feed)
            analysed = metric(at["worker_metrics"], "safecity_worker_frames_analysed_total", camera=good)
            seen["analysed"] = analysed
            return noticed and analysed > 0

        await asyncio.to_thread(wait_until, "a login-refused notice and analysed frames", notice_and_frames)
        refused_at = time.monotonic()
        # A window of the good camera's analysis (about 10 s at 5 fps): a camera retried at the network's
        # pace (0.3-2 s) would have been asked for its login several more times in it.
        start = seen["analysed"]
        await asyncio.to_thread(
            wait_until,
            "50 more analysed frames",
            lambda: (
                metric(at["worker_metrics"], "safecity_worker_frames_analysed_total", camera=good)
                >= start + 50
            ),
        )
        seen["window_s"] = time.monotonic() - refused_at
        sim_metrics = at["camera-sim_metrics"]
        seen["bad_refused"] = metric(
            sim_metrics, "safecity_camera_sim_logins_total", camera=bad, result="refused"
        )
        seen["bad_accepted"] = metric(
            sim_metrics, "safecity_camera_sim_logins_total", camera=bad, result="accepted"
        )
        seen["good_accepted"] = metric(
            sim_metrics, "safecity_camera_sim_logins_total", camera=good, result="accepted"
        )
        seen["worker_refused"] = metric(
            at["worker_metrics"], "safecity_worker_logins_refused_total", camera=bad
        )
        done.set()
        await collector
        return seen

    seen = asyncio.run(run())
    print(f"camera logins: {seen}")  # the figures of the closing note
    assert seen["good_accepted"] >= 1
    assert seen["bad_refused"] == 1 and seen["bad_accepted"] == 0, seen  # once, not every 2 s
    assert seen["worker_refused"] == 1
    cameras = {c["id"]: c for c in get_json(f"{base}/cameras", token)}
    assert cameras[bad]["health"] == "login_refused" and "login refused" in cameras[bad]["health_summary"]
    assert cameras[good]["health"] == "ok"
    notices = [m["health"] for m in feed if m.get("type") == "camera_health"]
    first = notices[0]
    assert isinstance(first, dict) and (first["camera_id"], first["state"]) == (bad, "login_refused")

    # The shared catalogue (this run's own fleet): the old-style password is refused, a reference is kept.
    imported = cli("cameras", "import")
    assert imported.returncode == 1 and json.loads(imported.stdout)["refused"].keys() == {bad}
    leaky = cli(
        "cameras", "set", bad, "--url", f"rtsp://{YARD_USER}:{urllib.parse.quote(BAD, safe='')}@cam/x"
    )
    assert leaky.returncode != 0 and "--password-ref" in leaky.stderr
    fixed = cli(
        "cameras",
        "set",
        bad,
        "--url",
        at["bad_url"],
        "--username",
        USER,
        "--password-ref",
        "env:E2E_YARD_PASSWORD",
    )
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["password_ref"] == "env:E2E_YARD_PASSWORD"
    listed = cli("cameras", "list", "--json")
    assert listed.returncode == 0 and {c["id"] for c in json.loads(listed.stdout)["cameras"]} == {good, bad}
    cli("cameras", "list")
    for camera_id in (good, bad):
        assert cli("cameras", "remove", camera_id).returncode == 0

    procs.stop_all()
    texts = {name: procs.log(name).read_text(errors="replace") for name in procs.procs}
    assert "login to rtsp://127.0.0.1" in texts["worker"] and "401 Unauthorized" in texts["worker"]
    assert "login refused" in texts["command-center"]
    texts |= {"caplog": caplog.text, "cli": "\n".join(outputs), "feed": json.dumps(feed)}
    texts["api"] = json.dumps(cameras)
    leaks = {name: form for name, text in texts.items() for form in forbidden() if form in text}
    print(f"searched {sum(len(t) for t in texts.values())} characters of logs and output: {len(leaks)} leaks")
    assert leaks == {}, leaks
