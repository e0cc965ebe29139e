"""The worker's source against a password-protected camera_sim camera: the right password is analysed, a
wrong one waits for minutes (growing) instead of the network's seconds, a rotated secret is used at once,
and no log line or error text carries the password."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from camera_sim.auth import SimAuth
from camera_sim.clip import Clip, load_clip
from camera_sim.server import CameraSimulator, SimCamera
from pipeline.camera_credentials import StreamAddress
from pipeline.settings import parse
from pipeline.types import CameraId, Frame
from tests.workers.media import HAMILTON
from workers.frame_queue import DropOldestQueue
from workers.source import RtspSource, SourceOptions
from workers.stats import CameraCounters

PASSWORD = "Gate@7#north:%/ü"  # reserved characters: the worker must percent-encode them
WRONG = "gate-7-old-password"
TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def sim() -> Iterator[CameraSimulator]:
    clip: Clip = load_clip(HAMILTON)
    with CameraSimulator([SimCamera("cam", clip, auth=SimAuth("operator", PASSWORD))], port=0) as sim:
        yield sim


class Source(RtspSource):
    """The worker's source, recording each refused login: (when, the wait it chose)."""

    def __init__(self, address: StreamAddress, auth_retry: tuple[float, float]) -> None:
        worker = parse({}).worker
        options = SourceOptions(
            address=address,
            analysis_fps=5,
            open_timeout_s=2,
            reconnect_initial_s=0.05,  # the network's retry: much faster than a refused login's
            reconnect_max_s=0.2,
            stop_at_end=False,
            keyframe_wait_s=worker.streams.keyframe_wait_s,
            skip_nonref=True,
            skip_loop_filter=False,
            auth_retry_initial_s=auth_retry[0],
            auth_retry_max_s=auth_retry[1],
        )
        self.queue: DropOldestQueue[Frame] = DropOldestQueue(100)
        self.counters = CameraCounters("cam")
        self.refusals: list[tuple[float, float]] = []
        self.refused = threading.Condition()
        super().__init__(CameraId("cam"), options, self.queue, self.counters, threading.Event())

    def _login_refused(self, reason: str, retry_in_s: float) -> None:
        super()._login_refused(reason, retry_in_s)
        with self.refused:
            self.refusals.append((time.monotonic(), retry_in_s))
            self.refused.notify_all()

    def wait_refusals(self, n: int) -> None:
        with self.refused:
            assert self.refused.wait_for(lambda: len(self.refusals) >= n, TIMEOUT_S), self.refusals

    def first_frame(self) -> Frame:
        frame = self.queue.get(timeout=TIMEOUT_S)
        assert frame is not None, "no frame analysed"
        return frame

    def close(self) -> None:
        self._stop.set()
        self.join(10)


def address(sim: CameraSimulator, **login: object) -> StreamAddress:
    return StreamAddress(sim.url("cam"), "operator", **login)  # type: ignore[arg-type]


def test_the_right_password_is_analysed(sim: CameraSimulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    before = sim.logins("cam")
    source = Source(address(sim, password=SecretStr(PASSWORD)), auth_retry=(300, 3600))
    source.start()
    try:
        assert source.first_frame().image.shape[:2] == (360, 640)
    finally:
        source.close()
    attempts, refused = sim.logins("cam")
    assert refused == before[1] and attempts > before[0]
    assert source.refusals == []
    assert PASSWORD not in caplog.text and "Gate%40" not in caplog.text


def test_a_wrong_password_backs_off_growing_not_every_reconnect(
    sim: CameraSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    attempts0, refused0 = sim.logins("cam")
    source = Source(address(sim, password=SecretStr(WRONG)), auth_retry=(0.5, 1.0))
    source.start()
    try:
        source.wait_refusals(4)
        attempts, refused = sim.logins("cam")
    finally:
        source.close()
    waits = [wait for _, wait in source.refusals[:4]]
    assert waits == [0.5, 1.0, 1.0, 1.0]  # doubling to the most, each refusal in a row
    gaps = [b[0] - a[0] for a, b in zip(source.refusals, source.refusals[1:4], strict=False)]
    assert all(gap >= wait for gap, wait in zip(gaps, waits, strict=False)), gaps
    # one login per refusal: no network-style retries in between (they would come every 0.05-0.2 s)
    assert attempts - attempts0 == refused - refused0 == len(source.refusals)
    assert source.counters.logins_refused == len(source.refusals)
    assert "login to rtsp://127.0.0.1" in caplog.text and "401 Unauthorized" in caplog.text
    assert WRONG not in caplog.text


def test_minutes_by_default_and_a_rotated_secret_is_used_at_once(
    sim: CameraSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With the shipped wait (minutes), the camera sees one refused login; when the secret file is
    corrected, the worker logs in again within seconds and analyses, without waiting the minutes out."""
    caplog.set_level(logging.DEBUG)
    secret = tmp_path / "cam.secret"
    secret.write_text(WRONG + "\n")
    shipped = parse({}).worker
    source = Source(
        address(sim, password_ref=f"file:{secret}"),
        auth_retry=(shipped.auth_retry_initial_s, shipped.auth_retry_max_s),
    )
    attempts0, refused0 = sim.logins("cam")
    source.start()
    try:
        source.wait_refusals(1)
        assert source.refusals[0][1] >= 300  # minutes, not the network's seconds
        assert sim.logins("cam") == (attempts0 + 1, refused0 + 1)
        secret.write_text(PASSWORD + "\n")
        corrected = time.monotonic()
        source.first_frame()
        took = time.monotonic() - corrected
    finally:
        source.close()
    attempts, refused = sim.logins("cam")
    assert refused == refused0 + 1 and attempts >= attempts0 + 2
    assert took < 15, took
    assert "its password changed" in caplog.text and "login accepted" in caplog.text
    assert PASSWORD not in caplog.text and WRONG not in caplog.text


def test_a_basic_login_camera_is_analysed_and_counts_a_refusal() -> None:
    """Basic, the other method cameras offer: the password travels base64-encoded, percent-decoded first."""
    clip = load_clip(HAMILTON)
    with CameraSimulator(
        [SimCamera("cam", clip, auth=SimAuth("viewer", PASSWORD, "basic"))], port=0
    ) as basic:
        wrong = Source(StreamAddress(basic.url("cam"), "viewer", SecretStr(WRONG)), auth_retry=(300, 3600))
        wrong.start()
        try:
            wrong.wait_refusals(1)
        finally:
            wrong.close()
        right = Source(StreamAddress(basic.url("cam"), "viewer", SecretStr(PASSWORD)), auth_retry=(300, 3600))
        right.start()
        try:
            right.first_frame()
        finally:
            right.close()
        assert basic.logins("cam")[1] == 1 and basic.logins("cam")[0] >= 2
