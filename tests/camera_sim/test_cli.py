from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.settings import parse
from safecity_cli import camera_sim_cmd
from safecity_cli.main import CommandError, common_options
from tests.services import REPO, free_port

# Only this command is registered, so the test does not depend on the other subcommands' modules.
DRIVER = """
import argparse, sys
from pipeline.settings import load
from safecity_cli import camera_sim_cmd
from safecity_cli.main import common_options, setup_logging
parser = argparse.ArgumentParser(prog="safecity")
camera_sim_cmd.register(parser.add_subparsers(required=True), common_options())
args = parser.parse_args(sys.argv[1:])
settings = load(args.config)
setup_logging(settings)
sys.exit(args.func(args, settings))
"""


def parse_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    camera_sim_cmd.register(parser.add_subparsers(required=True), common_options())
    return parser.parse_args(["camera-sim", *argv])


@pytest.fixture
def fast_scenario(tmp_path: Path, video_dir: Path) -> Path:
    path = tmp_path / "fast.yaml"
    clip = video_dir / "car_plate_KA22P3368.mp4"
    # 138 frames at 120 fps: one loop lasts about a second.
    path.write_text(f"cameras:\n  - {{id: cam-fast, file: {clip}, fps: 120}}\n")
    return path


def test_finite_run_prints_urls_and_exits_zero(
    fast_scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse_args("--scenario", str(fast_scenario), "--port", "0", "--loops", "1", "--no-publish")
    assert camera_sim_cmd.run(args, parse({})) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("camera-sim: serving rtsp://127.0.0.1:")
    assert line.endswith("/cam-fast")


def test_invalid_scenario_exits_with_usage_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras:\n  - {id: 'no spaces', file: x.mp4}\n")
    with pytest.raises(CommandError, match="no spaces") as err:
        camera_sim_cmd.run(parse_args("--scenario", str(bad)), parse({}))
    assert err.value.code == 2


def test_file_that_is_not_video_exits_with_usage_code(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video\n" * 100)
    path = tmp_path / "s.yaml"
    path.write_text(f"cameras:\n  - {{id: cam-g, file: {fake}}}\n")
    with pytest.raises(CommandError, match="not a readable video") as err:
        camera_sim_cmd.run(parse_args("--scenario", str(path), "--no-publish"), parse({}))
    assert err.value.code == 2


def test_negative_loops_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        parse_args("--loops", "-1")


def driver(*args: str, **env: str) -> subprocess.Popen[str]:
    """``safecity camera-sim ARGS`` in a process of its own, without FrameSent events."""
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, "camera-sim", "--port", "0", *args],
        cwd=REPO,
        env={**os.environ, "SAFECITY_CAMERA_SIM__PUBLISH_FRAMES": "false", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_cleanly(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> None:
    """Signal the process, which must exit 0 without a traceback (killed if it does not exit)."""
    try:
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_cleanly(sig: signal.Signals) -> None:
    proc = driver()
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("camera-sim: serving rtsp://127.0.0.1:"), first
        assert first.rstrip().endswith("/cam-hamilton")
    finally:
        stop_cleanly(proc, sig)


def test_the_running_simulator_takes_faults_over_http(fast_scenario: Path) -> None:
    port = free_port()
    proc = driver("--scenario", str(fast_scenario), SAFECITY_CAMERA_SIM__METRICS_PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("camera-sim: serving")
        fault = json.dumps({"kind": "stall", "duration_s": 600}).encode()
        request = urllib.request.Request(f"{base}/faults/cam-fast", data=fault, method="POST")
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 201 and json.loads(resp.read())["state"] == "active"
        with urllib.request.urlopen(f"{base}/faults", timeout=10) as resp:
            assert [f["kind"] for f in json.loads(resp.read())["faults"]] == ["stall"]
        withheld = 'safecity_camera_sim_frames_withheld_total{camera="cam-fast"}'
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # frames due while the camera stalls are counted, not sent
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
                line = next(x for x in resp.read().decode().splitlines() if x.startswith(withheld))
            if float(line.split()[-1]) > 0:
                break
            time.sleep(0.1)  # poll interval of the condition above
        else:
            pytest.fail(f"no frame withheld: {line}")
    finally:
        stop_cleanly(proc)
