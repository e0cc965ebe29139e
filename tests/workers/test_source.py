"""The worker's RTSP ingest against the real camera simulator: rate, stamps, reconnection, end of stream."""

from __future__ import annotations

import time

import pytest

from camera_sim.clip import Clip, load_clip
from camera_sim.server import CameraSimulator, SimCamera
from pipeline.settings import parse
from tests.services import SHARED
from tests.workers.source_reader import Reader
from workers.rtsp_reader import FailureLog
from workers.session_watch import StallLimit


@pytest.fixture(scope="module")
def hamilton() -> Clip:
    return load_clip(SHARED / "media" / "video" / "hamilton_whitehouse_clip.mp4")


def test_frames_arrive_at_the_analysis_rate_with_camera_stamps(
    hamilton: Clip, reader_factory: list[Reader]
) -> None:
    with CameraSimulator([SimCamera("cam", hamilton)], port=0) as sim:
        reader = Reader(f"rtsp://127.0.0.1:{sim.port}/cam", fps=5)
        reader_factory.append(reader)
        reader.source.start()
        first = reader.frames(1, timeout=10)
        assert first, "no frame within 10 s"
        start = time.monotonic()
        frames = reader.frames(15, timeout=10)
        elapsed = time.monotonic() - start
    assert len(frames) == 15
    assert 2.0 <= elapsed <= 4.5, f"15 frames at 5 fps took {elapsed:.1f}s"
    assert all(f.image.shape == (360, 640, 3) for f in frames)
    seqs = [f.seq for f in frames]
    assert all(s is not None for s in seqs) and seqs == sorted(seqs)
    now = time.time_ns()
    assert all(f.sent_ns is not None and 0 < now - f.sent_ns < 10e9 for f in frames)
    assert reader.counters.frames_decoded > reader.counters.frames_analysed


def test_dropped_stream_is_reconnected_and_frames_resume(
    hamilton: Clip, reader_factory: list[Reader]
) -> None:
    sim = CameraSimulator([SimCamera("cam", hamilton)], port=0)
    sim.start()
    port = sim.port
    reader = Reader(f"rtsp://127.0.0.1:{port}/cam")
    reader_factory.append(reader)
    reader.source.start()
    assert reader.frames(3, timeout=10), "no frame before the drop"
    sim.stop()
    time.sleep(1.5)
    reader.frames(1000, timeout=0.1)  # discard what was buffered before the drop
    with CameraSimulator([SimCamera("cam", hamilton)], port=port):
        restored = time.monotonic()
        again = reader.frames(1, timeout=10)
        took = time.monotonic() - restored
    assert again, "frames did not resume after the camera came back"
    assert took < 5, f"frames resumed only after {took:.1f}s"
    assert reader.counters.reconnects >= 1


def test_a_long_outage_with_the_shipped_defaults_gives_frames_within_5s_of_the_restore(
    hamilton: Clip, reader_factory: list[Reader]
) -> None:
    """Issue 9: a camera dropped for longer than the backoff cap and restored is seen again within 5 s."""
    outage_s = 8.0
    assert outage_s > parse({}).worker.reconnect_max_s
    sim = CameraSimulator([SimCamera("cam", hamilton)], port=0)
    sim.start()
    port = sim.port
    reader = Reader(f"rtsp://127.0.0.1:{port}/cam", shipped=True)
    reader_factory.append(reader)
    reader.source.start()
    assert reader.frames(3, timeout=10), "no frame before the drop"
    sim.stop()
    time.sleep(outage_s)
    reader.frames(1000, timeout=0.1)  # discard what was buffered before the drop
    failed_attempts = reader.counters.reconnects
    with CameraSimulator([SimCamera("cam", hamilton)], port=port):
        restored = time.monotonic()
        again = reader.frames(1, timeout=10)
        took = time.monotonic() - restored
    assert again, "frames did not resume after the camera came back"
    assert took < 5, f"frames resumed only after {took:.1f}s"
    # Kept trying through the outage, at no more than one attempt a second or so (backoff 0.5, 1, 2, 2...).
    assert 3 <= failed_attempts <= outage_s, failed_attempts


def test_stop_at_end_finishes_with_the_stream(hamilton: Clip, reader_factory: list[Reader]) -> None:
    with CameraSimulator([SimCamera("cam", hamilton, loop=False)], port=0) as sim:
        reader = Reader(f"rtsp://127.0.0.1:{sim.port}/cam", stop_at_end=True)
        reader_factory.append(reader)
        reader.source.start()
        reader.source.join(30)
    assert not reader.source.is_alive(), "the source kept running after the stream ended"
    assert reader.counters.frames_decoded > 100
    assert reader.queue.closed or len(reader.queue) > 0


def test_unreachable_camera_backs_off_without_crashing(reader_factory: list[Reader]) -> None:
    from tests.services import free_port

    reader = Reader(f"rtsp://127.0.0.1:{free_port()}/nobody")
    reader_factory.append(reader)
    reader.source.start()
    time.sleep(2.5)
    assert reader.source.is_alive()
    assert reader.counters.reconnects >= 2
    assert not reader.counters.connected


def test_the_undecodable_limit_starts_short_and_doubles_on_stalls_in_a_row() -> None:
    limit = StallLimit(first_s=3, max_s=12)
    seen = [limit.seconds]
    for _ in range(4):
        limit.stalled()
        seen.append(limit.seconds)
    assert seen == [3, 6, 12, 12, 12]
    limit.decoded()
    assert limit.seconds == 3


@pytest.mark.parametrize(
    ("times", "logged"),
    [
        ([0, 2, 4], [True, True, True]),  # the first failures in a row, each
        ([0, 2, 4, 6, 8, 30, 64, 66, 124], [True, True, True, False, False, False, True, False, True]),
    ],
)
def test_a_camera_down_for_long_is_logged_about_once_a_minute(times: list[float], logged: list[bool]) -> None:
    failures = FailureLog(loud=3, every_s=60)
    assert [failures.failed(t) for t in times] == logged
    failures.recovered()
    assert failures.failed(125) and failures.failures == 1


@pytest.mark.parametrize("skip_nonref", [False, True])
def test_frames_that_nothing_takes_or_refers_to_are_not_decoded(
    reader_factory: list[Reader], skip_nonref: bool
) -> None:
    """The dash-cam clip has B-frames (104 of 138 frames out of order), as some cameras send: at 5 fps of
    analysis from 30, the non-reference ones need not be decoded, and the analysis still gets 5 fps."""
    plate = load_clip(SHARED / "media" / "video" / "car_plate_KA22P3368.mp4")
    with CameraSimulator([SimCamera("cam", plate)], port=0) as sim:
        reader = Reader(sim.url("cam"), fps=5, skip_nonref=skip_nonref)
        reader_factory.append(reader)
        reader.source.start()
        assert reader.frames(1, timeout=10), "no frame within 10 s"
        decoded, start = reader.counters.frames_decoded, time.monotonic()
        frames = reader.frames(20, timeout=10)
        elapsed = time.monotonic() - start
        decoded_fps = (reader.counters.frames_decoded - decoded) / elapsed
    assert len(frames) / elapsed == pytest.approx(5, abs=0.6)
    if skip_nonref:
        assert decoded_fps < 20, decoded_fps  # measured 16.7
    else:
        assert decoded_fps == pytest.approx(29.97, abs=2)
