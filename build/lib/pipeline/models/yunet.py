"""YuNet face detector (OpenCV Zoo 2023mar) run through cv2.FaceDetectorYN.

OpenCV runs the network at the image's own size; YuNet finds faces of roughly 10-300 px, so large images
are downscaled to ``max_side`` first and the detections mapped back to full-resolution coordinates.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.detections import FaceDetections
from pipeline.types import Image

NMS_THRESHOLD = 0.3
TOP_K = 5000
_WARMUP_SIZE = (320, 240)


def from_yunet(output: npt.ArrayLike | None) -> FaceDetections:
    """Convert YuNet's N x 15 output (x, y, w, h, 5 landmarks, score) into FaceDetections."""
    if output is None:
        return FaceDetections.empty()
    raw = np.asarray(output, dtype=np.float32).reshape(-1, 15)
    if len(raw) == 0:
        return FaceDetections.empty()
    return FaceDetections(boxes=raw[:, 0:4], landmarks=raw[:, 4:14].reshape(-1, 5, 2), scores=raw[:, 14])


class YuNet:
    """Lazy, idempotent ``load()``; ``predict(image)`` returns faces in the image's coordinates."""

    def __init__(self, path: Path, score_threshold: float, max_side: int) -> None:
        self._path = path
        self._score_threshold = score_threshold
        self._max_side = max_side
        self._detector: cv2.FaceDetectorYN | None = None
        # FaceDetectorYN keeps the input size as state, so one call at a time per instance.
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._detector is not None:
                return
            # OpenCV 5 warns once that its new graph engine ignores the (default) target: noise here.
            level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
            try:
                detector = cv2.FaceDetectorYN.create(
                    str(self._path), "", _WARMUP_SIZE, self._score_threshold, NMS_THRESHOLD, TOP_K
                )
                detector.detect(np.zeros((_WARMUP_SIZE[1], _WARMUP_SIZE[0], 3), np.uint8))
            finally:
                cv2.utils.logging.setLogLevel(level)
            self._detector = detector

    def predict(self, image: Image) -> FaceDetections:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"YuNet needs a BGR HxWx3 image, got shape {image.shape}")
        self.load()
        height, width = image.shape[:2]
        scale = min(1.0, self._max_side / max(height, width))
        small = image
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        with self._lock:
            assert self._detector is not None
            self._detector.setInputSize((small.shape[1], small.shape[0]))
            _, raw = self._detector.detect(small)
        detections = from_yunet(raw)
        if scale < 1.0:
            detections = detections.scaled(1.0 / scale)
        return detections
