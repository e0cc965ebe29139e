"""One detections type for faces: parallel numpy arrays, validated at construction, filtered by masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class FaceDetections:
    """N faces in one image, in that image's pixel coordinates.

    ``boxes`` is (N, 4) ``x, y, w, h``; ``landmarks`` is (N, 5, 2) in ArcFace order (image-left eye,
    image-right eye, nose tip, image-left mouth corner, image-right mouth corner); ``scores`` is (N,).
    """

    boxes: FloatArray
    landmarks: FloatArray
    scores: FloatArray

    def __post_init__(self) -> None:
        boxes = np.ascontiguousarray(self.boxes, dtype=np.float32)
        landmarks = np.ascontiguousarray(self.landmarks, dtype=np.float32)
        scores = np.ascontiguousarray(self.scores, dtype=np.float32)
        n = scores.shape[0] if scores.ndim == 1 else -1
        if n < 0 or boxes.shape != (n, 4) or landmarks.shape != (n, 5, 2):
            raise ValueError(
                "FaceDetections needs boxes (N,4), landmarks (N,5,2) and scores (N,); got "
                f"{boxes.shape}, {landmarks.shape}, {scores.shape}"
            )
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "landmarks", landmarks)
        object.__setattr__(self, "scores", scores)

    @classmethod
    def empty(cls) -> FaceDetections:
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            landmarks=np.zeros((0, 5, 2), np.float32),
            scores=np.zeros((0,), np.float32),
        )

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def filter(self, mask: BoolArray | npt.NDArray[np.intp]) -> FaceDetections:
        """The faces selected by a boolean mask (or an index array), in order."""
        selector = np.asarray(mask)
        if selector.dtype == np.bool_ and selector.shape != (len(self),):
            raise ValueError(f"mask of shape {selector.shape} does not fit {len(self)} detections")
        return FaceDetections(self.boxes[selector], self.landmarks[selector], self.scores[selector])

    def scaled(self, factor: float) -> FaceDetections:
        """Coordinates multiplied by ``factor`` (maps detections on a resized image back)."""
        return FaceDetections(self.boxes * factor, self.landmarks * factor, self.scores)

    @property
    def areas(self) -> FloatArray:
        return self.boxes[:, 2] * self.boxes[:, 3]

    @property
    def sides(self) -> FloatArray:
        """The shorter side of each box, the size gates compare against."""
        return np.minimum(self.boxes[:, 2], self.boxes[:, 3])

    def largest_index(self) -> int:
        if len(self) == 0:
            raise ValueError("no detections")
        return int(np.argmax(self.areas))

    def largest(self) -> FaceDetections:
        """Only the face with the largest box (empty stays empty)."""
        if len(self) == 0:
            return self
        return self.filter(np.array([self.largest_index()], dtype=np.intp))


def box_iou(boxes: FloatArray, box: FloatArray) -> FloatArray:
    """Intersection over union of each ``x, y, w, h`` box with one box."""
    ix = np.maximum(
        0.0, np.minimum(boxes[:, 0] + boxes[:, 2], box[0] + box[2]) - np.maximum(boxes[:, 0], box[0])
    )
    iy = np.maximum(
        0.0, np.minimum(boxes[:, 1] + boxes[:, 3], box[1] + box[3]) - np.maximum(boxes[:, 1], box[1])
    )
    inter = ix * iy
    union = boxes[:, 2] * boxes[:, 3] + box[2] * box[3] - inter
    return np.asarray(inter / np.maximum(union, 1e-9), dtype=np.float32)
