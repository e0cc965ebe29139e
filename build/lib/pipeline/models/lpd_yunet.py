"""LPD-YuNet licence-plate detector (OpenCV Zoo 2023mar), run with onnxruntime; gives four corners per plate.

The graph's input is fixed at 320x240 (4:3), so a whole 1080p frame shrinks plates to a few pixels, and
the network was trained on Chinese plates (CCPD). Three things make it work on other plates:

* views keep the 4:3 shape (the frame padded, never squashed), and besides the whole frame the detector
  looks at overlapping tiles (``levels``), so small plates are found;
* candidates are taken at a lower score (``_CANDIDATE_FACTOR`` x the threshold) and each is looked at
  again in a window where it spans about 40% of the input (``_REFINE_ZOOM``): there the detector is
  surer and its extent and corners are more accurate (wide plates are otherwise cut short);
* the four corners are used only when they form a plausible quadrilateral (``plausible_quads``).

Measured on the benchmark photos (recall at IoU 0.5): whole frame squashed 0.75, 4:3 views 0.80, with
tiles [0.5] 0.98, with refinement 0.99; refinement also lifted exact reads from 0.83 to 0.85.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from pipeline.detections import box_iou
from pipeline.models.runtime import ort_session
from pipeline.plate_detections import PlateDetections, box_corners, corners_to_boxes, fused_nms
from pipeline.types import Image

INPUT_W, INPUT_H = 320, 240
NMS_THRESHOLD = 0.3
_STEPS = (8, 16, 32, 64)
_MIN_SIZES = ((10.0, 16.0, 24.0), (32.0, 48.0), (64.0, 96.0), (128.0, 192.0, 256.0))
_VARIANCE = 0.1
_VARIANCE_WH = 0.2
_CORNER_COLUMNS = (4, 6, 10, 12)  # top-left, top-right, bottom-right, bottom-left
_TILE_OVERLAP = 0.4
_EDGE_MARGIN = 2.0  # input pixels
_REFINE_ZOOM = 2.5
_REFINE_IOU = 0.3
_CANDIDATE_FACTOR = 0.6
_MAX_REFINED = 16


def priors() -> npt.NDArray[np.float32]:
    """(4385, 4) anchor priors ``cx, cy, w, h`` normalised to the 320x240 input, in the graph's order."""
    rows: list[tuple[float, float, float, float]] = []
    for step, sizes in zip(_STEPS, _MIN_SIZES, strict=True):
        fh, fw = INPUT_H // step, INPUT_W // step
        for i in range(fh):
            for j in range(fw):
                cx, cy = (j + 0.5) * step / INPUT_W, (i + 0.5) * step / INPUT_H
                rows.extend((cx, cy, size / INPUT_W, size / INPUT_H) for size in sizes)
    return np.asarray(rows, dtype=np.float32)


def decode(
    loc: npt.NDArray[np.float32],
    conf: npt.NDArray[np.float32],
    iou: npt.NDArray[np.float32],
    anchors: npt.NDArray[np.float32],
    score_threshold: float,
) -> PlateDetections:
    """Raw outputs → plates in 320x240 input pixels (before NMS).

    The box encloses the four corners. The corners themselves are kept only when they form a plausible
    quadrilateral that agrees with the box regression (``loc[:, 0:4]``): on plates unlike the Chinese
    training set they are sometimes sheared or folded, and then the box's own corners stand in for them.
    """
    scores = np.sqrt(conf[:, 1] * np.clip(iou[:, 0], 0.0, 1.0)).astype(np.float32)
    keep = scores >= score_threshold
    if not keep.any():
        return PlateDetections.empty(with_corners=True)
    loc, anchors, scores = loc[keep], anchors[keep], scores[keep]
    size = np.array([INPUT_W, INPUT_H], dtype=np.float32)
    corners = np.stack(
        [anchors[:, 0:2] + loc[:, k : k + 2] * _VARIANCE * anchors[:, 2:4] for k in _CORNER_COLUMNS], axis=1
    )
    corners = (corners * size).astype(np.float32)
    boxes = corners_to_boxes(corners)
    centre = (anchors[:, 0:2] + loc[:, 0:2] * _VARIANCE * anchors[:, 2:4]) * size
    wh = anchors[:, 2:4] * np.exp(loc[:, 2:4] * _VARIANCE_WH) * size
    regressed = np.concatenate([centre - wh / 2, wh], axis=1).astype(np.float32)
    good = plausible_quads(corners, regressed)
    corners = np.where(good[:, None, None], corners, box_corners(boxes)).astype(np.float32)
    return PlateDetections(boxes, scores, corners)


def plausible_quads(
    corners: npt.NDArray[np.float32], boxes: npt.NDArray[np.float32]
) -> npt.NDArray[np.bool_]:
    """Quads that are convex, have corner angles of 90 +- 30 degrees and cover the box (IoU >= 0.6)."""
    edges = np.roll(corners, -1, axis=1) - corners  # TL→TR, TR→BR, BR→BL, BL→TL
    prev = np.roll(edges, 1, axis=1)
    cross = prev[:, :, 0] * edges[:, :, 1] - prev[:, :, 1] * edges[:, :, 0]
    convex = (cross > 0).all(axis=1)  # clockwise in image coordinates (y down)
    norms = np.linalg.norm(edges, axis=2) * np.linalg.norm(prev, axis=2)
    cosine = -(prev * edges).sum(axis=2) / np.maximum(norms, 1e-6)
    square = (np.abs(cosine) <= np.cos(np.radians(60))).all(axis=1)
    hull = corners_to_boxes(corners)
    x1 = np.maximum(hull[:, 0], boxes[:, 0])
    y1 = np.maximum(hull[:, 1], boxes[:, 1])
    x2 = np.minimum(hull[:, 0] + hull[:, 2], boxes[:, 0] + boxes[:, 2])
    y2 = np.minimum(hull[:, 1] + hull[:, 3], boxes[:, 1] + boxes[:, 3])
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = hull[:, 2] * hull[:, 3] + boxes[:, 2] * boxes[:, 3] - inter
    agree = inter / np.maximum(union, 1e-6) >= 0.6
    return np.asarray(convex & square & agree, dtype=np.bool_)


def tiles(width: int, height: int, levels: Sequence[float]) -> list[tuple[int, int, int, int]]:
    """``x, y, w, h`` views of the 320x240 (4:3) shape, so plates keep their aspect ratio.

    The first view is the 4:3 box covering the whole image (the image padded at right or bottom);
    each further level ``f`` adds overlapping tiles ``f`` times that size, covering the image.
    """
    base_w = max(width, math.ceil(height * INPUT_W / INPUT_H))
    views = [(0, 0, base_w, round(base_w * INPUT_H / INPUT_W))]
    for factor in levels:
        tw = max(INPUT_W, round(base_w * factor))
        th = round(tw * INPUT_H / INPUT_W)
        views.extend((x, y, tw, th) for y in _starts(height, th) for x in _starts(width, tw))
    return views


def _starts(length: int, tile: int) -> list[int]:
    if tile >= length:
        return [0]
    count = math.ceil((length - tile) / (tile * (1.0 - _TILE_OVERLAP))) + 1
    return [int(v) for v in np.linspace(0, length - tile, count).round()]


def _view(image: Image, view: tuple[int, int, int, int]) -> Image:
    """The view's pixels resized to 320x240; parts outside the image are black."""
    x, y, w, h = view
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    part = image[y0:y1, x0:x1]
    if (x0, y0, x1, y1) != (x, y, x + w, y + h):
        part = np.asarray(
            cv2.copyMakeBorder(
                part, y0 - y, y + h - y1, x0 - x, x + w - x1, cv2.BORDER_CONSTANT, value=(0, 0, 0)
            ),
            dtype=np.uint8,
        )
    interpolation = cv2.INTER_AREA if w > INPUT_W else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(part, (INPUT_W, INPUT_H), interpolation=interpolation), dtype=np.uint8)


def refine_window(box: npt.NDArray[np.float32]) -> tuple[int, int, int, int]:
    """A 4:3 view centred on a plate, ``_REFINE_ZOOM`` times its width: the plate then spans about 128
    of the 320 input pixels, the scale the detector's corners and extent are most accurate at."""
    x, y, w, h = (float(v) for v in box)
    view_w = max(w * _REFINE_ZOOM, h * _REFINE_ZOOM * INPUT_W / INPUT_H, float(INPUT_W) / 4)
    view_h = view_w * INPUT_H / INPUT_W
    return round(x + w / 2 - view_w / 2), round(y + h / 2 - view_h / 2), round(view_w), round(view_h)


def _inside_tile(
    dets: PlateDetections, view: tuple[int, int, int, int], image_size: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """Plates (in image coordinates) that do not touch an edge of the view lying inside the image: those
    are cut, and another view has them whole."""
    x, y, w, h = view
    b = dets.boxes
    margin = _EDGE_MARGIN * w / INPUT_W
    ok = np.ones(len(dets), dtype=np.bool_)
    if x > 0:
        ok &= b[:, 0] > x + margin
    if y > 0:
        ok &= b[:, 1] > y + margin
    if x + w < image_size[0]:
        ok &= b[:, 0] + b[:, 2] < x + w - margin
    if y + h < image_size[1]:
        ok &= b[:, 1] + b[:, 3] < y + h - margin
    return ok


class LpdYuNet:
    """Lazy, idempotent ``load()``; ``predict(image)`` returns plates (with corners) in image coordinates."""

    def __init__(
        self,
        path: Path,
        score_threshold: float,
        threads: int,
        levels: Sequence[float] = (0.5,),
        refine: bool = True,
    ) -> None:
        self._path = path
        self._score_threshold = score_threshold
        # Views find candidates at a lower score; a plate is kept if its refined score reaches the threshold.
        self._candidate_threshold = score_threshold * _CANDIDATE_FACTOR if refine else score_threshold
        self._threads = threads
        self._levels = tuple(levels)
        self._refine = refine
        self._session: ort.InferenceSession | None = None
        self._anchors = priors()
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            session = ort_session(self._path, self._threads)
            session.run(None, {"input": np.zeros((1, 3, INPUT_H, INPUT_W), np.float32)})
            self._session = session

    def _run_view(self, resized: Image) -> PlateDetections:
        assert self._session is not None
        blob = np.ascontiguousarray(resized.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)
        loc, conf, iou = self._session.run(None, {"input": blob})
        return decode(
            np.asarray(loc, np.float32),
            np.asarray(conf, np.float32),
            np.asarray(iou, np.float32),
            self._anchors,
            self._candidate_threshold,
        )

    def _detect_in(self, image: Image, view: tuple[int, int, int, int]) -> PlateDetections:
        """Detections in one view, in image coordinates."""
        x, y, w, _ = view
        dets = self._run_view(_view(image, view))
        if not len(dets):
            return dets
        assert dets.corners is not None
        scale = w / INPUT_W  # views keep the 4:3 shape, so one factor for x and y
        corners = dets.corners * scale + np.array([x, y], dtype=np.float32)
        return PlateDetections(dets.boxes * scale + np.array([x, y, 0, 0], np.float32), dets.scores, corners)

    def predict(self, image: Image) -> PlateDetections:
        """Plates found in the whole image and its tiles, each then refined in a window around it."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"LPD-YuNet needs a BGR HxWx3 image, got shape {image.shape}")
        self.load()
        height, width = image.shape[:2]
        found: list[PlateDetections] = []
        for index, view in enumerate(tiles(width, height, self._levels)):
            dets = self._detect_in(image, view)
            if index > 0:
                dets = dets.filter(_inside_tile(dets, view, (width, height)))
            found.append(dets)
        coarse = fused_nms(_concat(found), NMS_THRESHOLD).by_score()
        if self._refine:
            refined = [self._refined(image, coarse, i) for i in range(min(len(coarse), _MAX_REFINED))]
            coarse = fused_nms(_concat(refined), NMS_THRESHOLD)
        return coarse.filter(np.flatnonzero(coarse.scores >= self._score_threshold).astype(np.intp))

    def _refined(self, image: Image, coarse: PlateDetections, index: int) -> PlateDetections:
        """The plate re-detected in a window where it appears at the detector's best scale, or the coarse
        detection when the window does not find it again (same plate: IoU >= 0.3) with a score as high."""
        box = coarse.boxes[index]
        near = self._detect_in(image, refine_window(box))
        if len(near):
            overlap = box_iou(near.boxes, box)
            near = near.filter(overlap >= _REFINE_IOU)
        if not len(near):
            return coarse.filter(np.array([index], dtype=np.intp))
        best = fused_nms(near, NMS_THRESHOLD).by_score().filter(np.array([0], dtype=np.intp))
        # Trust the closer look only when the detector is at least as sure there.
        return best if best.scores[0] >= coarse.scores[index] else coarse.filter(np.array([index], np.intp))


def _concat(parts: Sequence[PlateDetections]) -> PlateDetections:
    parts = [p for p in parts if len(p)]
    if not parts:
        return PlateDetections.empty(with_corners=True)
    return PlateDetections(
        np.concatenate([p.boxes for p in parts]),
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.corners for p in parts if p.corners is not None]),
    )
