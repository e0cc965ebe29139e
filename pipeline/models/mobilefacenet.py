"""MobileFaceNet (foamliu, ArcFace loss) 128-d face embedder, run by an inference engine.

Input: faces already aligned to the 112x112 ArcFace template. The graph's batch is fixed at 1 (its last
Reshape is hard-wired to [1, -1] too), so faces are run one by one: a graph edited to a free batch gives
bit-identical outputs but saved only 1-3.5 % CPU per face here, not worth the `onnx` package at run time.
Outputs are L2-normalised so the dot product is the cosine similarity. With ``flip_tta`` a face's embedding
is the normalised sum of the embeddings of the face and of its mirror image (test-time augmentation).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.align import ALIGNED_SIZE
from pipeline.models.engine import Engine, EngineSpec, choose, open_engine
from pipeline.types import Image

EMBEDDING_DIM = 128
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(face: Image) -> npt.NDArray[np.float32]:
    """BGR uint8 112x112x3 → RGB, /255, ImageNet mean/std, NCHW with a batch of 1."""
    if face.shape != (ALIGNED_SIZE, ALIGNED_SIZE, 3):
        raise ValueError(f"MobileFaceNet needs aligned 112x112x3 faces, got {face.shape}")
    rgb = face[:, :, ::-1].astype(np.float32) / 255.0
    normalised = (rgb - _MEAN) / _STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)


class MobileFaceNet:
    def __init__(
        self, path: Path, threads: int, flip_tta: bool = False, engine: EngineSpec | None = None
    ) -> None:
        self._path = path
        self._threads = threads
        self._flip_tta = flip_tta
        self._spec = engine or choose()
        self._engine: Engine | None = None
        self._input = "input0"
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._engine is not None:
                return
            engine = open_engine(self._path, self._threads, self._spec)
            self._input = engine.inputs[0]
            engine.run({self._input: np.zeros((1, 3, ALIGNED_SIZE, ALIGNED_SIZE), np.float32)})
            self._engine = engine

    @property
    def engine(self) -> EngineSpec:
        return self._spec

    def predict(self, aligned_faces: Sequence[Image] | npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """(N, 128) float32 L2-normalised embeddings, one row per aligned face."""
        self.load()
        out = np.zeros((len(aligned_faces), EMBEDDING_DIM), dtype=np.float32)
        for i, face in enumerate(aligned_faces):
            vector = self._unit_embedding(face)
            if self._flip_tta:
                vector = _normalised(vector + self._unit_embedding(face[:, ::-1]))
            out[i] = vector
        return out

    def _unit_embedding(self, face: Image) -> npt.NDArray[np.float32]:
        assert self._engine is not None
        (raw,) = self._engine.run({self._input: preprocess(face)})[:1]
        return _normalised(np.asarray(raw, dtype=np.float32).reshape(-1))


def _normalised(vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
