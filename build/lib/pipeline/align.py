"""ArcFace 5-point similarity alignment to the standard 112x112 template (see models/MANIFEST.md §3)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.types import Image

ALIGNED_SIZE = 112

ARCFACE_TEMPLATE: npt.NDArray[np.float32] = np.array(
    [
        [38.2946, 51.6963],  # image-left eye
        [73.5318, 51.5014],  # image-right eye
        [56.0252, 71.7366],  # nose tip
        [41.5493, 92.3655],  # image-left mouth corner
        [70.7299, 92.2041],  # image-right mouth corner
    ],
    dtype=np.float32,
)


def similarity_transform(landmarks: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The 2x3 similarity (rotation, uniform scale, translation) taking ``landmarks`` onto the template."""
    points = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    matrix, _ = cv2.estimateAffinePartial2D(points, ARCFACE_TEMPLATE)
    if matrix is None:
        raise ValueError(f"landmarks are degenerate, no similarity transform fits: {points.tolist()}")
    return np.asarray(matrix, dtype=np.float64)


def align_face(image: Image, landmarks: npt.ArrayLike) -> Image:
    """The 112x112x3 face crop the embedder expects, warped so the landmarks sit on the template."""
    matrix = similarity_transform(landmarks)
    aligned = cv2.warpAffine(image, matrix, (ALIGNED_SIZE, ALIGNED_SIZE), borderValue=(0, 0, 0))
    return np.asarray(aligned, dtype=np.uint8)
