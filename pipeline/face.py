"""Face analysis: detect (YuNet) → align (ArcFace template) → embed (MobileFaceNet).

One ``FaceAnalyzer`` serves every camera of a worker process: both models are thread-safe and keep no
state between calls, so cameras share their weights and nothing of one camera's images reaches
another's results.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.align import align_face
from pipeline.detections import FaceDetections, box_iou
from pipeline.models.engine import engine_for
from pipeline.models.mobilefacenet import EMBEDDING_DIM, MobileFaceNet
from pipeline.models.registry import ModelError, Registry, load_registry, locate_registry, resolve
from pipeline.models.yunet import Region, YuNet, detection_scale
from pipeline.settings import Settings
from pipeline.types import Image

SUPPORTED_DETECTORS = ("yunet",)
SUPPORTED_EMBEDDERS = ("mobilefacenet",)
REFINE_MARGIN = 0.5  # the region a face is measured again in: its box widened by half its size a side
CONFIRM_IOU = 0.3  # a face found again in its region is the same face when the boxes overlap this much


class FaceAnalyzer:
    """Loads the configured face models from ``models_dir`` (verified against the registry) on ``load()``.

    ``detect`` and ``embed`` are separate so callers can time each stage; ``analyse`` does both.
    """

    def __init__(self, settings: Settings, models_dir: Path | None = None, registry: Registry | None = None):
        rec = settings.recognition
        if rec.detector_model not in SUPPORTED_DETECTORS:
            raise ModelError(
                f"face detector {rec.detector_model!r} is not supported; use one of {SUPPORTED_DETECTORS}"
            )
        if rec.embedder_model not in SUPPORTED_EMBEDDERS:
            raise ModelError(
                f"face embedder {rec.embedder_model!r} is not supported; use one of {SUPPORTED_EMBEDDERS}"
            )
        self._settings = settings
        self._models_dir = models_dir if models_dir is not None else settings.models_dir
        self._registry = registry
        self._detector: YuNet | None = None
        self._embedder: MobileFaceNet | None = None
        self._loading = threading.Lock()

    @property
    def embedder_model(self) -> str:
        return self._settings.recognition.embedder_model

    def load(self) -> None:
        """Verify and load both models, with warm-up. Idempotent; raises ModelError if a file is unusable."""
        with self._loading:
            if self._detector is None or self._embedder is None:
                self._load()

    def _load(self) -> None:
        registry = self._registry or load_registry(locate_registry(self._settings.models_registry))
        rec, engines = self._settings.recognition, self._settings.models
        detector = YuNet(
            resolve(registry, self._models_dir, rec.detector_model),
            rec.detector_score,
            rec.detect_max_side,
            rec.intra_op_threads,
            engine_for(engines, rec.detector_model),
        )
        embedder = MobileFaceNet(
            resolve(registry, self._models_dir, rec.embedder_model),
            rec.intra_op_threads,
            rec.flip_tta,
            engine_for(engines, rec.embedder_model),
        )
        detector.load()
        embedder.load()
        self._detector, self._embedder = detector, embedder

    def detect(self, image: Image, min_face_px: float | None = None) -> FaceDetections:
        """Faces in ``image``. A video frame gives the smallest face its camera must find, and is
        detected at the size that face needs (smaller is cheaper: YuNet's cost follows the pixels); a
        photo (None) at ``recognition.detect_max_side``."""
        self.load()
        assert self._detector is not None
        if min_face_px is None:
            return self._detector.predict(image)
        return self._detector.predict(image, self._scale(image, min_face_px))

    def detect_regions(self, image: Image, min_face_px: float, regions: list[Region]) -> FaceDetections:
        """Faces in ``regions`` (x, y, w, h) of a video frame, detected at the size ``detect`` would
        detect the whole frame at: a camera's faces followed between its whole-frame detections."""
        self.load()
        assert self._detector is not None
        return self._detector.predict_regions(image, self._scale(image, min_face_px), regions)

    def detect_at(self, image: Image, scale: float) -> FaceDetections:
        """Faces in ``image`` detected on a copy shrunk by ``scale`` (at most 1), in ``image``'s
        coordinates: a photo whose faces are known to be large needs few pixels."""
        self.load()
        assert self._detector is not None
        return self._detector.predict(image, min(1.0, scale))

    def refine(self, image: Image, detections: FaceDetections, face_px: float) -> FaceDetections:
        """The first face of ``detections`` (found on a small copy) detected again in its own region
        with the face at about ``face_px``, for landmarks as good as a full-size detection gives; the
        coarse detection itself if the region shows no face."""
        self.load()
        assert self._detector is not None
        if len(detections) == 0:
            return detections
        found = self._detector.predict_around(image, detections.boxes[0], face_px, REFINE_MARGIN)
        return found if len(found) else detections.filter(np.array([0], dtype=np.intp))

    def confirm(self, image: Image, detections: FaceDetections, face_px: float) -> FaceDetections:
        """The faces of ``detections`` (found on a small copy) that are found again in their own region
        at about ``face_px`` (as ``refine`` measures one), overlapping where they were seen: a small
        copy can show a face that is not there."""
        self.load()
        assert self._detector is not None
        kept = []
        for i, box in enumerate(detections.boxes):
            found = self._detector.predict_around(image, box, face_px, REFINE_MARGIN)
            if len(found) and float(box_iou(found.boxes, box).max()) >= CONFIRM_IOU:
                kept.append(i)
        return detections.filter(np.array(kept, dtype=np.intp))

    def _scale(self, image: Image, min_face_px: float) -> float:
        height, width = image.shape[:2]
        return detection_scale(width, height, min_face_px, self._settings.recognition.detect_max_side)

    def embed(self, image: Image, detections: FaceDetections) -> npt.NDArray[np.float32]:
        """(N, 128) L2-normalised embeddings of the detected faces, in detection order."""
        self.load()
        assert self._embedder is not None
        if len(detections) == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        faces = [align_face(image, points) for points in detections.landmarks]
        return self._embedder.predict(faces)

    def analyse(self, image: Image) -> tuple[FaceDetections, npt.NDArray[np.float32]]:
        detections = self.detect(image)
        return detections, self.embed(image, detections)
