"""Capture times from the camera's RTCP sender reports: against camera_sim's exact stamps over RTSP/TCP,
through the worker's source for a camera that sends no stamps, and the arithmetic on its own."""

from __future__ import annotations

import time
from fractions import Fraction

import av
import pytest

from camera_sim.clip import Clip, load_clip
from camera_sim.server import CameraSimulator, SimCamera
from pipeline.frame_stamp import find_stamp
from tests.workers.media import HAMILTON
from tests.workers.source_reader import Reader
from workers.capture_clock import CaptureClock
from workers.rtsp_reader import open_options

TB = Fraction(1, 90_000)
NOW_NS = 1_800_000_000_000_000_000


@pytest.fixture(scope="module")
def hamilton() -> Clip:
    return load_clip(HAMILTON)


def test_rtcp_times_match_the_simulators_send_stamps_over_tcp(hamilton: Clip) -> None:
    """GStreamer's RTSP server sends sender reports interleaved on the TCP connection; FFmpeg maps each
    frame's RTP time through the latest one. Measured: 20 ms after the stamp (the server's own latency)."""
    errors_ms: list[float] = []
    with (
        CameraSimulator([SimCamera("cam", hamilton)], port=0) as sim,
        av.open(sim.url("cam"), options=open_options(), timeout=5.0) as container,
    ):
        stream = container.streams.video[0]
        clock = CaptureClock("cam", stream.time_base)
        deadline = time.monotonic() + 15
        for packet in container.demux(stream):
            clock.observe(packet)
            stamp = find_stamp(bytes(packet))
            captured = clock.capture_ns(packet.pts, time.time_ns())
            if stamp is not None and captured is not None:
                errors_ms.append((captured - stamp.sent_ns) / 1e6)
            if len(errors_ms) >= 60 or time.monotonic() > deadline:
                break
    assert len(errors_ms) >= 60, "no sender report within 15 s"
    errors_ms.sort()
    assert -5 < errors_ms[len(errors_ms) // 2] < 50, errors_ms
    assert errors_ms[-3] - errors_ms[2] < 20, errors_ms  # steady: one mapping, not per-packet noise


def test_a_camera_without_stamps_gets_its_frames_glass_time_from_rtcp(
    hamilton: Clip, reader_factory: list[Reader]
) -> None:
    with CameraSimulator([SimCamera("cam", hamilton, stamps=False)], port=0) as sim:
        reader = Reader(sim.url("cam"), fps=10)
        reader_factory.append(reader)
        reader.source.start()
        timed = []
        deadline = time.monotonic() + 15
        while len(timed) < 10 and time.monotonic() < deadline:
            timed += [f for f in reader.frames(1, timeout=1) if f.sent_ns is not None]
    assert len(timed) == 10, "frames got no capture time from the sender reports within 15 s"
    assert all(f.seq is None for f in timed)  # no simulator stamps: the time is the camera's own
    assert all(0 < f.received_ns - f.sent_ns < 200e6 for f in timed), [
        (f.received_ns - f.sent_ns) / 1e6 for f in timed
    ]


def test_no_capture_time_before_the_first_sender_report() -> None:
    clock = CaptureClock("cam", TB)
    assert not clock.synchronised
    assert clock.capture_ns(9000, NOW_NS) is None


def test_the_median_offset_ignores_a_frame_given_its_neighbours_time() -> None:
    clock = CaptureClock("cam", TB, window=5)
    base_us = NOW_NS // 1000 - 50_000
    for i in range(5):
        late = 33_367 if i == 0 else 0  # the first report's time came from the next frame
        clock.offer(i * 3003, base_us + i * 33_367 + late)
    # Frame 10 (pts 30030 at 90 kHz) was captured 333.67 ms after frame 0.
    assert clock.capture_ns(30_030, NOW_NS) == pytest.approx(base_us * 1000 + 333_666_667, abs=2000)


@pytest.mark.parametrize(
    ("skew_s", "trusted"), [(-0.2, True), (0.0, True), (25.0, True), (-3.0, False), (40, False)]
)
def test_a_camera_clock_far_from_ours_is_not_taken_for_latency(skew_s: float, trusted: bool) -> None:
    clock = CaptureClock("cam", TB)
    clock.offer(0, (NOW_NS - int(skew_s * 1e9)) // 1000)
    assert (clock.capture_ns(0, NOW_NS) is not None) == trusted
