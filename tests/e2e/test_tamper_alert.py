"""A camera covered in the middle of its stream: the worker (``analytics: [tamper]``) learns the street it
usually shows, reports the covered lens once it has lasted the hold time, and the operator gets one alert of
kind ``tamper`` with the view now beside the usual view. The clip is made at test time from a photo of a
street: ten seconds of the street with someone walking across it, then eight seconds of a covered lens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.e2e.clips import write_clip
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
from tests.e2e.test_plate_alert import _settled

pytestmark = pytest.mark.e2e
DISTRICT = "East"
FPS = 10
SIZE = (640, 360)


def tampered_clip(photo: Path, target: Path) -> Path:
    street = cv2.resize(cv2.imread(str(photo), cv2.IMREAD_COLOR), SIZE, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(7)
    frames = []
    for i in range(10 * FPS):
        frame = np.clip(street.astype(np.int16) + rng.normal(0, 3, street.shape), 0, 255).astype(np.uint8)
        x = 40 + i * 5
        cv2.rectangle(frame, (x, 120), (x + 50, 330), (40, 60, 90), -1)  # someone walking past
        frames.append(frame)
    for _ in range(8 * FPS):
        frames.append(np.clip(12 + rng.normal(0, 2, street.shape), 0, 255).astype(np.uint8))
    return write_clip(frames, target, FPS, SIZE)


@pytest.fixture
def system(
    tmp_path: Path, nats_url: str, redis_url: str, postgres_url: str, models_dir: Path, media_dir: Path
) -> Iterator[tuple[Processes, str, str]]:
    tag = uuid.uuid4().hex[:8]
    camera = f"e2e-tamper-{tag}"
    clip = tampered_clip(media_dir / "plates/us/wts-lg-000140.jpg", tmp_path / "tampered.mp4")
    settings, _scenario, port = write_system_config(
        tmp_path,
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=postgres_url,
        models_dir=models_dir,
        videos={camera: str(clip)},
        tag=tag,
        district=DISTRICT,
        analytics={camera: ["tamper"]},
        scenario_extra={camera: {"start": "on_first_viewer"}},
    )
    procs = Processes(tmp_path, settings)
    try:
        yield procs, f"http://127.0.0.1:{port}", camera
    finally:
        procs.stop_all()


def _grey_spread(jpeg: bytes) -> float:
    assert jpeg[:3] == b"\xff\xd8\xff", "not a JPEG"
    return float(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE).std())


def test_a_covered_camera_raises_one_tamper_alert_with_the_usual_view_beside(
    system: tuple[Processes, str, str],
) -> None:
    procs, base, camera = system
    cc = procs.start("command-center", "command-center")
    wait_http(f"{base}/health/ready", 60, cc)
    token = sign_in(base, outbox_of(procs.workdir), *add_staff(procs, "operator", DISTRICT))
    procs.start("camera-sim", "camera-sim", "--loops", "1")
    procs.start("worker", "worker", "--stop-at-end")
    assert procs.wait_exit("worker", 120) == 0, procs.logs()

    def tamper_alerts() -> list[dict[str, object]]:
        page = get_json(f"{base}/alerts?camera_id={camera}&kind=tamper", token)
        assert isinstance(page, dict)
        return list(page["alerts"])

    alerts = _settled(tamper_alerts, 1)
    assert len(alerts) == 1, f"{alerts}\n{procs.logs()}"
    alert = alerts[0]
    assert (alert["kind"], alert["category"], alert["profile_name"]) == (
        "tamper",
        "camera_tamper",
        "camera lens covered",
    )
    details = alert["details"]
    assert isinstance(details, dict) and details["condition"] == "covered"
    assert alert["listed"] == {
        "caption": "Usual view",
        "photo": f"/alerts/{alert['id']}/evidence/scene",
        "headline": None,
        "lines": [],
    }
    now = _grey_spread(get_bytes(f"{base}/alerts/{alert['id']}/evidence/crop", token))
    usual = _grey_spread(get_bytes(f"{base}/alerts/{alert['id']}/evidence/scene", token))
    assert now < 8 < usual, (now, usual)
    # Nothing else was raised: people walking past a camera are not tampering.
    everything = get_json(f"{base}/alerts?camera_id={camera}", token)
    assert isinstance(everything, dict) and len(everything["alerts"]) == 1
