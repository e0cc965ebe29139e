"""Plate reading per frame: detect → crop (perspective-corrected) → OCR → formats → one observation per plate.

``PlateModels`` holds the ONNX sessions (verified against the registry, loaded once, safe to share between
threads); a ``PlateReader`` is cheap and meant to be owned by one camera thread. ``read(image)`` returns
every plate big enough to read, readable or not (``text`` is empty when it could not be read), with what a
multi-frame voter needs: text candidates with their shares, per-character confidences, the box, the
corners and an upright evidence crop.

Why not fast-alpr (0.3/0.4, read in its source and ``../shared/MEASURED.md``): its own OCR path takes only
fast-plate-ocr models, fixed-slot classifiers configured by ``max_plate_slots``, ``alphabet`` and
``pad_char`` (local files via ``ocr_model_path``/``ocr_config_path``), and its trained weights are not
obtainable here; its ``detector_model`` argument names a model that open-image-models downloads from a
hub. PP-OCRv4 is a CTC recogniser, which that path cannot load, so both stages would have to be our own
``BaseDetector``/``BaseOCR`` objects anyway, and fast-alpr would add only its loop: an axis-aligned crop
(no perspective correction) and one text with a mean confidence per plate, where the format decoder
(``decide.py``) needs the per-frame character probabilities. The project keeps the same two-stage
design (detector → crop → recogniser) behind its own model interface (``pipeline/models``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pipeline.models.lpd_yunet import LpdYuNet, scale_for
from pipeline.models.plate_ocr import PlateOcr
from pipeline.models.platedet import PlateDet
from pipeline.models.registry import Registry, load_registry, locate_registry, resolve
from pipeline.plate_detections import PlateDetections
from pipeline.plate_settings import LpdYuNetDetector, PlatesSettings
from pipeline.plates import ctc
from pipeline.plates.crop import crop_variants, expand_quad, quad_size, two_line, warp_quad
from pipeline.plates.decide import Combined, DecodeParams, ProbMatrix, TextDecoder
from pipeline.plates.formats import PlateRules
from pipeline.types import Image

DEFAULT_REGISTRY = Path("configs/models.yaml")
_EVIDENCE_PAD = (0.08, 0.2)
_EVIDENCE_HEIGHT = (32, 160)

StageTimes = MutableMapping[str, float]
"""Milliseconds spent per stage (detect, crop, ocr, decode), added to by ``read``."""


class PlateDetector(Protocol):
    def load(self) -> None: ...

    def predict(self, image: Image) -> PlateDetections: ...


@dataclass(frozen=True, slots=True)
class PlateObservation:
    """One plate in one frame.

    ``text`` is canonical (``LEA1234``), empty when unreadable; ``display`` is laid out by its format
    (``LEA-1234``). ``confidence`` is the weakest character's probability averaged over the crop variants
    (0 when unreadable). ``raw_text`` is the OCR's own reading of the main crop, before any format.
    ``candidates`` are (text, share) pairs, best first, for a voter to accumulate over a track (kept
    even when the plate is unreadable: then they are what it might be). ``box`` is ``x, y, w, h`` in
    frame pixels; ``corners`` the detector's quadrilateral (TL, TR, BR, BL) or the box's corners.
    ``crop`` is the upright plate (BGR) for evidence. ``evidence`` holds the OCR's (T, 37) probability
    matrices of the crops the reading came from, so that a voter can weigh every frame's view of each
    character (none when unreadable).
    """

    text: str
    display: str
    country: str | None
    plate_format: str | None
    confidence: float
    char_conf: tuple[float, ...]
    raw_text: str
    candidates: tuple[tuple[str, float], ...]
    agreement: float
    box: tuple[float, float, float, float]
    corners: npt.NDArray[np.float32]
    detector_score: float
    crop: Image
    evidence: tuple[ProbMatrix, ...] = ()

    @property
    def readable(self) -> bool:
        return bool(self.text)


class PlateModels:
    """The configured detector and recogniser, each file verified (size, sha256) against the registry."""

    def __init__(self, settings: PlatesSettings, models_dir: Path, registry: Registry | None = None) -> None:
        self._settings = settings
        self._models_dir = models_dir
        self._registry = registry
        self._detector: PlateDetector | None = None
        self._ocr: PlateOcr | None = None

    def load(self) -> None:
        """Verify and load both models, with warm-up. Idempotent; raises ModelError if a file is unusable."""
        if self._detector is not None and self._ocr is not None:
            return
        registry = self._registry or load_registry(locate_registry(DEFAULT_REGISTRY))
        opts = self._settings
        det = opts.detector
        path = resolve(registry, self._models_dir, det.model)
        detector: PlateDetector
        if isinstance(det, LpdYuNetDetector):
            detector = LpdYuNet(
                path,
                det.score_threshold,
                opts.intra_op_threads,
                scale_for(det.smallest_plate_px),
                det.candidate_factor,
            )
        else:
            detector = PlateDet(path, det.score_threshold, opts.intra_op_threads)
        ocr = PlateOcr(resolve(registry, self._models_dir, opts.ocr_model), opts.intra_op_threads)
        detector.load()
        ocr.load()
        self._detector, self._ocr = detector, ocr

    @property
    def detector(self) -> PlateDetector:
        self.load()
        assert self._detector is not None
        return self._detector

    @property
    def ocr(self) -> PlateOcr:
        self.load()
        assert self._ocr is not None
        return self._ocr


def plate_rules(settings: PlatesSettings) -> PlateRules:
    """The format rules the settings describe (FormatError if a country has no formats)."""
    return PlateRules(
        settings.countries,
        settings.formats,
        free_lengths=(settings.free_min_length, settings.free_max_length),
        format_margin=settings.format_margin,
        foreign_margin=settings.foreign_format_margin,
        correction_penalty=settings.correction_penalty,
    )


@contextmanager
def _timed(times: StageTimes | None, stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        if times is not None:
            times[stage] = times.get(stage, 0.0) + (time.perf_counter() - start) * 1000.0


class PlateReader:
    """Reads the plates in a BGR frame. Build one per camera thread; share ``PlateModels`` between them."""

    def __init__(
        self,
        settings: PlatesSettings,
        models_dir: Path,
        registry: Registry | None = None,
        *,
        models: PlateModels | None = None,
    ) -> None:
        self.settings = settings
        self.models = models or PlateModels(settings, models_dir, registry)
        self.rules = plate_rules(settings)
        self._decoder = TextDecoder(self.rules, DecodeParams())

    def load(self) -> None:
        self.models.load()

    def read(self, image: Image, times: StageTimes | None = None) -> list[PlateObservation]:
        """Every plate large enough to read, best detector score first."""
        with _timed(times, "detect"):
            detections = self.detect(image)
        return self.recognise(image, detections, times)

    def detect(self, image: Image) -> PlateDetections:
        """The detector's plates that pass the size gate, at most ``max_plates``, best score first."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"plate reading needs a BGR uint8 HxWx3 image, got {image.dtype} {image.shape}")
        found = self.models.detector.predict(image).by_score()
        opts = self.settings
        big = (found.boxes[:, 2] >= opts.min_plate_width_px) & (found.boxes[:, 3] >= opts.min_plate_height_px)
        return found.filter(np.flatnonzero(big)[: opts.max_plates].astype(np.intp))

    def recognise(
        self, image: Image, detections: PlateDetections, times: StageTimes | None = None
    ) -> list[PlateObservation]:
        """Read the given plates (e.g. from ``detect``) in ``image``."""
        if len(detections) == 0:
            return []
        opts = self.settings
        quads = detections.quads()
        with _timed(times, "crop"):
            crops = [crop_variants(image, quad, opts.crop_variants) for quad in quads]
            rows = [_two_line_candidate(image, q, opts) for q in quads]
        with _timed(times, "ocr"):
            flat = [c for group in crops for c in group] + [r for r in rows if r is not None]
            probs = self.models.ocr.predict(flat)
        out: list[PlateObservation] = []
        with _timed(times, "decode"):
            extra = len(crops) * opts.crop_variants
            for i, quad in enumerate(quads):
                views = probs[i * opts.crop_variants : (i + 1) * opts.crop_variants]
                combined = self._decoder.combine(views)
                raw = ctc.greedy(views[0]).text if views else ""
                if rows[i] is not None:
                    by_rows = self._decoder.combine([probs[extra]])
                    if _rows_win(combined, by_rows):
                        combined, views = by_rows, [probs[extra]]
                    extra += 1
                out.append(self._observation(image, detections, i, quad, combined, raw, tuple(views)))
        return out

    def _observation(
        self,
        image: Image,
        detections: PlateDetections,
        index: int,
        quad: npt.NDArray[np.float32],
        combined: Combined | None,
        raw_text: str,
        evidence: tuple[ProbMatrix, ...],
    ) -> PlateObservation:
        x, y, w, h = (float(v) for v in detections.boxes[index])
        _, quad_h = quad_size(quad)
        height = int(np.clip(round(quad_h * (1 + 2 * _EVIDENCE_PAD[1])), *_EVIDENCE_HEIGHT))
        crop = warp_quad(image, expand_quad(quad, *_EVIDENCE_PAD), height)
        score = float(detections.scores[index])
        if combined is None or combined.confidence < self.settings.ocr_min_confidence:
            # Unreadable: no text, but what it might be (if anything) is kept for a voter to weigh.
            candidates = () if combined is None else combined.candidates
            return PlateObservation(
                "",
                "",
                None,
                None,
                0.0,
                (),
                raw_text,
                candidates,
                0.0,
                (x, y, w, h),
                quad.copy(),
                score,
                crop,
                (),
            )
        best = combined.best
        return PlateObservation(
            text=best.text,
            display=best.plate.display,
            country=best.plate.country,
            plate_format=best.plate.format,
            confidence=combined.confidence,
            char_conf=best.char_conf,
            raw_text=raw_text,
            candidates=combined.candidates,
            agreement=combined.agreement,
            box=(x, y, w, h),
            corners=quad.copy(),
            detector_score=score,
            crop=crop,
            evidence=evidence,
        )


def _two_line_candidate(image: Image, quad: npt.NDArray[np.float32], opts: PlatesSettings) -> Image | None:
    if not opts.two_line:
        return None
    width, height = quad_size(quad)
    if width >= opts.two_line_max_aspect * max(height, 1.0):
        return None
    return two_line(image, quad)


def _rows_win(single: Combined | None, rows: Combined | None) -> bool:
    """The two-row reading replaces the one-line reading only when it is more confident."""
    if rows is None:
        return False
    return single is None or rows.confidence > single.confidence
