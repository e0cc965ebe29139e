"""The tracker wrapper: ids and lifecycle on boxes (faces or plates alike), and on real detections."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.face import FaceAnalyzer
from pipeline.settings import ConfigError, TrackingSettings, parse
from tests.workers.media import HAMILTON, LIN_CLOSE_UP, SIX_PEOPLE, every, video_frames
from workers.tracking import MAX_TRACK_ID, NO_TRACK, NorfairTracker, SceneCut, TrackUpdate, first_track_id

SETTINGS = TrackingSettings(max_missed_frames=3)


def boxes(*xywh: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(xywh, dtype=np.float32).reshape(-1, 4)


def step(tracker: NorfairTracker, *xywh: tuple[float, float, float, float]) -> TrackUpdate:
    return tracker.update(boxes(*xywh), np.full(len(xywh), 0.9))


def test_a_moving_box_keeps_its_id_and_its_lifecycle_is_reported() -> None:
    tracker = NorfairTracker(SETTINGS, first_id=100)
    first = step(tracker, (100, 100, 80, 80))
    assert first.ids.tolist() == [100] and first.started == (100,)
    for x in (110, 125, 135, 150):  # about a quarter of the face's width per analysed frame
        update = step(tracker, (x, 100 + x / 10, 80, 82))
        assert update.ids.tolist() == [100] and update.updated == (100,) and not update.started
    lost = [step(tracker) for _ in range(SETTINGS.max_missed_frames + 2)]
    assert lost[0].lost == (100,) and not lost[0].ended
    ended_at = [i for i, u in enumerate(lost) if u.ended == (100,)]
    assert len(ended_at) == 1, "a track ends exactly once"
    assert all(100 not in u.lost for u in lost[ended_at[0] :])
    back = step(tracker, (150, 115, 80, 82))
    assert back.started == (101,), "an ended id never returns"


def test_a_track_survives_a_short_gap() -> None:
    tracker = NorfairTracker(SETTINGS)
    (tid,) = step(tracker, (200, 200, 60, 60)).ids.tolist()
    step(tracker)  # one missed detection
    update = step(tracker, (205, 202, 60, 60))
    assert update.ids.tolist() == [tid] and not update.started


def test_separate_objects_get_separate_ids_whatever_their_order() -> None:
    tracker = NorfairTracker(SETTINGS)
    a, b = step(tracker, (10, 10, 50, 50), (400, 300, 120, 40)).ids.tolist()  # a face and a plate-like box
    assert a != b and NO_TRACK not in (a, b)
    swapped = step(tracker, (405, 302, 120, 40), (12, 11, 50, 50))
    assert swapped.ids.tolist() == [b, a]


def test_ending_a_track_gives_its_object_a_new_id() -> None:
    tracker = NorfairTracker(SETTINGS)
    (old,) = step(tracker, (50, 50, 40, 40)).ids.tolist()
    tracker.end(old)
    update = step(tracker, (52, 50, 40, 40))
    assert update.ids.tolist() == [old + 1] and update.started == (old + 1,)
    assert old not in update.ended, "the caller ended it; it is not reported again"


def test_close_ends_everything() -> None:
    tracker = NorfairTracker(SETTINGS)
    ids = step(tracker, (10, 10, 40, 40), (200, 10, 40, 40)).ids.tolist()
    assert sorted(tracker.close()) == sorted(ids)
    assert step(tracker, (10, 10, 40, 40)).started and tracker.close()


def test_new_tracks_can_wait_for_confirmation() -> None:
    tracker = NorfairTracker(TrackingSettings(confirm_frames=2, max_missed_frames=4))
    assert step(tracker, (10, 10, 40, 40)).ids.tolist() == [NO_TRACK]
    confirmed = [step(tracker, (10 + i, 10, 40, 40)) for i in range(3)]
    assert confirmed[-1].ids[0] != NO_TRACK
    assert sum(len(u.started) for u in confirmed) == 1


@pytest.mark.parametrize("bad", [{"confirm_frames": 5, "max_missed_frames": 5}, {"min_iou": 0}])
def test_tracking_settings_refuse_impossible_values(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        parse({"tracking": bad})


def test_ids_stay_unique_across_restarts_and_fit_32_bits() -> None:
    start = 1_795_000_000 * 10**9  # a start in 2026, in ns
    first = first_track_id(start)
    assert 1 <= first <= MAX_TRACK_ID
    # A worker that started 100 tracks in the 10 s before it restarted does not reuse an id.
    assert first_track_id(start + 10 * 10**9) > first + 100
    tracker = NorfairTracker(SETTINGS, first_id=MAX_TRACK_ID)
    assert step(tracker, (0, 0, 30, 30)).ids.tolist() == [MAX_TRACK_ID]
    assert step(tracker, (0, 0, 30, 30), (300, 300, 30, 30)).ids.tolist() == [MAX_TRACK_ID, 1]
    with pytest.raises(ValueError, match="first_id"):
        NorfairTracker(SETTINGS, first_id=0)


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        NorfairTracker(SETTINGS).update(boxes((0, 0, 1, 1), (5, 5, 1, 1)), [0.5])


@pytest.fixture(scope="module")
def hamilton() -> dict[int, np.ndarray]:
    return video_frames(HAMILTON)


@pytest.mark.parametrize("frame_step", [3, 6, 10, 15])
def test_lin_manuel_mirandas_close_up_is_one_track_at_any_analysis_rate(
    hamilton: dict[int, np.ndarray], analyzer: FaceAnalyzer, frame_step: int
) -> None:
    """His head sways a lot between analysed frames; plain IoU split this shot into 2-3 tracks."""
    tracker = NorfairTracker(parse({}).tracking)
    ids = set()
    for i in sorted(every(frame_step, LIN_CLOSE_UP)):
        detections = analyzer.detect(hamilton[i])
        update = tracker.update(detections.boxes, detections.scores)
        ids.add(int(update.ids[detections.largest_index()]))
    assert len(ids) == 1 and NO_TRACK not in ids


def test_the_six_people_stay_six_tracks(analyzer: FaceAnalyzer) -> None:
    tracker = NorfairTracker(parse({}).tracking)
    started = 0
    for image in video_frames(SIX_PEOPLE).values():
        found = analyzer.detect(image)
        detections = found.filter(found.scores >= 0.8)  # one frame has a spurious 7th face at 0.64
        update = tracker.update(detections.boxes, detections.scores)
        started += len(update.started)
        assert len(set(update.ids.tolist())) == len(detections)
    assert started == 6


def test_scene_cuts_are_found_in_the_hamilton_clip_and_only_there(hamilton: dict[int, np.ndarray]) -> None:
    """The clip cuts from the stage to Alex Lacamoire (~21), to Lin-Manuel Miranda (~84) and to the
    audience (~213), and back to the start when it loops."""
    cut = SceneCut(parse({}).tracking.scene_cut_correlation)
    order = [*range(0, len(hamilton), 6), 0]
    cuts = [i for i in order if cut(hamilton[i])]
    assert len(cuts) == 4
    assert [c for c in cuts[:3] if not (18 < c <= 24 or 78 < c <= 90 or 210 < c <= 216)] == []
    assert cuts[-1] == 0
    assert not SceneCut(0)(hamilton[0]) and not SceneCut(0)(hamilton[250])
