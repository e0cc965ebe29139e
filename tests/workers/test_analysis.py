"""The per-camera path on real frames and real models: one hit per track and decided person, with the
track's best shot as evidence; nothing kept of anyone else."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.adapters.database import make_engine
from pipeline.contracts import FaceHit
from pipeline.face import FaceAnalyzer
from pipeline.models.yunet import SMALLEST_FACE_PX
from pipeline.settings import Settings, parse
from pipeline.types import CameraId, Frame
from tests.watchlist.conftest import ADMIN, basis
from tests.workers.media import HAMILTON, LIN, LIN_CLOSE_UP, OBAMA, SIX_PEOPLE, every, video_frames
from watchlist.enrol import Enroller
from watchlist.matcher import WatchlistMatcher
from watchlist.store import WatchlistStore
from workers.analysis import CameraAnalyser
from workers.stats import CameraCounters
from workers.vote import VoteRules

FIVE_FPS = 6  # every 6th frame of the 29.97 fps clip: the worker's default analysis rate


@pytest.fixture(scope="module")
def hamilton() -> dict[int, np.ndarray]:
    return video_frames(HAMILTON)


def watchlist(
    settings: Settings, analyzer: FaceAnalyzer, tmp_path: Path, people: dict[str, list[Path]]
) -> Iterator[WatchlistMatcher]:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    store = WatchlistStore(engine)
    store.create_schema()
    enroller = Enroller(settings, analyzer, store)
    for name, photos in people.items():
        enroller.enrol(name, "wanted", [(p.name, p.read_bytes()) for p in photos], basis(), ADMIN)
    matcher = WatchlistMatcher(settings)
    matcher.load(store)
    yield matcher
    engine.dispose()


@pytest.fixture
def matcher(settings: Settings, analyzer: FaceAnalyzer, tmp_path: Path) -> Iterator[WatchlistMatcher]:
    """Lin-Manuel Miranda (recognisable in the clip) and Barack Obama (in it, but never above 0.34)."""
    yield from watchlist(settings, analyzer, tmp_path, {"Lin-Manuel Miranda": [LIN], "Barack Obama": OBAMA})


def make_analyser(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, min_face_px: int | None = None
) -> tuple[CameraAnalyser, list[FaceHit], CameraCounters]:
    hits: list[FaceHit] = []
    counters = CameraCounters("cam-t")
    analyser = CameraAnalyser(
        "cam-t",
        "w-test",
        settings,
        analyzer,
        matcher,
        counters,
        hits.append,
        min_face_px=min_face_px,
    )
    return analyser, hits, counters


# The frames' clock: frame ``seq`` is received seq/fps after this, however long the test takes to analyse
# the ones before (a busy machine took 1.2 s over some, and the motion gate's keep-alive, which counts
# frame time, then ran one detection more than the frames' own timing calls for).
_CLOCK_NS = time.time_ns()


def frame(image: np.ndarray, seq: int, fps: float = 5.0) -> Frame:
    """A frame as the source makes it, received at the analysis rate (time matters to the age budget)."""
    now = _CLOCK_NS + int(seq / fps * 1e9)
    return Frame(CameraId("cam-t"), image, received_ns=now, seq=seq, sent_ns=now - 1_000_000)


def play(analyser: CameraAnalyser, frames: dict[int, np.ndarray], indices: set[int]) -> list[FaceHit]:
    hits = []
    for i in sorted(indices):
        hits += analyser.process(frame(frames[i], seq=i))
    return hits


def similarity_to(matcher: WatchlistMatcher, analyzer: FaceAnalyzer, image: np.ndarray, name: str) -> float:
    """The similarity of the largest face to ``name``, detected as a camera does (at the size its
    smallest face needs)."""
    detections = analyzer.detect(image, parse({}).recognition.min_face_px).largest()
    (candidates,) = matcher.match(analyzer.embed(image, detections), top_k=5)
    return max((c.similarity for c in candidates if c.name == name), default=-1.0)


def test_a_person_passing_the_camera_is_one_hit_with_the_best_shot_as_evidence(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, hamilton: dict[int, np.ndarray]
) -> None:
    analyser, hits, counters = make_analyser(settings, analyzer, matcher)
    played = every(FIVE_FPS, LIN_CLOSE_UP)
    returned = play(analyser, hamilton, played)
    assert returned == hits
    assert len(hits) == 1, [(h.profile_name, h.track_id, h.decision) for h in hits]
    hit = hits[0]
    assert hit.profile_name == "Lin-Manuel Miranda" and hit.track_id is not None
    decision = hit.decision
    assert decision is not None and decision.revision == 0
    assert decision.frames_matched >= settings.vote.min_frames or decision.rule in ("strong", "template")
    assert decision.max_similarity >= hit.similarity >= settings.recognition.threshold
    assert hit.track_frames is not None and hit.track_frames >= decision.frames_embedded
    # The evidence is the track's best shot, and its fields describe that frame.
    assert hit.frame_seq in played and hit.frame_sent_at is not None
    assert decision.best_shot.score > 0.5 and decision.best_shot.side_px == pytest.approx(
        min(hit.box.w, hit.box.h)
    )
    crop = cv2.imdecode(np.frombuffer(hit.crop_jpeg, np.uint8), cv2.IMREAD_COLOR)
    scene = cv2.imdecode(np.frombuffer(hit.scene_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and crop.shape[0] >= hit.box.h
    assert scene is not None and max(scene.shape[:2]) <= settings.worker.scene_max_side
    assert hit.timings.detect_ms > 0 and hit.timings.embed_ms > 0 and hit.timings.track_ms > 0
    # The rest of the close-up was not embedded again: the track was decided.
    assert counters.faces_after_decision >= len(played) - decision.frames_embedded - 2
    assert (counters.tracks_decided, counters.hits_published, counters.hit_updates_published) == (1, 1, 0)
    analyser.finish()
    assert analyser.open_tracks == 0 and analyser.held_shots == 0


def test_the_whole_clip_played_once_gives_one_hit_per_track(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, hamilton: dict[int, np.ndarray]
) -> None:
    """Before tracks and votes this clip gave a hit for nearly every frame of the close-up (measured:
    17 at 5 fps, 108 at 30); now it gives one. Obama is enrolled, in the audience, but scores too low."""
    analyser, hits, counters = make_analyser(settings, analyzer, matcher)
    play(analyser, hamilton, set(range(0, len(hamilton), FIVE_FPS)))
    analyser.finish()
    assert [h.profile_name for h in hits] == ["Lin-Manuel Miranda"]
    assert counters.scene_cuts >= 3  # stage, Alex Lacamoire, Lin-Manuel Miranda, audience
    assert counters.tracks_started == counters.tracks_decided + counters.tracks_undecided
    assert sum(counters.faces_rejected.values()) > 0
    assert counters.faces_rejected["blurry"] > 0 and counters.faces_rejected["turned"] > 0


def test_a_single_weak_frame_above_the_threshold_is_not_a_hit(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, hamilton: dict[int, np.ndarray]
) -> None:
    weak = 90
    similarity = similarity_to(matcher, analyzer, hamilton[weak], "Lin-Manuel Miranda")
    assert settings.recognition.threshold <= similarity < VoteRules.of(settings).strong_threshold, similarity
    analyser, hits, counters = make_analyser(settings, analyzer, matcher)
    assert analyser.process(frame(hamilton[weak], seq=weak)) == []
    assert hits == [] and counters.faces_embedded == 1 and analyser.held_shots == 1
    analyser.finish()
    assert counters.tracks_undecided == 1 and analyser.held_shots == 0


def test_a_single_very_strong_frame_is_a_hit(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, hamilton: dict[int, np.ndarray]
) -> None:
    strong = 156
    similarity = similarity_to(matcher, analyzer, hamilton[strong], "Lin-Manuel Miranda")
    assert similarity >= VoteRules.of(settings).strong_threshold, similarity
    analyser, hits, _ = make_analyser(settings, analyzer, matcher)
    analyser.process(frame(hamilton[strong], seq=strong))
    assert len(hits) == 1 and hits[0].decision is not None
    assert hits[0].decision.rule == "strong" and hits[0].decision.frames_matched == 1
    assert hits[0].similarity == pytest.approx(similarity, abs=1e-4)


def test_two_identities_tied_on_one_track_decide_nothing(
    settings: Settings, analyzer: FaceAnalyzer, hamilton: dict[int, np.ndarray], tmp_path: Path
) -> None:
    """The same photo enrolled under two names: every frame of the close-up is a dead heat."""
    people = {"Lin-Manuel Miranda": [LIN], "Lin-Manuel Miranda (duplicate)": [LIN]}
    for tied in watchlist(settings, analyzer, tmp_path, people):
        analyser, hits, counters = make_analyser(settings, analyzer, tied)
        play(analyser, hamilton, every(FIVE_FPS, LIN_CLOSE_UP))
        assert hits == []
        assert counters.faces_ambiguous >= settings.vote.min_frames
        assert analyser.held_shots == 0, "ambiguous faces keep no crop"


def test_unknown_faces_produce_no_hit_and_nothing_of_them_is_kept(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher
) -> None:
    analyser, hits, counters = make_analyser(settings, analyzer, matcher)
    for i, image in video_frames(SIX_PEOPLE).items():
        assert analyser.process(frame(image, seq=i, fps=8)) == []
        assert analyser.held_shots == 0
    assert hits == []
    assert counters.faces_embedded >= 6 and counters.faces_unknown == counters.faces_embedded
    assert counters.faces_detected == counters.faces_embedded + sum(counters.faces_rejected.values())
    assert counters.tracks_started >= 6 and counters.tracks_decided == 0
    analyser.finish()
    assert counters.tracks_undecided == counters.tracks_started and analyser.open_tracks == 0


def test_a_clearly_better_shot_after_the_decision_is_sent_once_as_an_update(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, hamilton: dict[int, np.ndarray]
) -> None:
    """The first half of the close-up defocused (a camera hunting for focus): the decision comes from
    soft shots; the sharp second half brings a better best shot for the same track."""
    eager = settings.model_copy(
        update={"vote": settings.vote.model_copy(update={"update_min_quality_gain": 1.2})}
    )
    analyser, hits, counters = make_analyser(eager, analyzer, matcher)
    for i in sorted(every(FIVE_FPS, LIN_CLOSE_UP)):
        image = hamilton[i] if i >= 150 else np.asarray(cv2.GaussianBlur(hamilton[i], (0, 0), 2.0), np.uint8)
        analyser.process(frame(image, seq=i))
    revisions = [h.decision.revision for h in hits if h.decision]
    assert revisions == list(range(len(hits))) and 2 <= len(hits) <= 1 + eager.vote.max_updates, revisions
    first, update = hits[0], hits[-1]
    assert first.track_id == update.track_id and first.profile_id == update.profile_id
    assert first.frame_seq is not None and first.frame_seq < 150 <= (update.frame_seq or 0)
    assert first.decision and update.decision
    assert update.decision.best_shot.score >= 1.2 * first.decision.best_shot.score
    assert (counters.hits_published, counters.hit_updates_published, counters.tracks_decided) == (
        1,
        len(hits) - 1,
        1,
    )


def test_the_attempt_budget_caps_embeddings_per_track(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher
) -> None:
    frugal = settings.model_copy(update={"vote": settings.vote.model_copy(update={"max_attempts": 2})})
    analyser, hits, counters = make_analyser(frugal, analyzer, matcher)
    for i, image in video_frames(SIX_PEOPLE).items():
        analyser.process(frame(image, seq=i, fps=8))
    assert hits == []
    assert counters.faces_embedded <= 2 * counters.tracks_started
    assert counters.budget_exhausted >= 6 and counters.faces_over_budget > 0


def test_the_age_budget_closes_long_tracks(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher
) -> None:
    brief = settings.model_copy(update={"vote": settings.vote.model_copy(update={"max_track_age_s": 0.3})})
    analyser, _, counters = make_analyser(brief, analyzer, matcher)
    for i, image in video_frames(SIX_PEOPLE).items():  # 1 s of video: each person's track is renewed
        analyser.process(frame(image, seq=i, fps=8))
    assert counters.tracks_expired >= 6
    assert counters.tracks_started >= 2 * 6


@pytest.mark.parametrize(("min_face_px", "expect_hits"), [(24, True), (400, False)])
def test_faces_below_the_minimum_size_are_not_analysed(
    settings: Settings,
    analyzer: FaceAnalyzer,
    matcher: WatchlistMatcher,
    hamilton: dict[int, np.ndarray],
    min_face_px: int,
    expect_hits: bool,
) -> None:
    """The camera finds every face the detector can (its min_face_px at the detector's own smallest),
    and the quality gate refuses those below recognition.min_face_px."""
    gated = settings.model_copy(
        update={"recognition": settings.recognition.model_copy(update={"min_face_px": min_face_px})}
    )
    analyser, hits, counters = make_analyser(gated, analyzer, matcher, min_face_px=SMALLEST_FACE_PX)
    play(analyser, hamilton, every(FIVE_FPS, LIN_CLOSE_UP))
    assert bool(hits) is expect_hits
    assert (counters.faces_too_small > 0) is (not expect_hits)
    assert (counters.faces_embedded == 0) is (not expect_hits)


def test_a_camera_that_needs_only_large_faces_detects_at_a_smaller_size_and_still_decides(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, hamilton: dict[int, np.ndarray]
) -> None:
    """Lin-Manuel Miranda's close-up face is ~85 px: a camera set to find faces of 48 px and up detects
    the frames at a third of their size and still decides his track; one set to 400 px finds nobody."""
    near, hits, counters = make_analyser(settings, analyzer, matcher, min_face_px=48)
    play(near, hamilton, every(FIVE_FPS, LIN_CLOSE_UP))
    assert [h.profile_name for h in hits] == ["Lin-Manuel Miranda"]
    far, hits, counters = make_analyser(settings, analyzer, matcher, min_face_px=400)
    play(far, hamilton, every(FIVE_FPS, LIN_CLOSE_UP))
    assert hits == [] and counters.faces_detected == 0


def test_one_analyzer_shared_by_cameras_on_their_own_threads_keeps_their_results_apart(
    settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, hamilton: dict[int, np.ndarray]
) -> None:
    """The worker loads the face models once and every camera's thread uses them at once: the camera
    that sees Lin-Manuel Miranda decides him, the one that sees six strangers decides nobody, exactly
    as each does alone."""
    strangers = video_frames(SIX_PEOPLE)
    close_up = sorted(every(FIVE_FPS, LIN_CLOSE_UP))

    def lin(analyser: CameraAnalyser) -> None:
        for i in close_up:
            analyser.process(frame(hamilton[i], seq=i))

    def others(analyser: CameraAnalyser) -> None:
        for _ in range(4):
            for i, image in strangers.items():
                analyser.process(frame(image, seq=i, fps=8))

    alone = []
    for play_it in (lin, others):
        analyser, hits, counters = make_analyser(settings, analyzer, matcher)
        play_it(analyser)
        alone.append(([h.profile_name for h in hits], counters.faces_embedded, counters.faces_unknown))
    together = [make_analyser(settings, analyzer, matcher) for _ in range(2)]
    threads = [
        threading.Thread(target=play_it, args=(analyser,))
        for play_it, (analyser, _, _) in zip((lin, others), together, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared = [([h.profile_name for h in hits], c.faces_embedded, c.faces_unknown) for _, hits, c in together]
    assert shared == alone
    assert alone[0][0] == ["Lin-Manuel Miranda"] and alone[1][0] == []
