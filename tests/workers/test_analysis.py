"""Per-frame analysis on real frames and real models: hits for watchlist faces, nothing kept of others."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from pipeline.contracts import FaceHit
from pipeline.database import make_engine
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
from pipeline.types import CameraId, Frame
from tests.services import SHARED
from tests.watchlist.conftest import ADMIN, basis
from watchlist.enrol import Enroller
from watchlist.matcher import WatchlistMatcher
from watchlist.store import WatchlistStore
from workers.analysis import CameraAnalyser
from workers.frame_queue import DropOldestQueue
from workers.stats import CameraCounters

LIN = SHARED / "media/faces/lin_manuel_miranda/examples_lin-manuel-miranda.png"
HAMILTON = SHARED / "media/video/hamilton_whitehouse_clip.mp4"


def video_frames(path: Path, indices: set[int]) -> dict[int, np.ndarray]:
    with av.open(str(path)) as container:
        return {
            i: f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(video=0)) if i in indices
        }


@pytest.fixture(scope="module")
def settings() -> Settings:
    return parse({})


@pytest.fixture(scope="module")
def analyzer(settings: Settings, models_dir: Path) -> FaceAnalyzer:
    analyzer = FaceAnalyzer(settings, models_dir)
    analyzer.load()
    return analyzer


@pytest.fixture
def matcher(settings: Settings, analyzer: FaceAnalyzer, tmp_path: Path) -> Iterator[WatchlistMatcher]:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    store = WatchlistStore(engine)
    store.create_schema()
    Enroller(settings, analyzer, store).enrol(
        "Lin-Manuel Miranda", "wanted", [(LIN.name, LIN.read_bytes())], basis(), ADMIN
    )
    matcher = WatchlistMatcher(settings)
    matcher.load(store)
    yield matcher
    engine.dispose()


def make_analyser(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher
) -> tuple[CameraAnalyser, list[FaceHit], CameraCounters]:
    hits: list[FaceHit] = []
    counters = CameraCounters("cam-t")
    analyser = CameraAnalyser(
        "cam-t",
        "w-test",
        settings,
        analyzer,
        matcher,
        DropOldestQueue(2),
        counters,
        hits.append,
        threading.Event(),
    )
    return analyser, hits, counters


def frame(image: np.ndarray, seq: int | None = None) -> Frame:
    now = time.time_ns()
    return Frame(CameraId("cam-t"), image, received_ns=now, seq=seq, sent_ns=now - 1_000_000 if seq else None)


def test_enrolled_face_becomes_a_hit_with_evidence(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher
) -> None:
    analyser, hits, counters = make_analyser(settings, analyzer, matcher)
    images = video_frames(HAMILTON, {120, 150, 180})
    for i, image in images.items():
        analyser.process(frame(image, seq=i))
    assert len(hits) >= 2, "Lin-Manuel Miranda's close-up should match in most frames"
    hit = hits[0]
    assert hit.profile_name == "Lin-Manuel Miranda" and hit.similarity >= settings.recognition.threshold
    assert hit.frame_seq in images and hit.frame_sent_at is not None
    crop = cv2.imdecode(np.frombuffer(hit.crop_jpeg, np.uint8), cv2.IMREAD_COLOR)
    scene = cv2.imdecode(np.frombuffer(hit.scene_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and crop.shape[0] >= hit.box.h
    assert scene is not None and max(scene.shape[:2]) <= settings.worker.scene_max_side
    assert hit.timings.detect_ms > 0 and hit.timings.embed_ms > 0
    assert counters.hits_published == len(hits)


def test_strangers_produce_no_hit_and_nothing_of_them_is_kept(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher
) -> None:
    analyser, hits, counters = make_analyser(settings, analyzer, matcher)
    # The audience (frames ~213-273): several faces, none of them Lin-Manuel Miranda.
    for image in video_frames(HAMILTON, {230, 250, 270}).values():
        assert analyser.process(frame(image)) == []
    assert hits == []
    assert counters.faces_detected >= 6
    assert counters.faces_unknown + counters.faces_too_small == counters.faces_detected


@pytest.mark.parametrize(("min_face_px", "expect_hits"), [(24, True), (400, False)])
def test_faces_below_the_minimum_size_are_not_analysed(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, min_face_px: int, expect_hits: bool
) -> None:
    gated = settings.model_copy(
        update={"recognition": settings.recognition.model_copy(update={"min_face_px": min_face_px})}
    )
    analyser, hits, counters = make_analyser(gated, analyzer, matcher)
    analyser.process(frame(video_frames(HAMILTON, {150})[150]))
    assert bool(hits) is expect_hits
    assert (counters.faces_too_small > 0) is (not expect_hits)
