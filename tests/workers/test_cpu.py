"""The worker's own CPU cost: per stage on a camera's analysis thread, its source thread's from the
kernel, and per camera-second in /metrics; plate cameras count their analysed frames too."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import faiss
import numpy as np
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.plate_detections import PlateDetections
from pipeline.settings import parse
from pipeline.types import CameraId, Frame
from tests.workers.test_plate_passes import Seen
from tests.workers.test_probe_server import snapshot_of
from workers.cpu import StageClock, ThreadCpu
from workers.frame_queue import DropOldestQueue
from workers.metrics import RateMeter, WorkerMetrics
from workers.plate_analysis import PlateAnalyser
from workers.runner import CameraRunner
from workers.stats import CameraCounters


def burn(seconds: float) -> None:
    """Spend about ``seconds`` of this thread's CPU."""
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        sum(range(1000))


class TimedStage:
    """A stage that times its own parts, as the face analysis does."""

    def __init__(self) -> None:
        self.last_stage_ms: dict[str, float] = {}
        self.last_stage_cpu_ms: dict[str, float] = {}
        self.reported = {"detect": 0.0, "embed": 0.0}

    def process(self, frame: Frame) -> None:
        clock = StageClock()
        burn(0.02)
        clock.lap("detect")
        burn(0.01)
        clock.lap("embed")
        self.last_stage_ms, self.last_stage_cpu_ms = clock.wall_ms, clock.cpu_ms
        for part, ms in clock.cpu_ms.items():
            self.reported[part] += ms / 1e3

    def finish(self) -> None:
        pass


class UntimedStage:
    """A stage that does not time its parts: its time is counted under its analytic."""

    def __init__(self) -> None:
        self.last_stage_ms: dict[str, float] = {}

    def process(self, frame: Frame) -> None:
        burn(0.015)

    def finish(self) -> None:
        pass


def frame(seq: int) -> Frame:
    return Frame(CameraId("cam-c"), np.zeros((8, 8, 3), np.uint8), received_ns=time.time_ns(), seq=seq)


def run_four_frames(camera: str, stages: dict[str, object], counters: CameraCounters) -> dict[str, float]:
    """Four frames through a camera's runner; the CPU seconds it counted per stage."""
    queue: DropOldestQueue[Frame] = DropOldestQueue(8)
    runner = CameraRunner(camera, stages, queue, threading.Event(), counters)  # type: ignore[arg-type]
    for seq in range(4):
        queue.put(frame(seq))
    queue.close()
    runner.start()
    runner.join(30)
    assert not runner.is_alive()
    assert counters.frames_analysed == 4
    return dict(counters.cpu_seconds)


@pytest.mark.parametrize("stages", [{"face": TimedStage()}, {"plate": UntimedStage()}], ids=["face", "plate"])
def test_the_runner_counts_every_frame_and_the_cpu_of_each_stage(stages: dict[str, object]) -> None:
    counters = CameraCounters("cam-c")
    cpu = run_four_frames("cam-c", stages, counters)
    if isinstance(stage := stages.get("face"), TimedStage):
        assert cpu["detect"] == pytest.approx(stage.reported["detect"]) and cpu["detect"] >= 4 * 0.02
        assert cpu["embed"] == pytest.approx(stage.reported["embed"]) and cpu["embed"] >= 4 * 0.01
        assert 0 <= cpu["face"] < 0.01  # the bookkeeping around the timed parts
    else:
        assert set(cpu) == {"plate"} and 4 * 0.015 <= cpu["plate"] < 1.0


def test_a_named_threads_cpu_is_read_from_the_kernel() -> None:
    meter = ThreadCpu("source-cam-k")
    assert meter.take() == 0.0
    done = threading.Event()

    def work() -> None:
        burn(0.1)
        done.wait(30)

    thread = threading.Thread(target=work, name="source-cam-k")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        spent = 0.0
        while spent < 0.09 and time.monotonic() < deadline:  # until the burn shows
            spent += meter.take()
        assert 0.09 <= spent < 0.5
        assert meter.take() < 0.02  # it now waits: nothing more to add
    finally:
        done.set()
        thread.join()
    assert meter.take() == 0.0  # gone


def test_cpu_per_stage_and_per_camera_second_in_metrics() -> None:
    counters = CameraCounters("cam-1")
    meter = RateMeter(window_s=5)
    for second in range(6):
        counters.cpu_seconds = {"decode": 0.035 * second, "detect": 0.02 * second}
        meter.sample({"cam-1": counters}, running=1, now=float(second))
    assert meter.cpu_ms_per_s()["cam-1"] == pytest.approx(55.0)
    snapshot = replace(
        snapshot_of(counters, {"cam-1": (25.0, 5.0)}),
        cpu_ms_per_s=meter.cpu_ms_per_s(),
        process_cpu_ms_per_camera_s=70.0,
    )
    metrics = WorkerMetrics("w1", lambda: snapshot)
    text = generate_latest(metrics.registry).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    key = ("safecity_worker_cpu_seconds_total", (("camera", "cam-1"), ("stage", "decode")))
    assert samples[key] == pytest.approx(0.175)
    per_second = samples[("safecity_worker_cpu_ms_per_camera_second", (("camera", "cam-1"),))]
    assert per_second == pytest.approx(55.0)
    assert samples[("safecity_worker_process_cpu_ms_per_camera_second", ())] == 70.0


class BurningReader:
    """A plate reader that spends known CPU: 20 ms to detect, 10 ms per plate to read."""

    box = (40.0, 250.0, 120.0, 30.0)

    def detect(self, image: object, regions: object = None, *, known: object = ()) -> PlateDetections:
        burn(0.02)
        return PlateDetections(np.array([self.box], np.float32), np.array([0.9], np.float32))

    def recognise(self, image: object, detections: PlateDetections) -> list[Seen]:
        burn(0.01 * len(detections))
        return [Seen("", self.box, confidence=0.0) for _ in range(len(detections))]  # unreadable


def test_a_plate_camera_counts_its_cpu_by_part() -> None:
    """The plate analysis times its parts as the face analysis does: detection and reading are told
    apart in safecity_worker_cpu_seconds_total, not lumped under 'plate'."""
    settings = parse({"plates": {"motion": {"enabled": False}}})
    counters = CameraCounters("cam-p")
    analyser = PlateAnalyser("cam-p", "w1", settings, BurningReader(), counters, lambda read: None)
    cpu = run_four_frames("cam-p", {"plate": analyser}, counters)
    assert 4 * 0.02 <= cpu["plate_detect"] < 4 * 0.02 + 0.5
    assert 0.01 <= cpu["read"] < 4 * 0.01 + 0.5  # an unreadable plate that stays put is not read again
    assert {"plate_gate", "track_vote"} <= set(cpu) and cpu.get("plate", 0.0) < 0.05


class SearchThreads:
    """A stage that notes how many threads a FAISS search from its thread would use."""

    def __init__(self) -> None:
        self.last_stage_ms: dict[str, float] = {}
        self.seen: list[int] = []

    def process(self, frame: Frame) -> None:
        self.seen.append(faiss.omp_get_max_threads())

    def finish(self) -> None:
        pass


def test_a_cameras_watchlist_searches_run_on_its_own_thread_alone() -> None:
    """OpenMP's helper threads spin after each search (~7.5 ms of CPU per search of a camera, measured):
    the analysis thread searches alone; other threads keep their own setting."""
    stage = SearchThreads()
    before = faiss.omp_get_max_threads()
    run_four_frames("cam-s", {"face": stage}, CameraCounters("cam-s"))
    assert stage.seen == [1, 1, 1, 1]
    assert faiss.omp_get_max_threads() == before
