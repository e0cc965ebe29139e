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
hub. PP-OCR is a CTC recogniser, which that path cannot load, so both stages would have to be our own
``BaseDetector``/``BaseOCR`` objects anyway, and fast-alpr would add only its loop: an axis-aligned crop
(no perspective correction) and one text with a mean confidence per plate, where the format decoder
(``decide.py``) needs the per-frame character probabilities. The project keeps the same two-stage
design (detector → crop → recogniser) behind its own model interface (``pipeline/models``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pipeline.models.engine import EngineSpec, engine_for
from pipeline.models.lpd_yunet import LpdYuNet, scale_for
from pipeline.models.plate_ocr import PlateOcr
from pipeline.models.platedet import PlateDet
from pipeline.models.registry import ModelError, Registry, load_registry, locate_registry, resolve
from pipeline.plate_detections import PlateDetections
from pipeline.plates import ctc
from pipeline.plates.crop import crop_variants, expand_quad, quad_size, two_line, warp_quad
from pipeline.plates.decide import Combined, DecodeParams, ProbMatrix, TextDecoder
from pipeline.plates.formats import PlateRules
from pipeline.settings.models import ModelsSettings
from pipeline.settings.plates import LpdYuNetDetector, PlatesSettings
from pipeline.types import Image

_log = logging.getLogger(__name__)
DEFAULT_REGISTRY = Path("configs/models.yaml")
_EVIDENCE_PAD = (0.08, 0.2)
_EVIDENCE_HEIGHT = (32, 160)
_FIRST_VARIANTS = 1
"""Crop variants read for every plate (the base crop); the others only for plates it does not read surely
enough (``ocr_settle_confidence``). On the benchmark photos one gives the same exact reads as two (0.851)
at 0.77 OCR runs fewer per photo."""

Region = tuple[int, int, int, int]  # x, y, w, h in frame pixels
Box = tuple[float, float, float, float]  # x, y, w, h
StageTimes = MutableMapping[str, float]
"""Milliseconds spent per stage (detect, crop, ocr, decode), added to by ``read``: wall time under the
stage's name, the calling thread's CPU time under ``<stage>_cpu`` (what a loaded machine disturbs least;
onnxruntime runs on the calling thread at one intra-op thread)."""


class PlateDetector(Protocol):
    def load(self) -> None: ...

    @property
    def engine(self) -> EngineSpec: ...

    def predict(
        self, image: Image, regions: Sequence[Region] | None = None, known: Sequence[Box] = ()
    ) -> PlateDetections:
        """Plates in the whole image, or only in ``regions`` (x, y, w, h); ``known`` plates (x, y, w, h)
        are being followed already and need no second look to be believed."""
        ...


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

    def __init__(
        self,
        settings: PlatesSettings,
        models_dir: Path,
        registry: Registry | None = None,
        engines: ModelsSettings | None = None,
    ) -> None:
        self._settings = settings
        self._models_dir = models_dir
        self._registry = registry
        self._engines = engines or ModelsSettings()
        self._detector: PlateDetector | None = None
        self._large: PlateDetector | None = None
        self._ocr: PlateOcr | None = None
        self._second: PlateOcr | None = None

    def load(self) -> None:
        """Verify and load both models, with warm-up. Idempotent; raises ModelError if a file is unusable."""
        if self._detector is not None and self._ocr is not None:
            return
        registry = self._registry or load_registry(locate_registry(DEFAULT_REGISTRY))
        opts = self._settings
        det = opts.detector
        path = resolve(registry, self._models_dir, det.model)
        detector: PlateDetector
        large: PlateDetector | None = None
        if isinstance(det, LpdYuNetDetector):
            detector = LpdYuNet(
                path,
                det.score_threshold,
                opts.intra_op_threads,
                scale_for(det.smallest_plate_px),
                det.candidate_factor,
                engine=engine_for(self._engines, det.model),
                coarse_path=self._optional(registry, det.coarse_model, "plates.detector.coarse_model"),
            )
            if det.large_plate_px is not None:
                # No close look: it would show the plate as large as the first look did.
                scale = scale_for(det.large_plate_px)
                large = LpdYuNet(
                    path,
                    det.score_threshold,
                    opts.intra_op_threads,
                    scale,
                    refine=False,
                    engine=engine_for(self._engines, det.model),
                )
        else:
            detector = PlateDet(
                path, det.score_threshold, opts.intra_op_threads, engine_for(self._engines, det.model)
            )
        ocr = PlateOcr(
            resolve(registry, self._models_dir, opts.ocr_model),
            opts.intra_op_threads,
            engine_for(self._engines, opts.ocr_model),
        )
        second = self._second_opinion(registry)
        for model in (detector, large, ocr, second):
            if model is not None:
                model.load()
        self._detector, self._large, self._ocr, self._second = detector, large, ocr, second

    def _second_opinion(self, registry: Registry) -> PlateOcr | None:
        """The second recogniser, or None when there is none or its file is not usable (pulled apart from
        the first, which ships in a wheel: plates are then read by one model, and the log says so)."""
        name = self._settings.ocr_second_model
        path = self._optional(registry, name, "plates.ocr_second_model")
        if name is None or path is None:
            return None
        return PlateOcr(path, self._settings.intra_op_threads, engine_for(self._engines, name))

    def _optional(self, registry: Registry, name: str | None, setting: str) -> Path | None:
        """The file of an optional model, or None when none is set or its file is not usable (logged:
        the reader then does without it)."""
        if name is None:
            return None
        try:
            return resolve(registry, self._models_dir, name)
        except ModelError as exc:
            _log.warning("%s: %s; reading without it", setting, exc)
            return None

    @property
    def detector(self) -> PlateDetector:
        self.load()
        assert self._detector is not None
        return self._detector

    @property
    def large(self) -> PlateDetector | None:
        """The second look for plates too large for the first (``detector.large_plate_px``), if any."""
        self.load()
        return self._large

    @property
    def ocr(self) -> PlateOcr:
        self.load()
        assert self._ocr is not None
        return self._ocr

    @property
    def second(self) -> PlateOcr | None:
        """The recogniser asked for a second opinion on unsure plates (``ocr_second_model``), if any."""
        self.load()
        return self._second


def plate_rules(settings: PlatesSettings) -> PlateRules:
    """The format rules the settings describe (FormatError if a country has no formats)."""
    return PlateRules(
        settings.countries,
        settings.formats,
        free_lengths=(settings.free_min_length, settings.free_max_length),
        format_margin=settings.format_margin,
        foreign_margin=settings.foreign_format_margin,
        correction_penalty=settings.correction_penalty,
        distinct_penalty=settings.distinct_correction_penalty,
    )


@contextmanager
def _timed(times: StageTimes | None, stage: str) -> Iterator[None]:
    start, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        if times is not None:
            times[stage] = times.get(stage, 0.0) + (time.perf_counter() - start) * 1000.0
            cpu_key = f"{stage}_cpu"
            times[cpu_key] = times.get(cpu_key, 0.0) + (time.thread_time() - cpu) * 1000.0


class PlateReader:
    """Reads the plates in a BGR frame. Build one per camera thread; share ``PlateModels`` between them."""

    def __init__(
        self,
        settings: PlatesSettings,
        models_dir: Path,
        registry: Registry | None = None,
        *,
        models: PlateModels | None = None,
        engines: ModelsSettings | None = None,
    ) -> None:
        self.settings = settings
        self.models = models or PlateModels(settings, models_dir, registry, engines)
        self.rules = plate_rules(settings)
        self._decoder = TextDecoder(self.rules, DecodeParams())

    def load(self) -> None:
        self.models.load()

    def read(
        self, image: Image, times: StageTimes | None = None, *, regions: Sequence[Region] | None = None
    ) -> list[PlateObservation]:
        """Every plate large enough to read (in ``regions`` only, if given), best detector score first."""
        with _timed(times, "detect"):
            detections = self.detect(image, regions)
        return self.recognise(image, detections, times)

    def detect(
        self, image: Image, regions: Sequence[Region] | None = None, *, known: Sequence[Box] = ()
    ) -> PlateDetections:
        """The detector's plates that pass the size gate, at most ``max_plates``, best score first; in
        ``regions`` (x, y, w, h frame pixels) only, if given; ``known``: plates followed already."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"plate reading needs a BGR uint8 HxWx3 image, got {image.dtype} {image.shape}")
        opts = self.settings
        found = self.models.detector.predict(image, regions, known).by_score()
        large = self.models.large if getattr(opts.detector, "large_plate_px", None) else None
        if not len(found) and large is not None:
            found = large.predict(image, regions, known).by_score()
        big = (found.boxes[:, 2] >= opts.min_plate_width_px) & (found.boxes[:, 3] >= opts.min_plate_height_px)
        return found.filter(np.flatnonzero(big)[: opts.max_plates].astype(np.intp))

    def recognise(
        self, image: Image, detections: PlateDetections, times: StageTimes | None = None
    ) -> list[PlateObservation]:
        """Read the given plates (e.g. from ``detect``) in ``image``.

        The OCR runs in two batches for all the frame's plates: first the base crops; then, only for
        plates not read confidently from it (``ocr_settle_confidence``), the other crop variants and the
        two-row layout, and the plate is decided on all of them.
        """
        if len(detections) == 0:
            return []
        opts = self.settings
        quads = detections.quads()
        first = min(opts.crop_variants, _FIRST_VARIANTS)
        with _timed(times, "crop"):
            crops = [crop_variants(image, quad, opts.crop_variants) for quad in quads]
        with _timed(times, "ocr"):
            flat = self.models.ocr.predict([c for group in crops for c in group[:first]])
        views = [flat[i * first : (i + 1) * first] for i in range(len(quads))]
        with _timed(times, "decode"):
            combined = [self._decoder.combine(v) for v in views]
            raws = [ctc.greedy(v[0]).text for v in views]  # the OCR's own reading of the base crop
            unsettled = [i for i, c in enumerate(combined) if not self._settled(c)]
        if unsettled:
            self._read_further(image, quads, crops, first, unsettled, views, combined, times)
        with _timed(times, "decode"):
            return [
                self._observation(image, detections, i, quad, combined[i], raws[i], tuple(views[i]))
                for i, quad in enumerate(quads)
            ]

    def _settled(self, combined: Combined | None) -> bool:
        """Whether a plate's first crops (the base crop) read it confidently enough that the others
        would not change it (when several, each must nominate the reading)."""
        threshold = self.settings.ocr_settle_confidence
        return combined is not None and combined.agreement == 1.0 and combined.confidence >= threshold

    def _read_further(
        self,
        image: Image,
        quads: npt.NDArray[np.float32],
        crops: list[list[Image]],
        first: int,
        unsettled: list[int],
        views: list[list[ProbMatrix]],
        combined: list[Combined | None],
        times: StageTimes | None,
    ) -> None:
        """The crop variants not read yet (and two rows, for square plates) of the unsettled plates, read
        in one batch, and every crop of theirs by the second recogniser if there is one; each of those
        plates is decided again on all its views (in place)."""
        with _timed(times, "crop"):
            rows = {
                i: r
                for i in unsettled
                if (r := _two_line_candidate(image, quads[i], self.settings)) is not None
            }
        more = [c for i in unsettled for c in crops[i][first:]]
        second = self.models.second if self.settings.ocr_second_model else None
        with _timed(times, "ocr"):
            probs = self.models.ocr.predict(more + list(rows.values()))
            opinions = second.predict([c for i in unsettled for c in crops[i]]) if second else []
        with _timed(times, "decode"):
            at, seconds = 0, iter(opinions)
            row_probs = dict(zip(rows, probs[len(more) :], strict=True))
            for i in unsettled:
                extra = len(crops[i]) - first
                views[i] = views[i] + probs[at : at + extra]
                views[i] += [next(seconds) for _ in crops[i]] if second else []
                at += extra
                if len(views[i]) > first:
                    combined[i] = self._decoder.combine(views[i])
                if i in row_probs:
                    by_rows = self._decoder.combine([row_probs[i]])
                    if _rows_win(combined[i], by_rows):
                        combined[i], views[i] = by_rows, [row_probs[i]]

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
