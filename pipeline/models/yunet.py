"""YuNet face detector (OpenCV Zoo 2023mar), run by an inference engine at whatever input size is asked for.

The graph is anchor-free: three heads (strides 8, 16, 32) give, per grid cell, a class and an
objectness score, a box (centre offset in cells, log width and height in cells) and five landmarks
(offsets in cells). Its declared input is fixed at 640x640, but every layer is a convolution, pooling,
resize or a reshape to ``[1, -1, k]``, so the spatial dimensions are freed when the model is loaded
and any size that is a multiple of 32 runs. onnxruntime runs it in 40 % of the CPU time OpenCV's DNN
module (``cv2.FaceDetectorYN``) took for the same input, and gives the same faces (the test compares
them); the engine is thread-safe (``pipeline.models.engine``), so one detector serves every camera of a
process.

YuNet finds faces from about ``SMALLEST_FACE_PX`` up to about 300 px, so callers choose a scale per
image: a camera from the smallest face it must find (``detection_scale``), a photo from
``max_side``. Detections come back in the image's own coordinates.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.detections import FaceDetections
from pipeline.models.engine import Engine, EngineSpec, choose, open_engine
from pipeline.plate_detections import nms
from pipeline.types import Image

Region = tuple[int, int, int, int]  # x, y, w, h in image pixels

NMS_THRESHOLD = 0.3
STRIDES = (8, 16, 32)
_ALIGN = 32  # the input's sides are padded to a multiple of the largest stride
SMALLEST_FACE_PX = 16
"""The smallest face side (pixels at the detector's input) that YuNet finds as surely as a large one.
Measured on the 58 shared single-face photos shrunk until the face was N px: found at score >= 0.7 in
0 % at 8 px, 14 % at 10, 66 % at 12, 95 % at 14 and 98 % from 16 px up (the one miss is a face cut
by the border at every size)."""
_WARMUP_SIZE = (320, 256)

FloatArray = npt.NDArray[np.float32]


def detection_scale(width: int, height: int, min_face_px: float, max_side: int) -> float:
    """The factor (<= 1) an image is shrunk by before detection so that a face of ``min_face_px`` is
    still ``SMALLEST_FACE_PX`` at the detector's input, and its longest side is at most ``max_side``."""
    return min(1.0, SMALLEST_FACE_PX / min_face_px, max_side / max(width, height))


def decode(outputs: dict[str, FloatArray], width: int, height: int, score_threshold: float) -> FaceDetections:
    """The heads' raw outputs for a ``width`` x ``height`` (padded) input → faces in input pixels, before NMS.

    A cell's score is the geometric mean of its class and objectness scores; its box is centred at
    (cell + offset) x stride with sides exp(log size) x stride; landmarks are (cell + offset) x stride.
    """
    boxes, landmarks, scores = [], [], []
    for stride in STRIDES:
        cols = width // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= score_threshold)
        if keep.size == 0:
            continue
        rows, columns = np.divmod(keep, cols)
        cell = np.stack([columns, rows], axis=1).astype(np.float32)
        box = outputs[f"bbox_{stride}"].reshape(-1, 4)[keep]
        centre = (cell + box[:, 0:2]) * stride
        size = np.exp(box[:, 2:4]) * stride
        boxes.append(np.concatenate([centre - size / 2, size], axis=1))
        points = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[keep]
        landmarks.append((points + cell[:, None, :]) * stride)
        scores.append(score[keep])
    if not scores:
        return FaceDetections.empty()
    return FaceDetections(np.concatenate(boxes), np.concatenate(landmarks), np.concatenate(scores))


class YuNet:
    """Lazy, idempotent ``load()``; ``predict(image)`` returns faces in the image's coordinates.

    Thread-safe: cameras share one instance (engines may run concurrently)."""

    def __init__(
        self,
        path: Path,
        score_threshold: float,
        max_side: int,
        threads: int = 1,
        engine: EngineSpec | None = None,
    ) -> None:
        self._path = path
        self._score_threshold = score_threshold
        self._max_side = max_side
        self._threads = threads
        self._spec = engine or choose()
        self._engine: Engine | None = None
        self._input = "input"
        self._outputs: list[str] = []
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._engine is not None:
                return
            engine = open_engine(self._path, self._threads, self._spec, free_size_axis=1)
            self._input = engine.inputs[0]
            self._outputs = engine.outputs
            width, height = _WARMUP_SIZE
            engine.run({self._input: np.zeros((1, 3, height, width), np.float32)})
            self._engine = engine

    @property
    def engine(self) -> EngineSpec:
        return self._spec

    def predict(self, image: Image, scale: float | None = None) -> FaceDetections:
        """Faces in ``image``, detected on a copy shrunk by ``scale`` (default: to ``max_side``)."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"YuNet needs a BGR HxWx3 image, got shape {image.shape}")
        self.load()
        height, width = image.shape[:2]
        if scale is None:
            scale = min(1.0, self._max_side / max(height, width))
        if scale >= 1.0:
            return self._run(image)
        small = _shrunk(image, scale)
        return self._run(small).scaled(width / small.shape[1])

    def predict_around(
        self, image: Image, box: npt.ArrayLike, face_px: float, margin: float
    ) -> FaceDetections:
        """The largest face in the region of ``box`` (x, y, w, h) widened by ``margin`` of its size on
        every side, detected with the face shrunk to about ``face_px`` (never enlarged): YuNet's
        landmarks depend on the size it sees a face at, so a face found on a small copy is measured
        again at a size that places its landmarks well, for a fraction of the whole image's cost."""
        self.load()
        height, width = image.shape[:2]
        x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
        pad = margin * max(w, h)
        x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
        x1, y1 = min(width, int(np.ceil(x + w + pad))), min(height, int(np.ceil(y + h + pad)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return FaceDetections.empty()
        region = image[y0:y1, x0:x1]
        scale = min(1.0, face_px / max(w, h, 1.0))
        small = _shrunk(region, scale) if scale < 1.0 else np.ascontiguousarray(region)
        found = self._run(small).largest().scaled(region.shape[1] / small.shape[1])
        offset = np.array([x0, y0], dtype=np.float32)
        return FaceDetections(
            found.boxes + np.concatenate([offset, [0, 0]]).astype(np.float32),
            found.landmarks + offset,
            found.scores,
        )

    def predict_regions(self, image: Image, scale: float, regions: list[Region]) -> FaceDetections:
        """Faces in the ``regions`` (x, y, w, h in ``image``'s pixels) of ``image``, each detected as the
        whole image would be at ``scale``: a region is widened to the detector's 32 px grid at that
        scale, so its pixels and grid cells are those of the whole frame's detection, and a face well
        inside it comes out as it would there. Faces in ``image``'s coordinates, NMS across regions."""
        self.load()
        height, width = image.shape[:2]
        scale = min(1.0, scale)
        parts = []
        for rx, ry, rw, rh in regions:
            x, y = max(0, rx), max(0, ry)
            w, h = min(width, rx + rw) - x, min(height, ry + rh) - y
            # The region on the detector's grid (multiples of 32 at ``scale``), back in image pixels.
            gx0, gy0 = int(x * scale) // _ALIGN * _ALIGN, int(y * scale) // _ALIGN * _ALIGN
            gx1 = min(-(-int(np.ceil((x + w) * scale)) // _ALIGN) * _ALIGN, round(width * scale))
            gy1 = min(-(-int(np.ceil((y + h) * scale)) // _ALIGN) * _ALIGN, round(height * scale))
            if gx1 - gx0 < 2 or gy1 - gy0 < 2:
                continue
            x0, y0 = round(gx0 / scale), round(gy0 / scale)
            x1, y1 = min(width, round(gx1 / scale)), min(height, round(gy1 / scale))
            region = image[y0:y1, x0:x1]
            small = (
                np.asarray(
                    cv2.resize(region, (gx1 - gx0, gy1 - gy0), interpolation=_interpolation(scale)),
                    dtype=np.uint8,
                )
                if scale < 1.0
                else region
            )
            found = self._run(small).scaled((x1 - x0) / small.shape[1])
            offset = np.array([x0, y0], dtype=np.float32)
            parts.append(
                FaceDetections(
                    found.boxes + np.concatenate([offset, [0, 0]]).astype(np.float32),
                    found.landmarks + offset,
                    found.scores,
                )
            )
        if not parts:
            return FaceDetections.empty()
        joined = FaceDetections(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.landmarks for p in parts]),
            np.concatenate([p.scores for p in parts]),
        )
        return joined.filter(nms(joined.boxes, joined.scores, NMS_THRESHOLD)) if len(parts) > 1 else joined

    def _run(self, image: Image) -> FaceDetections:
        height, width = image.shape[:2]
        padded_h, padded_w = -(-height // _ALIGN) * _ALIGN, -(-width // _ALIGN) * _ALIGN
        blob = np.empty((1, 3, padded_h, padded_w), np.float32)  # BGR, 0-255, padded bottom and right
        blob[..., height:, :] = 0.0
        blob[..., :height, width:] = 0.0
        # Straight from the strided view, converted as it is copied: 0.9 against 1.4 ms at 854x480 for
        # zeroing the whole blob and copying a contiguous uint8 transpose into it.
        blob[0, :, :height, :width] = image.transpose(2, 0, 1)
        engine = self._engine
        assert engine is not None
        raw = dict(zip(self._outputs, engine.run({self._input: blob}), strict=True))
        found = decode(raw, padded_w, padded_h, self._score_threshold)
        return found.filter(nms(found.boxes, found.scores, NMS_THRESHOLD)) if len(found) else found


def _shrunk(image: Image, scale: float) -> Image:
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Area averaging is exact but slow at fractional factors (5.9 ms for 1280x720 → 854x480, against
    # 1.2 ms bilinear); down to half size bilinear samples still fall within a pixel of one another, so
    # every source pixel is read and little aliases.
    return np.asarray(cv2.resize(image, size, interpolation=_interpolation(scale)), dtype=np.uint8)


def _interpolation(scale: float) -> int:
    return cv2.INTER_LINEAR if scale >= 0.5 else cv2.INTER_AREA
