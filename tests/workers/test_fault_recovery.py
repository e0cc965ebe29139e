"""The worker's ingest and analysis threads through each fault camera_sim injects, at the shipped
reconnection settings: each test times the way from the fault's end back to analysed frames (a frame
sent after the fault, at the camera's own size, taken by the analysis thread) and prints it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_sim.clip import Clip, load_clip
from camera_sim.server import CameraSimulator, SimCamera
from tests.services import SHARED
from tests.workers.fault_watch import FAULTS, Recovery, WatchedCamera, measure


@pytest.fixture(scope="module")
def hamilton() -> Clip:
    """640x360 at 29.97 fps, a keyframe about every 2 s."""
    return load_clip(SHARED / "media" / "video" / "hamilton_whitehouse_clip.mp4")


@pytest.fixture(scope="module")
def sim(hamilton: Clip, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CameraSimulator]:
    """One camera per fault, so the tests of this module may run in any order, or side by side."""
    cache: Path = tmp_path_factory.mktemp("camera-sim-cache")
    cameras = [SimCamera(f"cam-{kind.replace('_', '-')}", hamilton) for kind in FAULTS]
    with CameraSimulator(cameras, port=0, cache_dir=cache) as simulator:
        yield simulator


def recover(sim: CameraSimulator, kind: str) -> tuple[Recovery, WatchedCamera]:
    camera_id = f"cam-{kind.replace('_', '-')}"
    watched = WatchedCamera(sim.url(camera_id), camera_id)
    watched.start()
    try:
        result = measure(sim, camera_id, watched, FAULTS[kind])
        # Neither the decoding nor the analysis thread died of the fault.
        assert watched.source.is_alive() and watched.runner.is_alive()
    finally:
        watched.close()
    print(
        f"\n{kind}: back to analysed frames {result.seconds}s after the fault, {result.reconnects} "
        f"reconnects, {watched.counters.decoder_resets} decoder resets"
    )
    assert result.seconds is not None, f"no frame analysed within 30 s of the {kind} fault's end"
    assert result.seconds < 15, result
    return result, watched


def test_a_dropped_camera_is_reconnected_after_its_refusals(sim: CameraSimulator) -> None:
    result, _ = recover(sim, "drop")
    assert result.reconnected_during and result.analysed_during <= 1, result
    stats = sim.stats()["cam-drop"]
    assert stats.connections_dropped >= 1 and stats.connections_refused >= 1, stats


def test_a_stall_is_noticed_by_the_read_timeout_and_reconnected(sim: CameraSimulator) -> None:
    result, _ = recover(sim, "stall")
    # The server kept the connection open and silent: only the worker's read timeout can have ended it
    # (measured: about twice the 2 s timeout into the stall, which lasts 5 s).
    assert result.reconnects >= 1, result
    assert sim.stats()["cam-stall"].connections_dropped == 0


def test_corrupt_packets_leave_the_decoder_thread_running(sim: CameraSimulator) -> None:
    result, watched = recover(sim, "corrupt")
    # Garbled slices stop a chunk-mode decoder until it is flushed at a keyframe (or the connection is
    # opened again): one or the other brought the frames back.
    assert watched.counters.decoder_resets + result.reconnects >= 1, result


def test_a_resolution_change_is_analysed_at_the_new_size_and_back(sim: CameraSimulator) -> None:
    result, _ = recover(sim, "resolution")
    assert (426, 240) in result.sizes_during, result
    assert result.reconnects == 0, result


def test_half_the_frame_rate_keeps_the_analysis_going(sim: CameraSimulator) -> None:
    result, _ = recover(sim, "half_fps")
    assert result.analysed_during >= 3 and result.reconnects == 0, result


def test_a_skewed_send_clock_is_not_taken_for_latency(sim: CameraSimulator) -> None:
    result, _ = recover(sim, "skew")
    assert result.analysed_during >= 3 and result.reconnects == 0, result
    assert result.stamped_during == 0, result  # 60 s ahead: refused as a latency, frames still analysed
