"""platedet YOLOv8s-seg licence-plate detector (fp16 graph), run by an inference engine.

Licence: the weights are AGPL-3.0 (Ultralytics). This detector is optional and never a default.
Only the box head is used; the mask prototypes (``output1``) are ignored.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.models.engine import Engine, EngineSpec, choose, open_engine
from pipeline.plate_detections import PlateDetections, nms
from pipeline.types import Image

INPUT_SIZE = 640
NMS_THRESHOLD = 0.45
_PAD_VALUE = 114


def letterbox(image: Image) -> tuple[npt.NDArray[np.float16], float, tuple[float, float]]:
    """BGR image → fp16 RGB NCHW 640x640 blob in [0, 1], the scale, and the (left, top) padding."""
    height, width = image.shape[:2]
    ratio = min(INPUT_SIZE / height, INPUT_SIZE / width)
    new_w, new_h = round(width * ratio), round(height * ratio)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (INPUT_SIZE - new_w) / 2, (INPUT_SIZE - new_h) / 2
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    bottom, right = INPUT_SIZE - new_h - top, INPUT_SIZE - new_w - left
    padded = cv2.copyMakeBorder(
        resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(_PAD_VALUE,) * 3
    )
    rgb = padded[:, :, ::-1].transpose(2, 0, 1)[np.newaxis]
    blob = np.ascontiguousarray(rgb, dtype=np.float16) / np.float16(255.0)
    return blob.astype(np.float16), ratio, (float(left), float(top))


def decode(
    output: npt.NDArray[np.float32],
    ratio: float,
    pad: tuple[float, float],
    image_size: tuple[int, int],
    score_threshold: float,
) -> PlateDetections:
    """``output0`` (1, 37, 8400) → plates in the original image's pixels, after NMS."""
    rows = output.reshape(output.shape[-2], output.shape[-1]).T
    scores = rows[:, 4]
    keep = scores > score_threshold
    if not keep.any():
        return PlateDetections.empty()
    rows, scores = rows[keep], scores[keep]
    width, height = image_size
    cx, cy, w, h = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    x1 = np.clip((cx - w / 2 - pad[0]) / ratio, 0, width)
    y1 = np.clip((cy - h / 2 - pad[1]) / ratio, 0, height)
    x2 = np.clip((cx + w / 2 - pad[0]) / ratio, 0, width)
    y2 = np.clip((cy + h / 2 - pad[1]) / ratio, 0, height)
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(np.float32)
    dets = PlateDetections(boxes, scores.astype(np.float32))
    return dets.filter(nms(dets.boxes, dets.scores, NMS_THRESHOLD))


class PlateDet:
    """Lazy, idempotent ``load()``; ``predict(image)`` returns plate boxes (no corners) in image pixels."""

    def __init__(
        self, path: Path, score_threshold: float, threads: int, engine: EngineSpec | None = None
    ) -> None:
        self._path = path
        self._score_threshold = score_threshold
        self._threads = threads
        self._spec = engine or choose()
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._engine is not None:
                return
            engine = open_engine(self._path, self._threads, self._spec)
            engine.run({"images": np.zeros((1, 3, INPUT_SIZE, INPUT_SIZE), np.float16)}, ["output0"])
            self._engine = engine

    @property
    def engine(self) -> EngineSpec:
        return self._spec

    def predict(
        self,
        image: Image,
        regions: Sequence[tuple[int, int, int, int]] | None = None,
        known: Sequence[tuple[float, float, float, float]] = (),
    ) -> PlateDetections:
        """Plates in the image; with ``regions``, those whose centre lies in one of them (the network's
        input is a fixed 640x640 letterbox, so looking at less of the frame would not cost less).
        ``known`` changes nothing: this detector takes one look."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"platedet needs a BGR HxWx3 image, got shape {image.shape}")
        if regions is not None and not regions:
            return PlateDetections.empty()
        self.load()
        assert self._engine is not None
        blob, ratio, pad = letterbox(image)
        (output,) = self._engine.run({"images": blob}, ["output0"])
        height, width = image.shape[:2]
        found = decode(np.asarray(output, np.float32), ratio, pad, (width, height), self._score_threshold)
        if regions is None or not len(found):
            return found
        cx = found.boxes[:, 0] + found.boxes[:, 2] / 2
        cy = found.boxes[:, 1] + found.boxes[:, 3] / 2
        inside = np.zeros(len(found), dtype=np.bool_)
        for x, y, w, h in regions:
            inside |= (cx >= x) & (cx < x + w) & (cy >= y) & (cy < y + h)
        return found.filter(inside)
