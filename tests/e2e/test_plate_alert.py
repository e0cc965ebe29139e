"""A hotlisted plate on an ANPR camera: one read per pass in the read log, one alert for the operator.

camera_sim serves the KA 22 P 3368 dash-cam clip; a worker with the plate stage (LPD-YuNet + PP-OCRv4,
Pakistan's and India's formats) tracks the plate and votes over the pass; the command centre logs the read
and matches it against the hotlist. The vehicle then passes a second time: a second read is logged, and the
same alert is updated rather than a second one opened. PostgreSQL only: the read log and the alert store
are tested on both databases elsewhere.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.e2e.procs import (
    Processes,
    add_staff,
    get_bytes,
    get_json,
    outbox_of,
    sign_in,
    wait_http,
    write_system_config,
)

pytestmark = pytest.mark.e2e
DISTRICT = "East"
PLATE = "KA22P3368"


@pytest.fixture
def system(
    tmp_path: Path, nats_url: str, redis_url: str, postgres_url: str, models_dir: Path
) -> Iterator[tuple[Processes, str, str]]:
    tag = uuid.uuid4().hex[:8]
    camera = f"e2e-anpr-{tag}"
    config, _scenario, port = write_system_config(
        tmp_path,
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=postgres_url,
        models_dir=models_dir,
        videos={camera: "car_plate_KA22P3368.mp4"},
        tag=tag,
        district=DISTRICT,
        analytics={camera: ["plate"]},
        extra={"plates": {"countries": ["pk", "in"]}},
    )
    procs = Processes(tmp_path, config)
    try:
        yield procs, f"http://127.0.0.1:{port}", camera
    finally:
        procs.stop_all()


def _pass_of_the_vehicle(procs: Processes, n: int) -> None:
    """The clip played once through camera_sim and analysed by a worker that stops at its end."""
    procs.start(f"camera-sim-{n}", "camera-sim", "--loops", "1")
    procs.start(f"worker-{n}", "worker", "--stop-at-end")
    assert procs.wait_exit(f"worker-{n}", 120) == 0, procs.logs()
    procs.wait_exit(f"camera-sim-{n}", 30)


def _reads(base: str, token: str, camera: str) -> list[dict[str, object]]:
    query = urlencode({"camera_id": camera, "reason": "e2e check of the read log"})
    reads = get_json(f"{base}/plates/reads?{query}", token)
    assert isinstance(reads, list)
    return reads


def _wait_for(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return
        time.sleep(0.3)


def test_a_hotlisted_plate_is_read_once_per_pass_and_alerts_once(
    system: tuple[Processes, str, str],
) -> None:
    procs, base, camera = system
    listed = procs.run(
        "vehicles", "add", "KA-22-P-3368", "--status", "stolen", "--reason", "stolen from Saddar",
        "--case", "FIR 77/2026 Artillery Maidan", "--priority", "1", "--by", "e2e",
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    entry_id = json.loads(listed.stdout)["id"]

    cc = procs.start("command-center", "command-center")
    wait_http(f"{base}/health/ready", 60, cc)
    token = sign_in(base, outbox_of(procs.workdir), *add_staff(procs, "operator", DISTRICT))

    _pass_of_the_vehicle(procs, 1)
    _wait_for(lambda: len(_reads(base, token, camera)) >= 1)
    reads = _reads(base, token, camera)
    assert [r["plate"] for r in reads] == [PLATE], f"{reads}\n{procs.logs()}"
    read = reads[0]
    assert read["hotlist_entry_id"] == entry_id
    assert read["country"] == "in" and float(str(read["confidence"])) >= 0.5
    assert int(str(read["frames_read"])) >= 2, "one read is the vote of several frames"
    assert get_bytes(f"{base}{read['crop']}", token)[:3] == b"\xff\xd8\xff"

    def plate_alerts() -> list[dict[str, object]]:
        page = get_json(f"{base}/alerts?camera_id={camera}", token)
        items = page["alerts"] if isinstance(page, dict) else page
        return [a for a in items if a.get("kind") == "plate"]

    _wait_for(lambda: len(plate_alerts()) >= 1)
    alerts = plate_alerts()
    assert len(alerts) == 1, f"{alerts}\n{procs.logs()}"
    alert = alerts[0]
    assert alert["profile_id"] == entry_id
    assert get_bytes(f"{base}/alerts/{alert['id']}/evidence/crop", token)[:3] == b"\xff\xd8\xff"

    # The same vehicle passes the camera again: a second read, the same alert updated.
    _pass_of_the_vehicle(procs, 2)
    _wait_for(lambda: len(_reads(base, token, camera)) >= 2)
    assert [r["plate"] for r in _reads(base, token, camera)] == [PLATE, PLATE], procs.logs()
    _wait_for(lambda: len(get_json(f"{base}/alerts/{alert['id']}/hits", token)) >= 2)
    assert [a["id"] for a in plate_alerts()] == [alert["id"]]
    assert len(get_json(f"{base}/alerts/{alert['id']}/hits", token)) == 2
