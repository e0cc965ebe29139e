from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.align import ALIGNED_SIZE, ARCFACE_TEMPLATE, align_face, similarity_transform


def _pose(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    """Template landmarks rotated by ``angle_deg`` about the template centre, scaled and shifted."""
    centre = ARCFACE_TEMPLATE.mean(axis=0)
    theta = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return ((ARCFACE_TEMPLATE - centre) @ rot.T * scale + centre + [tx, ty]).astype(np.float32)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


POSES = [
    pytest.param(0, 1.0, 0, 0, id="identity"),
    pytest.param(0, 2.5, 300, 120, id="scaled-shifted"),
    pytest.param(25, 1.8, 200, 150, id="rotated-25"),
    pytest.param(-40, 3.0, 400, 260, id="rotated-minus-40"),
    pytest.param(10, 0.6, 20, 30, id="small-face"),
]


def test_template_landmarks_map_to_themselves() -> None:
    matrix = similarity_transform(ARCFACE_TEMPLATE)
    np.testing.assert_allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-4)


@pytest.mark.parametrize(("angle", "scale", "tx", "ty"), POSES)
def test_transform_takes_landmarks_onto_template(angle: float, scale: float, tx: float, ty: float) -> None:
    landmarks = _pose(angle, scale, tx, ty)
    mapped = _apply(similarity_transform(landmarks), landmarks)
    assert np.abs(mapped - ARCFACE_TEMPLATE).max() < 1.0


@pytest.mark.parametrize(("angle", "scale", "tx", "ty"), POSES[1:4])
def test_aligned_image_puts_marks_on_template(angle: float, scale: float, tx: float, ty: float) -> None:
    """A dot drawn at each landmark of a synthetic face lands on its template slot after alignment."""
    landmarks = _pose(angle, scale, tx, ty)
    for i, ((x, y), (ex, ey)) in enumerate(zip(landmarks, ARCFACE_TEMPLATE, strict=True)):
        image = np.zeros((720, 900, 3), np.uint8)
        cv2.circle(image, (round(x), round(y)), round(3 * scale), (255, 255, 255), -1, cv2.LINE_AA)
        aligned = align_face(image, landmarks)
        assert aligned.shape == (ALIGNED_SIZE, ALIGNED_SIZE, 3) and aligned.dtype == np.uint8
        weight = aligned[:, :, 0].astype(float)
        ys, xs = np.mgrid[0:ALIGNED_SIZE, 0:ALIGNED_SIZE]
        cx, cy = (weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()
        assert abs(cx - ex) < 1.0 and abs(cy - ey) < 1.0, (
            f"landmark {i} at ({cx:.2f},{cy:.2f}), want ({ex},{ey})"
        )


def test_degenerate_landmarks_are_refused() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        similarity_transform(np.zeros((5, 2), np.float32))
