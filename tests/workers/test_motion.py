"""Motion gating on real frames: a still scene (a frame of the Hamilton clip held for seconds, encoded
by x264 with sensor noise, as a fixed camera sends it) is detected about once a second, and its
person keeps one track and is decided once; a scene that moves is detected on every frame."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from pipeline.settings.tracking import MotionSettings
from tests.workers.media import HAMILTON, LIN_CLOSE_UP, every, video_frames
from tests.workers.test_analysis import FIVE_FPS, frame, make_analyser, matcher  # noqa: F401 (fixture)
from watchlist.matcher import WatchlistMatcher
from workers.motion import MotionGate, every_nth

STILL = 156  # a frame of Lin-Manuel Miranda's close-up
SECOND_NS = 1_000_000_000


def held(image: np.ndarray, frames: int, noise: float = 3.0) -> list[np.ndarray]:
    """``image`` held still for ``frames`` frames with sensor noise, through x264 and back."""
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], "yuv420p"
        stream.options = {"crf": "23", "bf": "0"}
        for i in range(frames):
            noisy = np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)
            picture = av.VideoFrame.from_ndarray(noisy, format="bgr24")
            picture.pts = i
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as clip:
        return [f.to_ndarray(format="bgr24") for f in clip.decode(video=0)]


@pytest.fixture(scope="module")
def hamilton() -> dict[int, np.ndarray]:
    return video_frames(HAMILTON, set(every(FIVE_FPS, LIN_CLOSE_UP)) | {STILL})


@pytest.fixture(scope="module")
def still(hamilton: dict[int, np.ndarray]) -> list[np.ndarray]:
    return held(hamilton[STILL], 25)  # five seconds at 5 fps


def test_noise_is_not_motion_but_a_moving_person_is(
    still: list[np.ndarray], hamilton: dict[int, np.ndarray]
) -> None:
    gate = MotionGate(MotionSettings(), min_face_px=24)
    assert gate.should_detect(still[0], 0)  # nothing to compare with yet
    gate.detected(0)
    for i, image in enumerate(still[1:5], start=1):
        assert not gate.should_detect(image, i * SECOND_NS // 5), gate.changed_px
    moving = sorted(every(FIVE_FPS, LIN_CLOSE_UP))
    gate = MotionGate(MotionSettings(), min_face_px=24)
    gate.should_detect(hamilton[moving[0]], 0)
    gate.detected(0)
    for i, index in enumerate(moving[1:], start=1):  # each compared with the last detected frame
        assert gate.should_detect(hamilton[index], i * SECOND_NS // 5), (index, gate.changed_px)
        gate.detected(i * SECOND_NS // 5)


def test_a_still_scene_is_detected_at_the_keepalive_and_when_the_gate_is_off_on_every_frame(
    still: list[np.ndarray],
) -> None:
    for settings, expected in ((MotionSettings(keepalive_s=1.0), 5), (MotionSettings(enabled=False), 25)):
        gate = MotionGate(settings, min_face_px=24)
        detections = 0
        for i, image in enumerate(still):
            now = i * SECOND_NS // 5
            if gate.should_detect(image, now):
                gate.detected(now)
                detections += 1
        assert detections == expected


def test_a_person_standing_still_keeps_one_track_and_is_decided_once(
    settings: Settings,
    analyzer: FaceAnalyzer,
    matcher: WatchlistMatcher,  # noqa: F811 (the fixture)
    still: list[np.ndarray],
) -> None:
    analyser, hits, counters = make_analyser(settings, analyzer, matcher)
    for i, image in enumerate(still):
        analyser.process(frame(image, seq=i))
    assert counters.frames_still == 20  # 25 frames in 5 s, a detection a second
    assert [h.profile_name for h in hits] == ["Lin-Manuel Miranda"]
    # No track ended while the scene stood still (a faint second "face" the noise shows at times is
    # a track of its own, never decided).
    assert counters.tracks_undecided == 0 and counters.tracks_expired == 0
    assert analyser.open_tracks == counters.tracks_started
    analyser.finish()
    assert counters.tracks_decided == 1


def test_tracks_and_votes_are_those_of_a_moving_scene_when_it_moves(
    settings: Settings,
    analyzer: FaceAnalyzer,
    matcher: WatchlistMatcher,  # noqa: F811 (the fixture)
    hamilton: dict[int, np.ndarray],
) -> None:
    """The close-up moves on every analysed frame: gated or not, the same hits and counts."""
    outcomes = []
    for enabled in (True, False):
        gated = settings.model_copy(update={"motion": MotionSettings(enabled=enabled)})
        analyser, hits, counters = make_analyser(gated, analyzer, matcher)
        for i in sorted(every(FIVE_FPS, LIN_CLOSE_UP)):
            analyser.process(frame(hamilton[i], seq=i))
        assert counters.frames_still == 0
        outcomes.append(([(h.profile_name, h.frame_seq) for h in hits], counters.faces_embedded))
    assert outcomes[0] == outcomes[1] and outcomes[0][0]


@pytest.mark.parametrize(
    ("height", "width", "stride"), [(360, 640, 2), (1080, 1920, 6), (2160, 3840, 24), (361, 641, 2)]
)
def test_every_nth_pixel_is_the_strided_copy(height: int, width: int, stride: int) -> None:
    """The grey copies of the motion gate and the scene-cut check: the same pixels as image[::n, ::n]
    (taken by OpenCV, five times cheaper); where a side does not divide, the same size."""
    image = np.random.default_rng(3).integers(0, 256, (height, width, 3), dtype=np.uint8)
    strided = image[::stride, ::stride]
    sampled = every_nth(image, stride)
    assert sampled.shape == strided.shape and sampled.flags.c_contiguous
    if height % stride == 0 and width % stride == 0:
        assert np.array_equal(sampled, strided)
    assert every_nth(image, 1) is image
