"""PP-OCR text-line recognisers (PaddleOCR, RapidOCR's ONNX exports) as plate OCR: v6 small or v4.

The network scores thousands of classes (6625 for v4, 18710 for v6; mostly Chinese) per time step. For
plates only the blank, A-Z and 0-9 matter: ``predict`` returns, per crop, a (T, 37) matrix of probabilities
over ``PLATE_ALPHABET`` (column 0 is the CTC blank). Lower-case letters are added to their upper-case class,
separators (space, '-', '.', '·') to the blank, and every other class is dropped before renormalising, so a
Chinese look-alike can no longer win a step that is really a Latin letter."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.models.engine import Engine, EngineSpec, choose, open_engine
from pipeline.plates.alphabet import BLANK, PLATE_ALPHABET
from pipeline.types import Image

INPUT_H = 48
MIN_W = 160  # PaddleOCR pads to 320; on plates the results are identical and OCR is faster
MAX_W = 960
_BATCH_SPREAD = 1.15
OPENVINO_WIDTH_ALIGN = 32
_SEPARATORS = frozenset(" -.·•_:")

ProbMatrix = npt.NDArray[np.float32]


def charset_from_metadata(character: str) -> list[str]:
    """The model's class table: blank, then the metadata's characters, then a space."""
    return ["<blank>", *character.splitlines(), " "]


def projection(charset: Sequence[str]) -> npt.NDArray[np.intp]:
    """For each model class, the plate-alphabet column it is added to, or -1 to drop it."""
    index = {c: i for i, c in enumerate(PLATE_ALPHABET)}
    out = np.full(len(charset), -1, dtype=np.intp)
    out[0] = 0
    for k, char in enumerate(charset[1:], start=1):
        if char in _SEPARATORS:
            out[k] = 0
        elif char.upper() in index and char.upper() != BLANK:
            out[k] = index[char.upper()]
    return out


def preprocess(crops: Sequence[Image], align: int = 1) -> npt.NDArray[np.float32]:
    """BGR crops → (N, 3, 48, W) float32 in [-1, 1], each resized to height 48 and right-padded with 0;
    W is a multiple of ``align``."""
    widths = [min(MAX_W, max(1, math.ceil(INPUT_H * c.shape[1] / max(1, c.shape[0])))) for c in crops]
    batch_w = -(-max(MIN_W, *widths) // align) * align
    batch = np.zeros((len(crops), 3, INPUT_H, batch_w), dtype=np.float32)
    for i, (crop, width) in enumerate(zip(crops, widths, strict=True)):
        resized = cv2.resize(crop, (width, INPUT_H), interpolation=cv2.INTER_LINEAR)
        batch[i, :, :, :width] = (resized.astype(np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return batch


def restrict(probs: npt.NDArray[np.float32], proj: npt.NDArray[np.intp]) -> ProbMatrix:
    """(T, C) model probabilities → (T, 37) plate-alphabet probabilities, renormalised per step."""
    keep = proj >= 0
    out = np.zeros((probs.shape[0], len(PLATE_ALPHABET)), dtype=np.float32)
    np.add.at(out.T, proj[keep], probs[:, keep].T)
    total = out.sum(axis=1, keepdims=True)
    return np.asarray(out / np.maximum(total, 1e-12), dtype=np.float32)


class PlateOcr:
    """Lazy, idempotent ``load()``; ``predict(crops)`` → one (T, 37) probability matrix per crop."""

    def __init__(self, path: Path, threads: int, engine: EngineSpec | None = None) -> None:
        self._path = path
        self._threads = threads
        self._spec = engine or choose()
        # OpenVINO prepares a graph for each new input width: at the crops' own widths it costs more than
        # onnxruntime, padded to a multiple of 32 (a few widths, compiled statically) 2-3 times less.
        self._align = OPENVINO_WIDTH_ALIGN if self._spec.engine == "openvino" else 1
        self._engine: Engine | None = None
        self._proj = np.zeros(0, dtype=np.intp)
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._engine is not None:
                return
            engine = open_engine(self._path, self._threads, self._spec)
            character = engine.metadata("character")
            if character is None:
                raise ValueError(f"{self._path.name} has no 'character' table in its metadata")
            self._proj = projection(charset_from_metadata(character))
            engine.run({"x": np.zeros((1, 3, INPUT_H, MIN_W), np.float32)})
            self._engine = engine

    @property
    def engine(self) -> EngineSpec:
        return self._spec

    def predict(self, crops: Sequence[Image]) -> list[ProbMatrix]:
        """One matrix per crop, in order. Crops of similar width run as one batch; padding a narrow crop
        to a wide one's width would cost more than running it alone."""
        if not crops:
            return []
        self.load()
        assert self._engine is not None
        widths = [_input_width(c) for c in crops]
        out: list[ProbMatrix | None] = [None] * len(crops)
        for group in _width_groups(widths):
            (raw,) = self._engine.run({"x": preprocess([crops[i] for i in group], self._align)})
            probs = np.asarray(raw, dtype=np.float32)
            if probs.shape[-1] != len(self._proj):
                raise ValueError(f"OCR output has {probs.shape[-1]} classes, the table {len(self._proj)}")
            for i, p in zip(group, probs, strict=True):
                out[i] = restrict(p, self._proj)
        return [p for p in out if p is not None]


def _input_width(crop: Image) -> int:
    return max(MIN_W, min(MAX_W, math.ceil(INPUT_H * int(crop.shape[1]) / max(1, int(crop.shape[0])))))


def _width_groups(widths: Sequence[int]) -> list[list[int]]:
    """Indices grouped so that no group's widest input is more than ``_BATCH_SPREAD`` times its narrowest."""
    groups: list[list[int]] = []
    for i in sorted(range(len(widths)), key=lambda k: widths[k]):
        if groups and widths[i] <= widths[groups[-1][0]] * _BATCH_SPREAD:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups
