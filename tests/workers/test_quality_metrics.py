"""What the quality gates, the vote and the attempt budget refuse shows on the worker's /metrics, per
camera (and per gate), after real frames through real models: not only in NATS heartbeats."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from pipeline.types import Frame
from tests.workers.media import HAMILTON, LIN, SIX_PEOPLE, video_frames
from tests.workers.test_analysis import frame, watchlist
from tests.workers.test_probe_server import get
from watchlist.matcher import WatchlistMatcher
from workers.analysis import CameraAnalyser
from workers.metrics import WorkerMetrics, WorkerSnapshot
from workers.probe_server import Probe, ProbeServer
from workers.quality import Rejection
from workers.stats import CameraCounters

FIVE_FPS = 6  # every 6th frame of the 29.97 fps Hamilton clip


@pytest.fixture
def tied(settings: Settings, analyzer: FaceAnalyzer, tmp_path: Path) -> Iterator[WatchlistMatcher]:
    """The same photo under two names: every frame of Lin-Manuel Miranda's close-up is a dead heat."""
    people = {"Lin-Manuel Miranda": [LIN], "Lin-Manuel Miranda (twin)": [LIN]}
    yield from watchlist(settings, analyzer, tmp_path, people)


def analyse(
    camera_id: str,
    settings: Settings,
    analyzer: FaceAnalyzer,
    matcher: WatchlistMatcher,
    frames: list[Frame],
) -> CameraCounters:
    counters = CameraCounters(camera_id)
    analyser = CameraAnalyser(
        camera_id,
        "w-metrics",
        settings,
        analyzer,
        matcher,
        counters,
        lambda _hit: None,
    )
    for f in frames:
        analyser.process(f)
    analyser.finish()
    return counters


async def scrape(cameras: dict[str, CameraCounters]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    snapshot = WorkerSnapshot(
        cameras=cameras,
        running=frozenset(cameras),
        fps={},
        outbox_pending=0,
        published=0,
        outbox_dropped=0,
        nats_connected=True,
        nats_reconnects=0,
    )
    metrics = WorkerMetrics("w-metrics", lambda: snapshot)
    server = ProbeServer(
        metrics.registry,
        live=lambda: Probe(True, {}),
        ready=lambda: Probe(True, {}),
        host="127.0.0.1",
        port=0,
    )
    await server.start()
    try:
        status, _, body = await asyncio.to_thread(get, f"http://127.0.0.1:{server.port}/metrics")
    finally:
        await server.close()
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


async def test_gate_vote_and_budget_refusals_are_exported_per_camera_and_reason(
    settings: Settings, analyzer: FaceAnalyzer, tied: WatchlistMatcher
) -> None:
    # The whole Hamilton clip at 5 fps trips every gate (measured with the default settings: too_small
    # 5, low_score 11, turned 33, blurry 39) and, with the tied watchlist, the close-up is ambiguous.
    hamilton = video_frames(HAMILTON)
    stage = [frame(hamilton[i], seq=i) for i in range(0, len(hamilton), FIVE_FPS)]
    # Six strangers with a budget of two embeddings per track: unknown, then over budget.
    frugal = settings.model_copy(update={"vote": settings.vote.model_copy(update={"max_attempts": 2})})
    crowd = [frame(image, seq=i, fps=8) for i, image in video_frames(SIX_PEOPLE).items()]
    cameras = {
        "cam-stage": analyse("cam-stage", settings, analyzer, tied, stage),
        "cam-crowd": analyse("cam-crowd", frugal, analyzer, tied, crowd),
    }
    samples = await scrape(cameras)

    def value(name: str, camera: str, **labels: str) -> float:
        return samples[(f"safecity_worker_{name}_total", tuple(sorted({"camera": camera, **labels}.items())))]

    stage_counts = cameras["cam-stage"]
    for reason in Rejection:
        exported = value("faces_rejected", "cam-stage", reason=reason.value)
        assert exported == stage_counts.faces_rejected[reason.value] > 0, reason
    assert value("faces_ambiguous", "cam-stage") == stage_counts.faces_ambiguous >= settings.vote.min_frames
    assert stage_counts.hits_published == 0

    crowd_counts = cameras["cam-crowd"]
    assert value("faces_unknown", "cam-crowd") == crowd_counts.faces_unknown >= 6
    assert value("faces_ambiguous", "cam-crowd") == 0
    assert value("tracks_budget_exhausted", "cam-crowd") == crowd_counts.budget_exhausted >= 6
    assert value("faces_over_budget", "cam-crowd") == crowd_counts.faces_over_budget > 0
    # Every gate is exported for every camera, even at 0, so a rate() exists before the first refusal.
    assert value("faces_rejected", "cam-crowd", reason="too_small") == crowd_counts.faces_too_small
    for reason in Rejection:
        assert (
            "safecity_worker_faces_rejected_total",
            (("camera", "cam-crowd"), ("reason", reason.value)),
        ) in samples
