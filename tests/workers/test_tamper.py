"""A camera's tamper watch on pictures of a real street: people passing change nothing; a covered lens, a
turned focus ring and a camera turned away are each reported once they last ``hold_s``, with the view now
and the usual view as evidence; a camera re-aimed for good has its new view adopted."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.hits import HIT_CONTRACTS, TamperHit
from pipeline.settings import CameraConfig, parse
from pipeline.types import CameraId, Frame, Image
from workers.kinds import StageContext, stage_for
from workers.kinds.tamper import TamperAnalyser, TamperRules, TamperWatch
from workers.stats import CameraCounters

S = 1_000_000_000  # ns per second
RULES = TamperRules()


@pytest.fixture(scope="module")
def street(media_dir: Path) -> Image:
    image = cv2.imread(str(media_dir / "plates/us/wts-lg-000140.jpg"), cv2.IMREAD_COLOR)
    assert image is not None
    return cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def elsewhere(media_dir: Path) -> Image:
    """Another street: where a turned camera points."""
    photos = sorted((media_dir / "plates/eu").glob("*.jpg"))
    image = cv2.imread(str(photos[0]), cv2.IMREAD_COLOR)
    assert image is not None
    return cv2.resize(image, (640, 360), interpolation=cv2.INTER_AREA)


def noisy(image: Image, seed: int) -> Image:
    """The picture as a camera gives it: sensor noise, and someone walking across it."""
    rng = np.random.default_rng(seed)
    out = np.clip(image.astype(np.int16) + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    x = 40 + (seed * 23) % 520
    cv2.rectangle(out, (x, 120), (x + 50, 330), (40, 60, 90), -1)  # a passer-by, about 60 % of the height
    return out


def covered(image: Image, seed: int) -> Image:
    rng = np.random.default_rng(seed)
    return np.clip(12 + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)


def watch_through(
    watch: TamperWatch, views: list[tuple[float, Image]], start_s: float = 0
) -> list[tuple[float, str]]:
    """Each view (seconds it lasts, picture) shown at 5 frames a second; the conditions reported, when."""
    reported, t, seed = [], start_s, 0
    for seconds, picture in views:
        for _ in range(round(seconds * 5)):
            seed += 1
            condition = watch.observe(noisy(picture, seed), round(t * S))
            if condition is not None:
                reported.append((round(t, 1), condition))
            t += 0.2
    return reported


def test_people_passing_and_sensor_noise_are_never_tampering(street: Image) -> None:
    watch = TamperWatch()
    assert watch_through(watch, [(120, street)]) == []
    assert watch.measures["layout_correlation"] > 0.6


@pytest.mark.parametrize(
    ("change", "condition"),
    [
        (lambda image, seed: covered(image, seed), "covered"),
        (lambda image, seed: cv2.GaussianBlur(image, (0, 0), 6), "defocused"),
    ],
)
def test_a_lost_view_is_reported_once_it_has_lasted_the_hold_time(street: Image, change, condition) -> None:
    watch = TamperWatch()
    watch_through(watch, [(RULES.learn_s + 2, street)])
    t0 = RULES.learn_s + 2
    # Shorter than the hold time (a bus passing close, a hand waved): nothing.
    brief = [(watch.observe(change(street, i), round((t0 + i * 0.2) * S))) for i in range(15)]
    assert brief == [None] * 15
    t1 = t0 + 3 + 5
    watch_through(watch, [(5, street)], start_s=t0 + 3)
    reports = [
        (i, c) for i in range(200) if (c := watch.observe(change(street, i), round((t1 + i * 0.2) * S)))
    ]
    # Reported after the hold, then again every repeat_s while it lasts (40 s: twice).
    assert [c for _, c in reports] == [condition, condition], reports
    first = reports[0][0] * 0.2
    assert RULES.hold_s <= first <= RULES.hold_s + 1
    assert reports[1][0] * 0.2 - first == pytest.approx(RULES.repeat_s, abs=0.6)


def test_a_camera_turned_away_is_reported_and_its_new_view_adopted_after_a_while(
    street: Image, elsewhere: Image
) -> None:
    watch = TamperWatch(TamperRules(adopt_after_s=60))
    watch_through(watch, [(RULES.learn_s + 2, street)])
    reports = watch_through(watch, [(70, elsewhere), (30, elsewhere)], start_s=RULES.learn_s + 2)
    assert [c for _, c in reports] == ["moved", "moved"], reports  # at the hold, and 30 s later
    assert watch.measures["layout_correlation"] > 0.6  # the new view is the usual one now


def test_the_camera_covered_from_its_first_frame_is_judged_once_it_has_seen_its_scene(street: Image) -> None:
    watch = TamperWatch()
    dark = [watch.observe(covered(street, i), round(i * 0.2 * S)) for i in range(100)]
    assert dark == [None] * 100  # nothing usual to compare with: no scene was ever seen


def test_the_hit_carries_the_view_now_and_the_usual_view(street: Image, media_dir: Path) -> None:
    settings = parse({"cameras": [{"id": "cam-t", "url": "rtsp://127.0.0.1:1/x", "analytics": ["tamper"]}]})
    camera = settings.cameras[0]
    assert isinstance(camera, CameraConfig) and camera.analytics == ["tamper"]
    published: list[object] = []
    context = StageContext(camera, "w-1", settings, CameraCounters("cam-t"), published.append, None, None)  # type: ignore[arg-type]
    analyser = stage_for("tamper", context)
    assert isinstance(analyser, TamperAnalyser)
    frames = [(street if i < 60 else covered(street, i)) for i in range(140)]
    for i, image in enumerate(frames):
        analyser.process(
            Frame(CameraId("cam-t"), noisy(image, i) if i < 60 else image, 1_700_000_000 * S + i * S // 5)
        )
    assert len(published) == 1
    hit = published[0]
    assert isinstance(hit, TamperHit) and hit.condition == "covered" and hit.score > 0.5
    assert HIT_CONTRACTS["tamper"] is TamperHit and TamperHit.from_bytes(hit.to_bytes()) == hit
    now = cv2.imdecode(np.frombuffer(hit.crop_jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    usual = cv2.imdecode(np.frombuffer(hit.scene_jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert now.std() < 8 < usual.std(), "the crop is the covered view, the scene the street"
    assert (hit.captured_at - hit.since).total_seconds() >= RULES.hold_s
    assert analyser.last_stage_ms["tamper"] >= 0


def test_a_kind_no_module_analyses_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no worker analysis for the kind 'weapon'"):
        stage_for("weapon", None)  # type: ignore[arg-type]
