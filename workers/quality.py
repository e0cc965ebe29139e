"""Quality gates before inference: is this detected face worth an embedding, and how good a shot is it?

Gates run cheapest first: box size, detector score, pose from the five landmarks, then blur (the only
one that reads pixels). A refused face is counted under the first gate it fails and never embedded.
The quality score of an accepted face (size x sharpness x frontalness, each in (0, 1]) weights its
vote and picks the track's best shot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.contracts import ShotQuality
from pipeline.detections import FaceDetections
from pipeline.settings.tracking import QualitySettings
from pipeline.types import Image

# Where the nose tip sits between the eye line and the mouth line on the ArcFace template
# (pipeline/align.py): (71.74 - 51.60) / (92.28 - 51.60).
FRONTAL_NOSE_HEIGHT = 0.495
_FLOOR = 0.05  # no factor reaches 0: a shot at a gate's limit still counts a little


class Rejection(StrEnum):
    TOO_SMALL = "too_small"
    LOW_SCORE = "low_score"
    TURNED = "turned"
    BLURRY = "blurry"


@dataclass(frozen=True, slots=True)
class FaceQuality:
    side_px: float
    detector_score: float
    yaw: float
    pitch: float
    sharpness: float
    score: float
    """Size x sharpness x frontalness in (0, 1]; 0 for a rejected face."""
    rejection: Rejection | None = None

    @property
    def accepted(self) -> bool:
        return self.rejection is None

    def to_contract(self) -> ShotQuality:
        return ShotQuality(
            score=self.score,
            side_px=self.side_px,
            sharpness=self.sharpness,
            yaw=self.yaw,
            pitch=self.pitch,
        )


def pose(landmarks: npt.ArrayLike) -> tuple[float, float]:
    """Yaw and pitch proxies from five landmarks (ArcFace order), both 0 for a frontal face.

    The points are first rotated so the eyes are level (roll does not matter). Yaw is the nose tip's
    horizontal offset from the eyes' midpoint in eye distances (about tan(angle) x 0.65); pitch is the
    nose's height between the eye and mouth lines minus its frontal height. Degenerate landmarks
    (eyes swapped or on top of each other, mouth above the eyes) give infinite values.
    """
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left_eye, right_eye = points[0], points[1]
    dx, dy = right_eye - left_eye
    eye_distance = float(np.hypot(dx, dy))
    if eye_distance < 1e-6:
        return float("inf"), float("inf")
    cos, sin = dx / eye_distance, dy / eye_distance
    rotate = np.array([[cos, sin], [-sin, cos]])
    level = (points - left_eye) @ rotate.T
    eye_y = (level[0, 1] + level[1, 1]) / 2
    mouth_y = (level[3, 1] + level[4, 1]) / 2
    yaw = (level[2, 0] - eye_distance / 2) / eye_distance
    span = mouth_y - eye_y
    if span <= 1e-6:
        return float(yaw), float("inf")
    pitch = (level[2, 1] - eye_y) / span - FRONTAL_NOSE_HEIGHT
    return float(yaw), float(pitch)


def sharpness(image: Image, box: tuple[float, float, float, float], size: int) -> float:
    """Variance of the Laplacian of the grey face crop resized to ``size`` x ``size``.

    A fixed size makes the figure comparable between near and far faces; 0 if the box is off-frame.
    """
    x, y, w, h = box
    height, width = image.shape[:2]
    x0, y0 = max(0, int(np.floor(x))), max(0, int(np.floor(y)))
    x1, y1 = min(width, int(np.ceil(x + w))), min(height, int(np.ceil(y + h)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    shrinking = grey.shape[0] > size or grey.shape[1] > size
    grey = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class QualityGate:
    def __init__(self, settings: QualitySettings, min_face_px: float) -> None:
        self._s = settings
        self._min_face_px = min_face_px

    def assess(self, image: Image, detections: FaceDetections) -> list[FaceQuality]:
        """One verdict per detection, in order."""
        return [self._one(image, detections, i) for i in range(len(detections))]

    def _one(self, image: Image, detections: FaceDetections, i: int) -> FaceQuality:
        s = self._s
        x, y, w, h = (float(v) for v in detections.boxes[i])
        side = min(w, h)
        score = float(detections.scores[i])
        yaw, pitch = pose(detections.landmarks[i])

        def verdict(rejection: Rejection | None, sharp: float = 0.0) -> FaceQuality:
            value = 0.0 if rejection else self.score(side, sharp, yaw, pitch)
            return FaceQuality(side, score, yaw, pitch, sharp, value, rejection)

        if side < self._min_face_px:
            return verdict(Rejection.TOO_SMALL)
        if score < s.min_detector_score:
            return verdict(Rejection.LOW_SCORE)
        if not (abs(yaw) <= s.max_yaw and abs(pitch) <= s.max_pitch):
            return verdict(Rejection.TURNED)
        sharp = sharpness(image, (x, y, w, h), s.sharpness_px)
        if sharp < s.min_sharpness:
            return verdict(Rejection.BLURRY, sharp)
        return verdict(None, sharp)

    def score(self, side: float, sharp: float, yaw: float, pitch: float) -> float:
        """Largest x sharpest x most frontal, each factor in [_FLOOR, 1]."""
        s = self._s
        size_f = min(1.0, side / s.good_face_px)
        sharp_f = min(1.0, sharp / s.good_sharpness)
        frontal_f = 1.0 - 0.5 * min(1.0, abs(yaw) / s.max_yaw) - 0.5 * min(1.0, abs(pitch) / s.max_pitch)
        return float(np.prod([max(_FLOOR, f) for f in (size_f, sharp_f, frontal_f)]))
