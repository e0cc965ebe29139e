"""LPD-YuNet licence-plate detector (OpenCV Zoo 2023mar), run by an inference engine; four corners per plate.

The network was trained on Chinese plates (CCPD) and its graph declares a fixed 320x240 input, though it is
fully convolutional (every reshape keeps a free dimension). Three things make it work on other plates
at a bounded cost:

* the input size is declared free when the graph is loaded (``open_engine``), so a frame (or a part
  of it where something moved) is looked at in one run, shrunk by one factor (``scale``) and padded to a
  multiple of 32: no tiles overlapping each other, no squashing;
* the scale is the lowest at which the narrowest plate a camera must find is still ``PLATE_MIN_INPUT_PX``
  wide in the detector's input (``scale_for``): the cost follows the pixels, a quarter at half the scale;
* candidates are taken at a lower score (``candidate_factor`` x the threshold) and each is looked at
  again in a window where it spans about 40% of a 320x240 input (``_REFINE_ZOOM``): there the detector is
  surer and its extent and corners are more accurate (wide plates are otherwise cut short), and a
  candidate not found again there is dropped; boxes the regression stretched beyond what the anchors
  cover are dropped before (``plausible_extent``), and corners are used only when they form a plausible
  quadrilateral (``plausible_quads``).

Measured on the 249 benchmark photos (recall at IoU 0.5, CPU per photo on one thread, the same loaded
machine): the former whole 4:3 view plus seven tiles at half size 0.988 at 255 ms (8.6 runs of the
network per photo); one pass at 0.55 of the size (``smallest_plate_px`` 44) and a close look per
candidate 0.988 at 141 ms (2.4 runs), at 0.5 (48 px) 0.984 at 124 ms, at 0.6 (40 px) 0.992 at 165 ms.
The int8 file is three times slower on this CPU (81 against 25 ms per 320x240 run, onnxruntime 1.32)
and is not used.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.detections import box_iou
from pipeline.models.engine import Engine, EngineSpec, choose, open_engine
from pipeline.plate_detections import PlateDetections, box_corners, corners_to_boxes, fused_nms
from pipeline.types import Image

INPUT_W, INPUT_H = 320, 240  # the graph's declared input
REFINE_W, REFINE_H = 320, 240  # the input of a close look (at 256x192 exact reads fell from 0.851 to 0.835)
NMS_THRESHOLD = 0.3
PLATE_MIN_INPUT_PX = 24.0
"""Narrowest plate (input pixels) the detector finds reliably: on the benchmark photos at several
scales, 97 % of plates 24-31 px wide in its input were candidates, 85 % at 16-23 px, all from 40 px."""
_ALIGN = 32  # the input is padded to a multiple of this (the strides' feature maps then tile it exactly)
_STEPS = (8, 16, 32, 64)
_MIN_SIZES = ((10.0, 16.0, 24.0), (32.0, 48.0), (64.0, 96.0), (128.0, 192.0, 256.0))
_VARIANCE = 0.1
_VARIANCE_WH = 0.2
_CORNER_COLUMNS = (4, 6, 10, 12)  # top-left, top-right, bottom-right, bottom-left
_MAX_INPUT_PLATE = 2 * 256  # input pixels: twice the largest anchor, beyond which a box is extrapolated
_OUTSIDE = 0.25  # share of its own size by which a box may reach past the pixels the detector was shown
_REFINE_ZOOM = 2.5
_REFINE_IOU = 0.3
_MAX_REFINED = 16
COARSE_MARGIN = 0.75
"""A first look run by another (int8) file takes candidates at this share of the usual candidate score, so
that a plate its close look would confirm is not lost before it: on the shared clips' frames the int8 file
scores a weak candidate (f32 score >= 0.05) at 1.00 of its f32 score in the median, at 0.86 or more in 3 of
4 and at 0.71 or more in 9 of 10."""

Region = tuple[int, int, int, int]  # x, y, w, h in frame pixels


def scale_for(smallest_plate_px: float) -> float:
    """The factor a frame is shrunk by so that a plate ``smallest_plate_px`` wide is still found."""
    return min(1.0, PLATE_MIN_INPUT_PX / smallest_plate_px)


@functools.lru_cache(maxsize=64)
def priors(width: int = INPUT_W, height: int = INPUT_H) -> npt.NDArray[np.float32]:
    """(N, 4) anchor priors ``cx, cy, w, h`` normalised to a ``width`` x ``height`` input, in the graph's
    order: per stride, feature-map cells row by row, each cell's sizes in turn. Read-only (cached)."""
    parts = []
    for step, sizes in zip(_STEPS, _MIN_SIZES, strict=True):
        fh, fw = height // step, width // step
        rows, cols = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx = np.repeat(((cols.ravel() + 0.5) * step / width), len(sizes))
        cy = np.repeat(((rows.ravel() + 0.5) * step / height), len(sizes))
        side = np.tile(np.asarray(sizes), fh * fw)
        parts.append(np.stack([cx, cy, side / width, side / height], axis=1))
    out = np.concatenate(parts).astype(np.float32)
    out.flags.writeable = False
    return out


def decode(
    loc: npt.NDArray[np.float32],
    conf: npt.NDArray[np.float32],
    iou: npt.NDArray[np.float32],
    anchors: npt.NDArray[np.float32],
    score_threshold: float,
    size: tuple[int, int] = (INPUT_W, INPUT_H),
) -> PlateDetections:
    """Raw outputs → plates in input pixels of a ``size`` (width, height) input (before NMS).

    The box encloses the four corners. The corners themselves are kept only when they form a plausible
    quadrilateral that agrees with the box regression (``loc[:, 0:4]``): on plates unlike the Chinese
    training set they are sometimes sheared or folded, and then the box's own corners stand in for them.
    """
    scores = np.sqrt(conf[:, 1] * np.clip(iou[:, 0], 0.0, 1.0)).astype(np.float32)
    keep = scores >= score_threshold
    if not keep.any():
        return PlateDetections.empty(with_corners=True)
    loc, anchors, scores = loc[keep], anchors[keep], scores[keep]
    scale = np.array(size, dtype=np.float32)
    corners = np.stack(
        [anchors[:, 0:2] + loc[:, k : k + 2] * _VARIANCE * anchors[:, 2:4] for k in _CORNER_COLUMNS], axis=1
    )
    corners = (corners * scale).astype(np.float32)
    boxes = corners_to_boxes(corners)
    centre = (anchors[:, 0:2] + loc[:, 0:2] * _VARIANCE * anchors[:, 2:4]) * scale
    wh = anchors[:, 2:4] * np.exp(loc[:, 2:4] * _VARIANCE_WH) * scale
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


def plausible_extent(boxes: npt.NDArray[np.float32], shown: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """Boxes (input pixels) no wider than twice the largest anchor and reaching past the ``shown`` part of
    the input by at most a quarter of their size: larger boxes are the regression extrapolating (a
    whole banner or a building front read as one huge plate), not plates."""
    x, y, w, h = (boxes[:, i] for i in range(4))
    fits = (w <= _MAX_INPUT_PLATE) & (h <= _MAX_INPUT_PLATE)
    inside_x = (x >= -_OUTSIDE * w) & (x + w <= shown[0] + _OUTSIDE * w)
    inside_y = (y >= -_OUTSIDE * h) & (y + h <= shown[1] + _OUTSIDE * h)
    return np.asarray(fits & inside_x & inside_y, dtype=np.bool_)


def shrunk(image: Image, region: Region, scale: float) -> Image:
    """The region's pixels shrunk by ``scale``, padded with black at right and bottom to a multiple of
    ``_ALIGN`` (at least two of them, so every stride's feature map has a cell)."""
    x, y, w, h = region
    part = image[y : y + h, x : x + w]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size != (w, h):
        part = np.asarray(cv2.resize(part, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    out_w, out_h = (max(2 * _ALIGN, math.ceil(v / _ALIGN) * _ALIGN) for v in size)
    out = np.zeros((out_h, out_w, 3), dtype=np.uint8)
    out[: size[1], : size[0]] = part
    return out


def window(image: Image, view: Region) -> Image:
    """A 4:3 view's pixels resized to the 320x240 input; parts outside the image are black."""
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
    interpolation = cv2.INTER_AREA if w > REFINE_W else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(part, (REFINE_W, REFINE_H), interpolation=interpolation), dtype=np.uint8)


def refine_window(box: npt.NDArray[np.float32]) -> Region:
    """A 4:3 view centred on a plate, ``_REFINE_ZOOM`` times its width: the plate then spans about 128
    of the 320 input pixels, the scale the detector's corners and extent are most accurate at."""
    x, y, w, h = (float(v) for v in box)
    view_w = max(w * _REFINE_ZOOM, h * _REFINE_ZOOM * REFINE_W / REFINE_H, float(REFINE_W) / 4)
    view_h = view_w * REFINE_H / REFINE_W
    return round(x + w / 2 - view_w / 2), round(y + h / 2 - view_h / 2), round(view_w), round(view_h)


def clip_region(region: Region, width: int, height: int) -> Region | None:
    """The part of ``region`` inside a ``width`` x ``height`` image, or None if nothing is."""
    x, y, w, h = region
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


class LpdYuNet:
    """Lazy, idempotent ``load()``; ``predict(image, regions)`` returns plates (with corners) in image
    coordinates, looked for in the whole image or only in the given regions."""

    def __init__(
        self,
        path: Path,
        score_threshold: float,
        threads: int,
        scale: float = 0.5,
        candidate_factor: float = 0.3,
        refine: bool = True,
        engine: EngineSpec | None = None,
        coarse_path: Path | None = None,
    ) -> None:
        if not 0.0 < scale <= 1.0 or not 0.0 < candidate_factor <= 1.0:
            raise ValueError(f"scale {scale} and candidate_factor {candidate_factor} must be in (0, 1]")
        self._path = path
        self._score_threshold = score_threshold
        # The coarse pass finds candidates at a lower score; one is kept if its refined score reaches the
        # threshold.
        self._candidate_threshold = score_threshold * candidate_factor if refine else score_threshold
        self._threads = threads
        self._scale = scale
        self._refine = refine
        self._spec = engine or choose()
        self._engine: Engine | None = None
        # The shrunk first look may run another file (the int8 one): it only proposes candidates, each of
        # which the close look in ``path`` then confirms, places and scores.
        self._coarse_path = coarse_path if refine else None
        if self._coarse_path is not None:
            self._candidate_threshold *= COARSE_MARGIN
        self._coarse_engine: Engine | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._engine is not None:
                return
            engine = open_engine(self._path, self._threads, self._spec, free_size_axis=0)
            engine.run({"input": np.zeros((1, 3, INPUT_H, INPUT_W), np.float32)})
            if self._coarse_path is not None:
                coarse = open_engine(self._coarse_path, self._threads, self._spec, free_size_axis=0)
                coarse.run({"input": np.zeros((1, 3, INPUT_H, INPUT_W), np.float32)})
                self._coarse_engine = coarse
            self._engine = engine

    @property
    def engine(self) -> EngineSpec:
        return self._spec

    def _run(self, pixels: Image, shown: tuple[int, int], first_look: bool = False) -> PlateDetections:
        """Plates in one input (any size, multiples of 32), in its pixels; ``shown`` is the width and
        height of the part holding the image (the rest is padding); ``first_look``: the shrunk pass."""
        engine = (self._coarse_engine if first_look else None) or self._engine
        assert engine is not None
        height, width = pixels.shape[:2]
        blob = np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)
        loc, conf, iou = engine.run({"input": blob})
        anchors = priors(width, height)
        if len(loc) != len(anchors):
            raise ValueError(
                f"LPD-YuNet gave {len(loc)} anchors for {width}x{height}, expected {len(anchors)}"
            )
        dets = decode(
            np.asarray(loc, np.float32),
            np.asarray(conf, np.float32),
            np.asarray(iou, np.float32),
            anchors,
            self._candidate_threshold,
            (width, height),
        )
        return dets.filter(plausible_extent(dets.boxes, shown)) if len(dets) else dets

    def _coarse(self, image: Image, region: Region) -> PlateDetections:
        """Candidates in one region of the image, shrunk by the scale, in image coordinates."""
        x, y, w, h = region
        shown = (max(1, round(w * self._scale)), max(1, round(h * self._scale)))
        dets = self._run(shrunk(image, region, self._scale), shown, first_look=True)
        if not len(dets):
            return dets
        # The shrunk size is rounded: map back by the exact factor per axis.
        return _placed(dets, np.array([w / shown[0], h / shown[1]], np.float32), (x, y))

    def _in_window(self, image: Image, view: Region) -> PlateDetections:
        """Detections in one 4:3 window, in image coordinates."""
        x, y, w, _ = view
        dets = self._run(window(image, view), (REFINE_W, REFINE_H))
        factor = w / REFINE_W
        return _placed(dets, np.array([factor, factor], np.float32), (x, y)) if len(dets) else dets

    def predict(
        self,
        image: Image,
        regions: Sequence[Region] | None = None,
        known: Sequence[tuple[float, float, float, float]] = (),
    ) -> PlateDetections:
        """Plates found in the whole image (``regions`` None) or in the given regions, each then refined
        in a window around it, except where it overlaps a ``known`` plate (x, y, w, h: one being
        followed, confirmed before): there the shrunk pass's candidate is believed as it is, even
        below the threshold (a track ends when its plate is no longer a candidate there at all)."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"LPD-YuNet needs a BGR HxWx3 image, got shape {image.shape}")
        self.load()
        height, width = image.shape[:2]
        views = [(0, 0, width, height)] if regions is None else regions
        inside = [v for r in views if (v := clip_region(r, width, height)) is not None]
        coarse = fused_nms(_concat([self._coarse(image, r) for r in inside]), NMS_THRESHOLD).by_score()
        if self._refine:
            # A candidate where a followed plate was is that plate (the track confirmed it): no close look.
            followed = _overlapping(coarse.boxes, known)
            refined = [
                coarse.filter(np.array([i], np.intp)) if followed[i] else self._refined(image, coarse, i)
                for i in range(min(len(coarse), _MAX_REFINED))
            ]
            coarse = fused_nms(_concat(refined), NMS_THRESHOLD)
            keep = (coarse.scores >= self._score_threshold) | _overlapping(coarse.boxes, known)
            return coarse.filter(np.flatnonzero(keep).astype(np.intp))
        return coarse.filter(np.flatnonzero(coarse.scores >= self._score_threshold).astype(np.intp))

    def _refined(self, image: Image, coarse: PlateDetections, index: int) -> PlateDetections:
        """The plate re-detected in a window where it appears at the detector's best scale (same plate:
        IoU >= 0.3), or the coarse detection when the window's score is lower; nothing when the window
        does not find it again (a sign's lettering seen as a plate at one scale only: the benchmark's
        recall is the same, and "THE WHITE HOUSE" behind a speaker is no longer read as HOUSE)."""
        box = coarse.boxes[index]
        near = self._in_window(image, refine_window(box))
        if len(near):
            overlap = box_iou(near.boxes, box)
            near = near.filter(overlap >= _REFINE_IOU)
        if not len(near):
            return near  # not seen again close up: two looks at two scales must agree on a plate
        best = fused_nms(near, NMS_THRESHOLD).by_score().filter(np.array([0], dtype=np.intp))
        # Trust the closer look only when the detector is at least as sure there; a first look run by
        # another file (int8) only proposes: its box and score are never the answer.
        if self._coarse_engine is not None or best.scores[0] >= coarse.scores[index]:
            return best
        return coarse.filter(np.array([index], np.intp))


def _placed(
    dets: PlateDetections, factor: npt.NDArray[np.float32], origin: tuple[int, int]
) -> PlateDetections:
    """Detections in input pixels mapped to the image: scaled per axis, then moved to ``origin``."""
    assert dets.corners is not None
    offset = np.array(origin, dtype=np.float32)
    corners = dets.corners * factor + offset
    return PlateDetections(corners_to_boxes(corners), dets.scores, corners)


def _overlapping(
    boxes: npt.NDArray[np.float32], known: Sequence[tuple[float, float, float, float]]
) -> npt.NDArray[np.bool_]:
    """Boxes overlapping any of ``known`` at IoU >= the refinement's same-plate IoU."""
    out = np.zeros(len(boxes), dtype=np.bool_)
    for box in known:
        out |= box_iou(boxes, np.asarray(box, np.float32)) >= _REFINE_IOU
    return out


def _concat(parts: Sequence[PlateDetections]) -> PlateDetections:
    parts = [p for p in parts if len(p)]
    if not parts:
        return PlateDetections.empty(with_corners=True)
    return PlateDetections(
        np.concatenate([p.boxes for p in parts]),
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.corners for p in parts if p.corners is not None]),
    )
