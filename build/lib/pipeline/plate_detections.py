"""Licence-plate detections: parallel numpy arrays, validated at construction, filtered by masks.

Same shape of type as ``FaceDetections``; kept apart because plates carry an optional quadrilateral
(four corners) instead of five landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


def box_corners(boxes: FloatArray) -> FloatArray:
    """(N, 4, 2) corners of ``x, y, w, h`` boxes: top-left, top-right, bottom-right, bottom-left."""
    x, y, w, h = (boxes[:, i] for i in range(4))
    xs = np.stack([x, x + w, x + w, x], axis=1)
    ys = np.stack([y, y, y + h, y + h], axis=1)
    return np.stack([xs, ys], axis=2).astype(np.float32)


def corners_to_boxes(corners: FloatArray) -> FloatArray:
    """(N, 4) axis-aligned ``x, y, w, h`` boxes enclosing (N, 4, 2) corners."""
    if len(corners) == 0:
        return np.zeros((0, 4), np.float32)
    low = corners.min(axis=1)
    high = corners.max(axis=1)
    return np.concatenate([low, high - low], axis=1).astype(np.float32)


@dataclass(frozen=True, slots=True)
class PlateDetections:
    """N plates in one image, in that image's pixel coordinates.

    ``boxes`` is (N, 4) ``x, y, w, h``; ``scores`` is (N,); ``corners`` is (N, 4, 2) in the order
    top-left, top-right, bottom-right, bottom-left, or None when the detector gives boxes only.
    """

    boxes: FloatArray
    scores: FloatArray
    corners: FloatArray | None = None

    def __post_init__(self) -> None:
        boxes = np.ascontiguousarray(self.boxes, dtype=np.float32)
        scores = np.ascontiguousarray(self.scores, dtype=np.float32)
        n = scores.shape[0] if scores.ndim == 1 else -1
        corners = None if self.corners is None else np.ascontiguousarray(self.corners, dtype=np.float32)
        if n < 0 or boxes.shape != (n, 4) or (corners is not None and corners.shape != (n, 4, 2)):
            raise ValueError(
                "PlateDetections needs boxes (N,4), scores (N,) and optional corners (N,4,2); got "
                f"{boxes.shape}, {scores.shape}, {None if corners is None else corners.shape}"
            )
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "corners", corners)

    @classmethod
    def empty(cls, with_corners: bool = False) -> PlateDetections:
        corners = np.zeros((0, 4, 2), np.float32) if with_corners else None
        return cls(boxes=np.zeros((0, 4), np.float32), scores=np.zeros((0,), np.float32), corners=corners)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def filter(self, mask: BoolArray | npt.NDArray[np.intp]) -> PlateDetections:
        """The plates selected by a boolean mask (or an index array), in order."""
        selector = np.asarray(mask)
        if selector.dtype == np.bool_ and selector.shape != (len(self),):
            raise ValueError(f"mask of shape {selector.shape} does not fit {len(self)} detections")
        corners = None if self.corners is None else self.corners[selector]
        return PlateDetections(self.boxes[selector], self.scores[selector], corners)

    def scaled(self, factor: float) -> PlateDetections:
        """Coordinates multiplied by ``factor`` (maps detections on a resized image back)."""
        corners = None if self.corners is None else self.corners * factor
        return PlateDetections(self.boxes * factor, self.scores, corners)

    def quads(self) -> FloatArray:
        """(N, 4, 2) corners: the detector's own, else the corners of the boxes."""
        return self.corners if self.corners is not None else box_corners(self.boxes)

    @property
    def sides(self) -> FloatArray:
        """The shorter side of each box, the size gates compare against."""
        return np.minimum(self.boxes[:, 2], self.boxes[:, 3])

    def by_score(self) -> PlateDetections:
        """Highest score first."""
        return self.filter(np.argsort(-self.scores, kind="stable").astype(np.intp))


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> npt.NDArray[np.intp]:
    """Indices kept by greedy non-maximum suppression of ``x, y, w, h`` boxes, best score first."""
    order = np.argsort(-scores, kind="stable")
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    areas = np.maximum(boxes[:, 2], 0) * np.maximum(boxes[:, 3], 0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


def fused_nms(detections: PlateDetections, iou_threshold: float) -> PlateDetections:
    """NMS that keeps each winner's score but averages its corners with those of the detections it
    suppresses, weighted by score: overlapping, slightly different boxes of one plate (from several
    anchors or views) agree better on its extent than the single best one."""
    if len(detections) == 0:
        return detections
    boxes, scores, quads = detections.boxes, detections.scores, detections.quads()
    order = np.argsort(-scores, kind="stable")
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    areas = np.maximum(boxes[:, 2], 0) * np.maximum(boxes[:, 3], 0)
    kept_scores: list[float] = []
    kept_quads: list[FloatArray] = []
    while order.size:
        i = int(order[0])
        iw = np.maximum(0.0, np.minimum(x2[i], x2[order]) - np.maximum(x1[i], x1[order]))
        ih = np.maximum(0.0, np.minimum(y2[i], y2[order]) - np.maximum(y1[i], y1[order]))
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[order] - inter, 1e-9)
        group = order[iou > iou_threshold]
        weights = scores[group] / max(float(scores[group].sum()), 1e-9)
        kept_quads.append(np.tensordot(weights, quads[group], axes=1).astype(np.float32))
        kept_scores.append(float(scores[i]))
        order = order[iou <= iou_threshold]
    fused = np.stack(kept_quads)
    corners = fused if detections.corners is not None else None
    return PlateDetections(corners_to_boxes(fused), np.asarray(kept_scores, np.float32), corners)
