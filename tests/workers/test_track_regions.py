"""Detection around the tracks between whole-frame detections: which frames are detected whole, where
the regions are, and on real frames that a tracked face is found in its region as in the whole frame
and a moving scene gives the same hits either way."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from pipeline.settings.tracking import MotionSettings
from tests.workers.media import HAMILTON, LIN_CLOSE_UP, every, video_frames
from tests.workers.test_analysis import FIVE_FPS, frame, make_analyser, matcher  # noqa: F401 (fixture)
from watchlist.matcher import WatchlistMatcher
from workers.track_regions import TrackRegions, merge_where_smaller

W, H = 1280, 720


def ids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def boxes(*values: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(values, dtype=np.float32).reshape(-1, 4)


def test_whole_frames_alternate_with_the_tracks_regions() -> None:
    plan = TrackRegions(MotionSettings(full_frame_every=2, track_margin=0.5))
    assert plan.plan(W, H, live=[]) is None  # the first frame: whole
    plan.detected(whole=True)
    assert plan.plan(W, H, live=[]) == []  # nobody to follow: nothing until the next whole frame
    plan.detected(whole=False)
    assert plan.plan(W, H, live=[]) is None
    plan.detected(whole=True)
    plan.observe(ids(7), boxes((100, 100, 60, 80)))
    # Around its centre, its longest side and half of it on every side.
    assert plan.plan(W, H, live=[7]) == [(50, 60, 160, 160)]
    plan.detected(whole=False)
    plan.observe(ids(7), boxes((120, 100, 60, 80)))  # moved 20 px right: the next region leads it
    assert plan.plan(W, H, live=[7]) is None  # ... but a whole frame comes first
    plan.detected(whole=True)
    plan.observe(ids(7), boxes((140, 100, 60, 80)))
    assert plan.plan(W, H, live=[7]) == [(110, 60, 160, 160)]
    plan.detected(whole=False)
    assert plan.plan(W, H, live=[]) is None
    plan.detected(whole=True)
    assert plan.plan(W, H, live=[]) == []  # an ended track is not followed


def test_a_frame_the_motion_gate_passed_over_counts_towards_the_next_whole_one() -> None:
    plan = TrackRegions(MotionSettings(full_frame_every=3))
    plan.plan(W, H, live=[])
    plan.detected(whole=True)
    plan.observe(ids(1), boxes((500, 300, 50, 50)))
    plan.still()
    assert plan.plan(W, H, live=[1]) not in (None, [])
    plan.still()
    assert plan.plan(W, H, live=[1]) is None


def test_regions_covering_most_of_the_frame_or_every_frame_whole_mean_the_whole_frame() -> None:
    plan = TrackRegions(MotionSettings(full_frame_every=2, track_margin=2.0))
    plan.plan(W, H, live=[])
    plan.detected(whole=True)
    plan.observe(ids(1, 2), boxes((100, 100, 200, 200), (800, 200, 200, 200)))
    assert plan.plan(W, H, live=[1, 2]) is None
    every = TrackRegions(MotionSettings(full_frame_every=1))
    for _ in range(3):
        assert every.plan(W, H, live=[]) is None
        every.detected(whole=True)


def test_regions_are_merged_only_where_that_detects_fewer_pixels() -> None:
    apart = [(0, 0, 100, 100), (300, 0, 100, 100)]
    assert merge_where_smaller(apart) == apart
    assert merge_where_smaller([(0, 0, 100, 100), (10, 10, 100, 100), (0, 0, 0, 5)]) == [(0, 0, 110, 110)]


@pytest.fixture(scope="module")
def close_up() -> dict[int, np.ndarray]:
    return video_frames(HAMILTON, set(every(FIVE_FPS, LIN_CLOSE_UP)))


def test_a_face_in_its_region_is_the_face_of_the_whole_frame(
    analyzer: FaceAnalyzer, close_up: dict[int, np.ndarray]
) -> None:
    for index in sorted(close_up)[::4]:
        image = close_up[index]
        whole = analyzer.detect(image, 24)
        assert len(whole) >= 1
        i = whole.largest_index()
        x, y, w, h = (int(v) for v in whole.boxes[i])
        side = max(w, h)
        region = (x - side // 2, y - side // 2, w + side, h + side)
        found = analyzer.detect_regions(image, 24, [region])
        assert len(found) >= 1
        j = found.largest_index()
        assert np.abs(found.boxes[j] - whole.boxes[i]).max() <= 0.05 * side, index
        assert np.abs(found.landmarks[j] - whole.landmarks[i]).max() <= 0.05 * side, index
        assert abs(float(found.scores[j]) - float(whole.scores[i])) <= 0.05, index


def test_a_moving_scene_gives_the_same_hits_detected_whole_or_around_its_tracks(
    settings: Settings,
    analyzer: FaceAnalyzer,
    matcher: WatchlistMatcher,  # noqa: F811 (the fixture)
    close_up: dict[int, np.ndarray],
) -> None:
    outcomes = []
    for every_n in (1, 2):
        motion = settings.motion.model_copy(update={"full_frame_every": every_n})
        analyser, hits, counters = make_analyser(
            settings.model_copy(update={"motion": motion}), analyzer, matcher
        )
        for i in sorted(close_up):
            analyser.process(frame(close_up[i], seq=i))
        analyser.finish()
        assert (counters.frames_tracks_only > 0) == (every_n > 1)
        outcomes.append(([h.profile_name for h in hits], counters.tracks_started, counters.tracks_decided))
    assert outcomes[0] == outcomes[1] and outcomes[0][0] == ["Lin-Manuel Miranda"]
