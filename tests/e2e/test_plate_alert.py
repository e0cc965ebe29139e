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
from typing import TypeVar
from urllib.parse import urlencode

import cv2
import numpy as np
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
T = TypeVar("T")


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


SETTLE_S = 3.0


def _settled(fetch: Callable[[], list[T]], at_least: int, timeout: float = 30) -> list[T]:
    """What ``fetch`` returns once it holds ``at_least`` items and has not changed for SETTLE_S.

    The worker has exited by then (its pass is over and published), but the command centre stores
    reads and alerts as it consumes them: asserting on the first answer would miss a late duplicate.
    """
    deadline = time.monotonic() + timeout
    seen, since = fetch(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = fetch()
        if now != seen:
            seen, since = now, time.monotonic()
        elif len(seen) >= at_least and time.monotonic() - since >= SETTLE_S:
            break
    return seen


def _size(jpeg: bytes) -> tuple[int, int]:
    assert jpeg[:3] == b"\xff\xd8\xff", "not a JPEG"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "an undecodable JPEG"
    return int(image.shape[1]), int(image.shape[0])


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
    reads = _settled(lambda: _reads(base, token, camera), 1)
    assert [r["plate"] for r in reads] == [PLATE], f"{reads}\n{procs.logs()}"
    read = reads[0]
    print(f"pass 1: {read['plate']} from {read['frames_read']} frames, confidence {read['confidence']}")
    assert read["hotlist_entry_id"] == entry_id
    assert read["country"] == "in" and float(str(read["confidence"])) >= 0.5
    assert int(str(read["frames_read"])) >= 2, "one read is the vote of several frames"
    assert get_bytes(f"{base}{read['crop']}", token)[:3] == b"\xff\xd8\xff"

    def plate_alerts() -> list[dict[str, object]]:
        page = get_json(f"{base}/alerts?camera_id={camera}", token)
        items = page["alerts"] if isinstance(page, dict) else page
        return [a for a in items if a.get("kind") == "plate"]

    alerts = _settled(plate_alerts, 1)
    assert len(alerts) == 1, f"{alerts}\n{procs.logs()}"
    alert = alerts[0]
    assert alert["profile_id"] == entry_id
    # The evidence an operator sees: the plate crop beside the scene it was read in.
    links = alert["evidence"]
    assert isinstance(links, dict)
    assert links == {
        "crop": f"/alerts/{alert['id']}/evidence/crop",
        "scene": f"/alerts/{alert['id']}/evidence/scene",
    }
    crop_w, crop_h = _size(get_bytes(f"{base}{links['crop']}", token))
    scene_w, scene_h = _size(get_bytes(f"{base}{links['scene']}", token))
    assert crop_w > crop_h, "a plate crop is wider than high"
    assert scene_w > 2 * crop_w and scene_h > 2 * crop_h, "the scene is the frame, not the plate"

    # The same vehicle passes the camera again: a second read, the same alert updated.
    _pass_of_the_vehicle(procs, 2)
    reads = _settled(lambda: _reads(base, token, camera), 2)
    assert [r["plate"] for r in reads] == [PLATE, PLATE], f"{reads}\n{procs.logs()}"
    hits = _settled(lambda: list(get_json(f"{base}/alerts/{alert['id']}/hits", token)), 2)
    assert len(hits) == 2, hits
    assert [a["id"] for a in _settled(plate_alerts, 1)] == [alert["id"]]
