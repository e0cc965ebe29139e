"""Prometheus metrics of one worker process: a registry of its own, read at scrape time.

Hot paths only observe histograms (stage latencies, thread-safe); everything that is already counted
(``CameraCounters``, the publisher, the lease keeper, the NATS client) is read by a collector when
Prometheus scrapes, so counting costs nothing twice. Frames per second are measured by sampling the
counters once a second over a short window, not per scrape, so any number of scrapers agree.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pipeline.types import Frame
from workers.quality import Rejection
from workers.stats import CameraCounters

STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
FPS_WINDOW_S = 5.0


@dataclass(frozen=True, slots=True)
class WorkerSnapshot:
    """What the worker holds at scrape time."""

    cameras: Mapping[str, CameraCounters]  # every camera analysed since start (totals never go back)
    running: frozenset[str]
    fps: Mapping[str, tuple[float, float]]  # camera -> (decoded, analysed) frames per second
    outbox_pending: int
    published: int
    outbox_dropped: int
    nats_connected: bool
    nats_reconnects: int
    leases_held: int | None = None  # None: static assignment
    live_workers: int = 0
    lease_events: Mapping[str, int] = field(default_factory=dict)  # claimed, released, contended
    leases_lost: Mapping[str, int] = field(default_factory=dict)  # by reason
    cpu_ms_per_s: Mapping[str, float] = field(default_factory=dict)  # camera -> its threads' CPU
    process_cpu_ms_per_camera_s: float | None = None  # the whole process's CPU over running cameras


class RateMeter:
    """Frames per second and CPU milliseconds per second per camera over the last few seconds, from
    counter samples; and the whole process's CPU per running camera."""

    def __init__(self, window_s: float = FPS_WINDOW_S) -> None:
        self._window_s = window_s
        self._samples: dict[str, deque[tuple[float, int, int, float]]] = {}
        self._process: deque[tuple[float, float, int]] = deque()  # (time, process CPU s, cameras)

    def sample(
        self, cameras: Mapping[str, CameraCounters], running: int = 0, now: float | None = None
    ) -> None:
        now = time.monotonic() if now is None else now
        for camera_id, c in cameras.items():
            samples = self._samples.setdefault(camera_id, deque())
            samples.append((now, c.frames_decoded, c.frames_analysed, sum(dict(c.cpu_seconds).values())))
            _trim(samples, now, self._window_s)
        self._process.append((now, time.process_time(), running))
        _trim(self._process, now, self._window_s)

    def rates(self) -> dict[str, tuple[float, float]]:
        out = {}
        for camera_id, samples in self._samples.items():
            (t0, d0, a0, _), (t1, d1, a1, _) = samples[0], samples[-1]
            dt = t1 - t0
            out[camera_id] = ((d1 - d0) / dt, (a1 - a0) / dt) if dt > 0 else (0.0, 0.0)
        return out

    def cpu_ms_per_s(self) -> dict[str, float]:
        """Each camera's threads' CPU milliseconds per second of the window."""
        out = {}
        for camera_id, samples in self._samples.items():
            (t0, *_, c0), (t1, *_, c1) = samples[0], samples[-1]
            out[camera_id] = (c1 - c0) / (t1 - t0) * 1e3 if t1 > t0 else 0.0
        return out

    def process_cpu_ms_per_camera_s(self) -> float | None:
        """The process's CPU milliseconds (every thread: cameras, NATS, metrics) per running camera and
        second of the window; None before two samples or without cameras."""
        if len(self._process) < 2:
            return None
        (t0, c0, _), (t1, c1, running) = self._process[0], self._process[-1]
        if t1 <= t0 or running == 0:
            return None
        return (c1 - c0) / (t1 - t0) * 1e3 / running


def _trim(samples: deque[Any], now: float, window_s: float) -> None:
    while len(samples) > 2 and now - samples[1][0] >= window_s:
        samples.popleft()


class WorkerMetrics:
    def __init__(self, worker_id: str, snapshot: Callable[[], WorkerSnapshot]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.worker_id = worker_id
        self.stage_seconds = Histogram(
            "safecity_worker_stage_seconds",
            "Time per frame in each stage: decode, queue, detect, quality, track, embed, match, vote, "
            "plate read and vote, and publish (per hit).",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.glass_to_analysed = Histogram(
            "safecity_worker_glass_to_analysed_seconds",
            "From the camera sending a frame to the end of its analysis (frames carrying a camera stamp).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_SnapshotCollector(worker_id, snapshot))

    def frame_done(self, frame: Frame, stage_ms: Mapping[str, float]) -> None:
        """One frame went through one analysis stage (called from the camera's thread)."""
        for stage, ms in stage_ms.items():
            self.stage_seconds.labels(stage).observe(ms / 1e3)

    def frame_received(self, frame: Frame) -> None:
        self.stage_seconds.labels("decode").observe(frame.decode_ms / 1e3)
        if frame.enqueued_ns:
            self.stage_seconds.labels("queue").observe((time.perf_counter_ns() - frame.enqueued_ns) / 1e9)

    def frame_finished(self, frame: Frame) -> None:
        if frame.sent_ns is not None:
            self.glass_to_analysed.observe(max(time.time_ns() - frame.sent_ns, 0) / 1e9)

    def published(self, seconds: float) -> None:
        self.stage_seconds.labels("publish").observe(seconds)


_CAMERA_COUNTERS = (  # (CameraCounters attribute, help): the metric is safecity_worker_<attribute>
    ("frames_decoded", "Frames decoded from the camera's stream."),
    ("frames_analysed", "Frames analysed (the analysis rate's share of the decoded ones)."),
    ("frames_dropped", "Frames dropped because analysis was behind (the oldest goes)."),
    ("frames_still", "Analysed frames in which nothing had moved since the last detection (none made)."),
    (
        "frames_tracks_only",
        "Analysed frames detected only around the camera's tracks, between whole-frame detections "
        "(motion.full_frame_every); with no track, not detected.",
    ),
    ("reconnects", "Times the camera's stream was lost or could not be opened, then retried."),
    (
        "logins_refused",
        "Logins the camera refused (401/403) or whose password could not be read; each is followed by a "
        "wait of minutes (worker.auth_retry_initial_s), not the network's reconnect.",
    ),
    ("decoder_resets", "Decoders flushed at a keyframe after a whole GOP decoded to nothing (garbled data)."),
    ("faces_detected", "Faces detected."),
    ("faces_embedded", "Faces embedded (passed the quality gates, within the track budget)."),
    ("faces_unknown", "Embedded faces that matched no watchlist profile (nothing kept)."),
    (
        "faces_ambiguous",
        "Embedded faces whose two best profiles were too close to call (no vote for either).",
    ),
    ("faces_over_budget", "Faces not embedded: their track's attempt budget was spent."),
    ("faces_after_decision", "Faces not embedded: their track was already decided."),
    ("tracks_started", "Face tracks started."),
    ("tracks_decided", "Face tracks decided for a watchlist profile."),
    ("tracks_undecided", "Face tracks that ended without a decision."),
    ("tracks_expired", "Face tracks closed by the age budget."),
    (
        "budget_exhausted",
        "Face tracks whose attempt budget was spent without a decision (not embedded again).",
    ),
    ("scene_cuts", "Scene cuts seen (every open track ended)."),
    ("hits_published", "Watchlist hits published (first decisions)."),
    ("hit_updates_published", "Hit updates published (better evidence of a decided track)."),
    ("plates_detected", "Plates detected."),
    ("plate_reads_published", "Vehicle passes read and published."),
    (
        "plate_passes_rejoined",
        "Tracks that re-acquired a plate read moments before on this camera (one pass: not published again).",
    ),
)
# Where the metric says more than the attribute's name.
_METRIC_NAMES = {"budget_exhausted": "tracks_budget_exhausted"}


class _SnapshotCollector(Collector):
    def __init__(self, worker_id: str, snapshot: Callable[[], WorkerSnapshot]) -> None:
        self._worker_id = worker_id
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self._snapshot()
        yield from self._cameras(s)
        yield from self._bus(s)
        if s.leases_held is not None:
            yield from self._leases(s)

    def _cameras(self, s: WorkerSnapshot) -> Iterator[Metric]:
        for attr, doc in _CAMERA_COUNTERS:
            name = _METRIC_NAMES.get(attr, attr)
            family = CounterMetricFamily(f"safecity_worker_{name}", doc, labels=["camera"])
            for camera_id, counters in s.cameras.items():
                family.add_metric([camera_id], getattr(counters, attr))
            yield family
        rejected = CounterMetricFamily(
            "safecity_worker_faces_rejected",
            "Faces refused by a quality gate before embedding, under the first gate failed: too_small "
            "(size), low_score (detector score), turned (pose), blurry (sharpness).",
            labels=["camera", "reason"],
        )
        for camera_id, counters in s.cameras.items():
            # Every gate, even at 0, so a rate() over a reason exists before its first rejection.
            for reason in Rejection:
                rejected.add_metric([camera_id, reason.value], counters.faces_rejected.get(reason.value, 0))
        yield rejected
        fps = GaugeMetricFamily(
            "safecity_worker_fps", "Frames per second over the last few seconds.", labels=["camera", "kind"]
        )
        connected = GaugeMetricFamily(
            "safecity_worker_camera_connected", "1 while the camera's stream is open.", labels=["camera"]
        )
        running = GaugeMetricFamily(
            "safecity_worker_camera_running", "1 while this worker analyses the camera.", labels=["camera"]
        )
        age = GaugeMetricFamily(
            "safecity_worker_last_frame_age_seconds",
            "Seconds since the last decoded frame.",
            labels=["camera"],
        )
        now_ns = time.time_ns()
        for camera_id, counters in s.cameras.items():
            decoded, analysed = s.fps.get(camera_id, (0.0, 0.0))
            fps.add_metric([camera_id, "decoded"], decoded)
            fps.add_metric([camera_id, "analysed"], analysed)
            connected.add_metric([camera_id], float(counters.connected))
            running.add_metric([camera_id], float(camera_id in s.running))
            if counters.last_frame_ns is not None:
                age.add_metric([camera_id], max(now_ns - counters.last_frame_ns, 0) / 1e9)
        yield from (fps, connected, running, age)
        yield from self._cpu(s)

    def _cpu(self, s: WorkerSnapshot) -> Iterator[Metric]:
        spent = CounterMetricFamily(
            "safecity_worker_cpu_seconds",
            "CPU time of the camera's own threads, by stage: decode (the source thread: demux, decode, "
            "colour), and on the analysis thread motion, detect, quality, track, embed, match, vote, "
            "evidence (face) or plate, and face or plate for the rest of that analysis.",
            labels=["camera", "stage"],
        )
        for camera_id, counters in s.cameras.items():
            for stage, seconds in sorted(dict(counters.cpu_seconds).items()):
                spent.add_metric([camera_id, stage], seconds)
        yield spent
        per_second = GaugeMetricFamily(
            "safecity_worker_cpu_ms_per_camera_second",
            "CPU milliseconds the camera's threads spent per second over the last few seconds: what one "
            "camera costs, whatever else runs on the machine.",
            labels=["camera"],
        )
        for camera_id, ms in s.cpu_ms_per_s.items():
            if camera_id in s.running:
                per_second.add_metric([camera_id], ms)
        yield per_second
        if s.process_cpu_ms_per_camera_s is not None:
            yield GaugeMetricFamily(
                "safecity_worker_process_cpu_ms_per_camera_second",
                "The worker process's CPU milliseconds per second (every thread, NATS and metrics "
                "included) divided by the cameras it analyses: capacity is 1000 x cores over this.",
                s.process_cpu_ms_per_camera_s,
            )

    def _bus(self, s: WorkerSnapshot) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "safecity_worker_outbox_pending",
            "Hits and reads waiting to be published (NATS lag).",
            s.outbox_pending,
        )
        yield CounterMetricFamily(
            "safecity_worker_published", "Messages published to JetStream.", s.published
        )
        yield CounterMetricFamily(
            "safecity_worker_outbox_dropped",
            "Messages dropped because the outbox was full.",
            s.outbox_dropped,
        )
        yield GaugeMetricFamily(
            "safecity_nats_connected", "1 while connected to NATS.", float(s.nats_connected)
        )
        yield CounterMetricFamily("safecity_nats_reconnects", "Reconnections to NATS.", s.nats_reconnects)

    def _leases(self, s: WorkerSnapshot) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "safecity_worker_leases_held", "Camera leases this worker holds.", s.leases_held
        )
        yield GaugeMetricFamily(
            "safecity_fleet_live_workers",
            "Live workers of the fleet, as this worker sees them.",
            s.live_workers,
        )
        events = CounterMetricFamily(
            "safecity_worker_lease_events", "Lease claims, releases and lost races.", labels=["event"]
        )
        for event, n in s.lease_events.items():
            events.add_metric([event], n)
        yield events
        lost = CounterMetricFamily(
            "safecity_worker_leases_lost", "Leases lost, by reason.", labels=["reason"]
        )
        for reason, n in s.leases_lost.items():
            lost.add_metric([reason], n)
        yield lost
