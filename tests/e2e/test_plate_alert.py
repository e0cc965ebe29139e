"""A hotlisted plate on an ANPR camera: one read per pass in the read log, one alert for the operator.

camera_sim serves the KA 22 P 3368 dash-cam clip; a worker with the plate stage (LPD-YuNet + PP-OCRv6,
the camera declaring Pakistan's and India's plates) tracks the plate and votes over the pass; the command
centre logs the read and matches it against the hotlist. The vehicle then passes a second time: a second
read is logged, and the same alert is updated rather than a second one opened. A car from abroad (a
Californian plate, which fits no Pakistani or Indian format) is read and alerts too, with the default
settings. PostgreSQL only: the read log and the alert store are tested on both databases elsewhere.
"""

from __future__ import annotations

import csv
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import cv2
import numpy as np
import pytest

from tests.e2e.clips import plate_clip
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


def _system(
    tmp_path: Path,
    urls: tuple[str, str, str],
    models_dir: Path,
    video: str,
    camera_fields: dict[str, Any] | None = None,
) -> tuple[Processes, str, str]:
    """Settings for one ANPR camera replaying ``video``, with ``camera_fields`` on the camera."""
    nats_url, redis_url, postgres_url = urls
    tag = uuid.uuid4().hex[:8]
    camera = f"e2e-anpr-{tag}"
    settings, _scenario, port = write_system_config(
        tmp_path,
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=postgres_url,
        models_dir=models_dir,
        videos={camera: video},
        tag=tag,
        district=DISTRICT,
        analytics={camera: ["plate"]},
        camera_extra={camera: camera_fields or {}},
        # The pass starts when the worker connects: a worker slow to load its models on a busy machine
        # would otherwise find the one-loop clip over and the simulator gone.
        scenario_extra={camera: {"start": "on_first_viewer"}},
    )
    return Processes(tmp_path, settings), f"http://127.0.0.1:{port}", camera


@pytest.fixture
def urls(nats_url: str, redis_url: str, postgres_url: str) -> tuple[str, str, str]:
    return nats_url, redis_url, postgres_url


@pytest.fixture
def system(
    tmp_path: Path, urls: tuple[str, str, str], models_dir: Path
) -> Iterator[tuple[Processes, str, str]]:
    procs, base, camera = _system(
        tmp_path,
        urls,
        models_dir,
        "car_plate_KA22P3368.mp4",
        {"plate_countries": ["pk", "in"]},
    )
    try:
        yield procs, base, camera
    finally:
        procs.stop_all()


FOREIGN_PHOTO = "plates/us/wts-lg-000140.jpg"
FOREIGN_PLATE = "6MDU097"  # California's 1ABC234: no Pakistani or Indian format fits it


@pytest.fixture
def foreign_system(
    tmp_path: Path, urls: tuple[str, str, str], models_dir: Path, media_dir: Path
) -> Iterator[tuple[Processes, str, str]]:
    """The default plate settings (no plates section, no countries on the camera), replaying a clip made
    from a benchmark photo of a US car: the camera closing in on its plate for ten seconds."""
    with (media_dir / "plates" / "labels.csv").open(newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["file"] == FOREIGN_PHOTO)
    assert row["plate_text"] == FOREIGN_PLATE
    box = (float(row["x"]), float(row["y"]), float(row["w"]), float(row["h"]))
    clip = plate_clip(media_dir / FOREIGN_PHOTO, box, tmp_path / "us_plate.mp4")
    procs, base, camera = _system(tmp_path, urls, models_dir, str(clip))
    try:
        yield procs, base, camera
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


def _plate_alerts(base: str, token: str, camera: str) -> list[dict[str, object]]:
    page = get_json(f"{base}/alerts?camera_id={camera}", token)
    items = page["alerts"] if isinstance(page, dict) else page
    return [a for a in items if a.get("kind") == "plate"]


def _hotlisted(procs: Processes, plate: str, case: str) -> int:
    """``safecity vehicles add``: a stolen vehicle, priority 1; its hotlist entry id."""
    listed = procs.run(
        "vehicles", "add", plate, "--status", "stolen", "--reason", "stolen from Saddar",
        "--case", case, "--priority", "1", "--by", "e2e",
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    entry_id: int = json.loads(listed.stdout)["id"]
    return entry_id


def _operator(procs: Processes, base: str) -> str:
    """The command centre started and ready, and an operator of the camera's district signed in."""
    cc = procs.start("command-center", "command-center")
    wait_http(f"{base}/health/ready", 60, cc)
    return sign_in(base, outbox_of(procs.workdir), *add_staff(procs, "operator", DISTRICT))


def _first_pass(
    procs: Processes, base: str, camera: str, plate: str, case: str
) -> tuple[int, str, dict[str, object]]:
    """``plate`` hotlisted, an operator signed in, the vehicle's first pass: (entry id, operator's token,
    the one read logged), the read checked to be the hotlisted plate, voted from several frames."""
    entry_id = _hotlisted(procs, plate, case)
    token = _operator(procs, base)
    _pass_of_the_vehicle(procs, 1)
    reads = _settled(lambda: _reads(base, token, camera), 1)
    assert [r["plate"] for r in reads] == [plate.replace("-", "")], f"{reads}\n{procs.logs()}"
    read = reads[0]
    print(
        f"pass 1: {read['plate']} ({read['country']}) from {read['frames_read']} frames, {read['confidence']}"
    )
    assert read["hotlist_entry_id"] == entry_id
    assert int(str(read["frames_read"])) >= 2, "one read is the vote of several frames"
    return entry_id, token, read


def _size(jpeg: bytes) -> tuple[int, int]:
    assert jpeg[:3] == b"\xff\xd8\xff", "not a JPEG"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "an undecodable JPEG"
    return int(image.shape[1]), int(image.shape[0])


def test_a_hotlisted_plate_is_read_once_per_pass_and_alerts_once(
    system: tuple[Processes, str, str],
) -> None:
    procs, base, camera = system
    entry_id, token, read = _first_pass(procs, base, camera, "KA-22-P-3368", "FIR 77/2026 Artillery Maidan")
    assert read["country"] == "in" and float(str(read["confidence"])) >= 0.5
    assert get_bytes(f"{base}{read['crop']}", token)[:3] == b"\xff\xd8\xff"

    def plate_alerts() -> list[dict[str, object]]:
        return _plate_alerts(base, token, camera)

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


def test_a_hotlisted_foreign_plate_is_read_and_alerts_with_the_default_settings(
    foreign_system: tuple[Processes, str, str],
) -> None:
    """Before plates were read region-free, this car passed every camera of a Pakistani deployment
    unread: 6MDU097 fits none of Pakistan's or India's formats, then the default."""
    procs, base, camera = foreign_system
    entry_id, token, read = _first_pass(procs, base, camera, "6MDU097", "FIR 12/2027 Clifton")
    assert read["country"] == "us"
    alerts = _settled(lambda: _plate_alerts(base, token, camera), 1)
    assert [a["profile_id"] for a in alerts] == [entry_id], f"{alerts}\n{procs.logs()}"
