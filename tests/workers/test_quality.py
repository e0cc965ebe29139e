"""Quality gates: pose from landmarks (tables), blur and the gate verdicts on real photos and frames."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from pipeline.align import ARCFACE_TEMPLATE
from pipeline.face import FaceAnalyzer
from pipeline.settings import QualitySettings, Settings
from tests.workers.media import HAMILTON, LIN, video_frames
from workers.quality import QualityGate, Rejection, pose, sharpness

EYE_DISTANCE = float(ARCFACE_TEMPLATE[1, 0] - ARCFACE_TEMPLATE[0, 0])
EYE_TO_MOUTH = float(ARCFACE_TEMPLATE[3:, 1].mean() - ARCFACE_TEMPLATE[:2, 1].mean())


def rotated(points: np.ndarray, degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    centre = points.mean(axis=0)
    return (points - centre) @ rotation.T + centre


def nose_moved(dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    points = ARCFACE_TEMPLATE.astype(np.float64).copy()
    points[2] += (dx, dy)
    return points


@pytest.mark.parametrize(
    ("landmarks", "yaw", "pitch"),
    [
        (ARCFACE_TEMPLATE, 0.0, 0.0),
        (ARCFACE_TEMPLATE * 3 + 100, 0.0, 0.0),  # size and place do not matter
        (rotated(ARCFACE_TEMPLATE, 35), 0.0, 0.0),  # nor does roll
        (nose_moved(dx=0.3 * EYE_DISTANCE), 0.3, 0.0),
        (nose_moved(dx=-0.7 * EYE_DISTANCE), -0.7, 0.0),
        (nose_moved(dy=0.2 * EYE_TO_MOUTH), 0.0, 0.2),
        (rotated(nose_moved(dx=0.3 * EYE_DISTANCE, dy=-0.1 * EYE_TO_MOUTH), -50), 0.3, -0.1),
    ],
)
def test_pose_from_landmarks(landmarks: np.ndarray, yaw: float, pitch: float) -> None:
    got_yaw, got_pitch = pose(landmarks)
    assert got_yaw == pytest.approx(yaw, abs=0.01)
    assert got_pitch == pytest.approx(pitch, abs=0.01)


@pytest.mark.parametrize(
    "landmarks",
    [
        np.repeat(ARCFACE_TEMPLATE[:1], 5, axis=0),  # every point on one spot
        ARCFACE_TEMPLATE[[1, 0, 2, 4, 3]],  # eyes swapped: the face is seen from behind or mislabelled
    ],
)
def test_degenerate_landmarks_are_not_frontal(landmarks: np.ndarray) -> None:
    yaw, pitch = pose(landmarks)
    assert not (abs(yaw) <= 2 and abs(pitch) <= 1)


@pytest.fixture(scope="module")
def lin_photo() -> np.ndarray:
    image = cv2.imread(str(LIN), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def test_blur_lowers_the_variance_of_the_laplacian(analyzer: FaceAnalyzer, lin_photo: np.ndarray) -> None:
    box = tuple(float(v) for v in analyzer.detect(lin_photo).largest().boxes[0])
    sharp = sharpness(lin_photo, box, 64)  # type: ignore[arg-type]
    values = [sharp]
    for sigma in (box[2] / 64, box[2] / 32, box[2] / 16):  # blur in proportion to the face
        blurred = np.asarray(cv2.GaussianBlur(lin_photo, (0, 0), sigma), dtype=np.uint8)
        values.append(sharpness(blurred, box, 64))  # type: ignore[arg-type]
    assert values == sorted(values, reverse=True)
    assert values[0] > 10 * values[-1]
    assert sharpness(lin_photo, (-50, -50, 10, 10), 64) == 0.0  # off-frame


def gate_of(settings: Settings, **quality: float) -> QualityGate:
    return QualityGate(QualitySettings(**quality), settings.recognition.min_face_px)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "blur", "rejection"),
    [
        ({}, 0, None),
        ({"min_detector_score": 0.999}, 0, Rejection.LOW_SCORE),
        ({"max_yaw": 0.01}, 0, Rejection.TURNED),
        ({}, 1 / 16, Rejection.BLURRY),
        ({"min_sharpness": 0.0}, 1 / 16, None),
    ],
)
def test_gate_verdicts_on_a_real_photo(
    settings: Settings,
    analyzer: FaceAnalyzer,
    lin_photo: np.ndarray,
    change: dict[str, float],
    blur: float,
    rejection: Rejection | None,
) -> None:
    detections = analyzer.detect(lin_photo).largest()
    image = lin_photo
    if blur:  # detect on the sharp photo, judge the blurred one (sigma a fraction of the face side)
        sigma = blur * float(detections.sides[0])
        image = np.asarray(cv2.GaussianBlur(lin_photo, (0, 0), sigma), dtype=np.uint8)
    (verdict,) = gate_of(settings, **change).assess(image, detections)
    assert verdict.rejection is rejection
    assert (verdict.score > 0) is (rejection is None)
    assert 0 <= verdict.score <= 1


def test_too_small_faces_are_refused_first(analyzer: FaceAnalyzer, lin_photo: np.ndarray) -> None:
    detections = analyzer.detect(lin_photo).largest()
    side = float(detections.sides[0])
    (verdict,) = QualityGate(QualitySettings(min_detector_score=0.999), side + 1).assess(
        lin_photo, detections
    )
    assert verdict.rejection is Rejection.TOO_SMALL


def test_real_video_faces_are_judged_as_a_person_would(settings: Settings, analyzer: FaceAnalyzer) -> None:
    """Hamilton clip: Alex Lacamoire in profile (frame 36), the defocused audience behind the stage
    (frame 54), Lin-Manuel Miranda facing the camera (frame 150)."""
    frames = video_frames(HAMILTON, {36, 54, 150})
    gate = gate_of(settings)
    profile = analyzer.detect(frames[36]).largest()
    assert gate.assess(frames[36], profile)[0].rejection is Rejection.TURNED
    audience = analyzer.detect(frames[54])
    verdicts = gate.assess(frames[54], audience)
    assert len(verdicts) >= 3 and all(v.rejection is not None for v in verdicts)
    assert sum(v.rejection is Rejection.BLURRY for v in verdicts) >= 2
    lin = analyzer.detect(frames[150]).largest()
    (verdict,) = gate.assess(frames[150], lin)
    assert verdict.rejection is None and verdict.score > 0.5


def test_the_score_prefers_larger_sharper_more_frontal_shots(settings: Settings) -> None:
    gate = gate_of(settings)
    base = gate.score(side=80, sharp=200, yaw=0.1, pitch=0.05)
    assert gate.score(side=120, sharp=200, yaw=0.1, pitch=0.05) > base
    assert gate.score(side=80, sharp=400, yaw=0.1, pitch=0.05) > base
    assert gate.score(side=80, sharp=200, yaw=0.0, pitch=0.0) > base
    assert gate.score(side=80, sharp=200, yaw=0.5, pitch=0.05) < base
    assert gate.score(side=1000, sharp=1e6, yaw=0, pitch=0) == 1.0
