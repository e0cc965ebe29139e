"""Settings of plate reading (``plates:`` in the YAML file), included in ``Settings`` as ``Settings.plates``.

Kept apart from ``settings.py`` so the noun stays small, and free of model imports: format patterns are
checked for syntax here, country codes against the built-in formats and those in ``formats``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.plates.formats import DEFAULT_FORMATS, FREE_LENGTHS
from pipeline.settings.base import Strict

_PATTERN = re.compile(r"^(?:[LDA]\??|[- ])+$")
_COUNTRY = re.compile(r"^[a-z]{2,8}$")


def check_country_codes(value: list[str]) -> list[str]:
    """``value`` if it is a list of distinct lower-case country codes; ValueError otherwise."""
    bad = [c for c in value if not _COUNTRY.match(c)]
    if bad or len(set(value)) != len(value):
        raise ValueError(f"countries must be distinct lower-case codes, got {value}")
    return value


class LpdYuNetDetector(Strict):
    type: Literal["lpd_yunet"] = Field(
        "lpd_yunet", description="OpenCV Zoo LPD-YuNet (Apache-2.0): four corners per plate; the default."
    )
    model: str = Field("lpd_yunet", description="Registry name of the ONNX file.")
    score_threshold: float = Field(
        0.3,
        ge=0.05,
        le=0.99,
        description="Smallest plate score. Trained on Chinese plates; 0.3 suits other countries (the "
        "OpenCV Zoo default 0.8-0.9 misses most of them).",
    )
    smallest_plate_px: float = Field(
        44.0,
        ge=12.0,
        le=2000.0,
        description="Narrowest plate (frame pixels) the detector must find. The frame is shrunk so that "
        "such a plate is still 24 px wide in the detector's input, where it finds plates reliably: the "
        "default 44 looks at 0.55 of the size (0.3 of the pixels and of the cost); a gantry camera whose "
        "plates are at least 120 px wide can say so and look at a fifth. On the benchmark photos (plates "
        "50-560 px wide) recall at IoU 0.5 is 0.992 at 40, 0.988 at 44 (as with the former whole view "
        "and seven tiles at half size, at 2.5 times the cost), 0.984 at 48, 0.972 at 60.",
    )
    candidate_factor: float = Field(
        0.3,
        ge=0.05,
        le=1.0,
        description="The shrunk frame's candidates are taken at this fraction of score_threshold; each is "
        "then looked at closely and kept if it reaches the threshold there. Lower finds more small "
        "plates at one more close look per candidate (recall 0.984 at 0.6, 0.988 at 0.3).",
    )

    coarse_model: str | None = Field(
        None,
        description="Registry name of the file that runs the shrunk first look (e.g. lpd_yunet_qdq, the "
        "int8 one made by scripts/quantize_lpd_yunet.py); the close look that confirms, places and scores "
        "every candidate keeps ``model``. None: ``model`` for both.",
    )

    large_plate_px: float | None = Field(
        120.0,
        ge=12.0,
        le=2000.0,
        description="A frame (or moving region) where the detector finds no plate is looked at once more, "
        "shrunk so that a plate this wide is 24 px in its input, without the close look. The network was "
        "trained on plates small in the frame and misses plates wider than about 150 px of its input "
        "(a close camera, a photo): on the benchmark photos three plates 250-330 px wide that the first "
        "look missed are found there. It costs a seventh of the first look, on frames without a plate "
        "only. None: no second look.",
    )


class PlateDetDetector(Strict):
    type: Literal["platedet"] = Field(
        description="platedet YOLOv8s-seg. AGPL-3.0 weights: optional, clear the licence before any "
        "distribution."
    )
    model: str = Field("platedet", description="Registry name of the ONNX file.")
    score_threshold: float = Field(0.4, ge=0.05, le=0.99, description="Smallest plate score.")


PlateDetectorSettings = Annotated[LpdYuNetDetector | PlateDetDetector, Field(discriminator="type")]


class PlateMotionSettings(Strict):
    """Motion gating before plate detection (``pipeline/plates/motion.py``)."""

    enabled: bool = Field(
        True,
        description="Detect plates only on frames where the picture changed since the frame last looked "
        "at, and only where it changed; the tracker keeps its tracks meanwhile.",
    )
    keepalive_s: float = Field(
        1.0,
        ge=0.04,
        le=10.0,
        description="The whole frame is looked at again at least this often, whatever moved.",
    )
    pixel_threshold: int = Field(
        12,
        ge=1,
        le=128,
        description="Grey levels (0-255) by which a sample of a small, smoothed copy of the frame must "
        "differ to count as changed (compression noise stays below about 6).",
    )
    min_changed: float = Field(
        0.002,
        ge=0.0,
        le=0.5,
        description="Share of the samples that must change for the frame to count as moving (0.002 of "
        "160x90 is about 29 samples: a car's plate area at a distance, not a flicker).",
    )
    margin: float = Field(
        0.06,
        ge=0.0,
        le=0.5,
        description="Changed areas are grown by this share of the frame's width on every side before "
        "the detector looks at them, so that a plate on a moving vehicle is inside with some context.",
    )
    whole_frame_above: float = Field(
        0.5,
        ge=0.05,
        le=1.0,
        description="When the changed areas cover this share of the frame, the whole frame is looked at "
        "(a moving camera, a change of light).",
    )


class PlatesSettings(Strict):
    detector: PlateDetectorSettings = Field(
        default_factory=LpdYuNetDetector, description="Plate detector backend (by its 'type')."
    )
    ocr_model: str = Field(
        "ppocr_v6_rec",
        description="Registry name of the text recogniser: PP-OCRv6 small (0.876 exact on the benchmark "
        "photos) or ppocr_rec, PP-OCRv4 (0.851), at the same cost.",
    )
    ocr_second_model: str | None = Field(
        "ppocr_rec",
        description="Registry name of a second recogniser asked about the plates the first does not read "
        "surely from the base crop (ocr_settle_confidence): it reads the same crops, and the plate is "
        "decided on both models' views. PP-OCRv4 by default, trained apart from PP-OCRv6 and wrong on "
        "other plates. On the benchmark photos +0.012 exact with the region declared and region-free, "
        "at about 20 ms more OCR CPU per photo (a sixth of the plates ask). None: one model.",
    )
    motion: PlateMotionSettings = Field(
        default_factory=PlateMotionSettings, description="Motion gating before plate detection (video)."
    )
    countries: list[str] = Field(
        default_factory=list,
        description="Countries whose plates the cameras expect, by code (pk, in, br, us, eu or one defined "
        "in 'formats'; the first is named when two share a format); a camera may declare its own "
        "(cameras[].plate_countries). "
        "Empty, the default: region-free, every known format weighs the same. Either way a plate that fits "
        "no format is still read, as the OCR sees it: formats only re-rank readings (see format_margin).",
    )
    formats: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Formats per country replacing (or adding to) the built-in ones. A format is a "
        "pattern of L (letter), D (digit), A (either), '?' after one for optional, '-' or space where "
        "the display form puts a separator: e.g. pk: ['LLL-DDDD', 'LLL-DDD'].",
    )
    free_min_length: int = Field(
        FREE_LENGTHS[0],
        ge=2,
        le=12,
        description="Shortest plate read when it fits no format (shorter strings are mostly model badges "
        "and clock overlays); shorter plates are read where a format says so.",
    )
    free_max_length: int = Field(
        FREE_LENGTHS[1],
        ge=2,
        le=12,
        description="Longest plate read when it fits no format (longer strings are mostly slogans and state "
        "names); formats may be longer (India's ten characters).",
    )
    min_plate_width_px: int = Field(
        32, ge=8, le=2000, description="Plates narrower than this (in frame pixels) are not read."
    )
    min_plate_height_px: int = Field(
        10, ge=4, le=1000, description="Plates lower than this (in frame pixels) are not read."
    )
    max_plates: int = Field(8, ge=1, le=64, description="At most this many plates (best scores) per frame.")
    ocr_min_confidence: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Readings whose weakest character (averaged over crop variants) is less likely than "
        "this are reported unreadable (empty text).",
    )
    crop_variants: int = Field(
        4,
        ge=1,
        le=4,
        description="Crops read per plate and combined: base, full height, stretched, grey. On the "
        "benchmark photos (LPD-YuNet, PP-OCRv4) 1 gives 0.80 exact, 4 gives 0.85; each costs one more "
        "OCR pass (about 12 ms on 2 cores) per plate.",
    )
    ocr_settle_confidence: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="A plate whose base crop reads with its weakest character this likely is decided on "
        "that crop: the other crops are read only for the rest (1.0 reads every crop of every plate). "
        "On the benchmark photos 0.8 gives the same exact reads as reading all four crops of every plate.",
    )
    settled_reads: int = Field(
        5,
        ge=1,
        le=1000,
        description="In video, a vehicle's plate is not read again once this many of its frames read the "
        "same text at ocr_settle_confidence or more (the detector still follows it, without a close look "
        "where it already was): at 25 fps, 0.2 s of frames. A plate that stays doubtful is read in every "
        "frame, as it comes closer.",
    )
    two_line: bool = Field(
        True, description="Also try plates squarer than two_line_max_aspect as two rows of text."
    )
    two_line_max_aspect: float = Field(
        1.8, ge=1.0, le=3.0, description="Width/height below which a plate may have two rows."
    )
    correction_penalty: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="Share of a confusable symbol's probability a format lends to its counterpart where "
        "plate fonts draw the two alike (0 → O in a letter slot, O → 0 and I → 1 in a digit slot).",
    )
    distinct_correction_penalty: float = Field(
        0.01,
        gt=0.0,
        le=1.0,
        description="The same for look-alikes that a sharp plate tells apart (8/B, 5/S, 2/Z, 6/G, 7/T, "
        "4/A, D/0): a format overrules the OCR on those only where the OCR itself is unsure; below "
        "format_margin, so that a format's bonus alone never pays for one confident such correction "
        "and a plate that fits no format (DD4C591) is not bent into one (0DAC591).",
    )
    format_margin: float = Field(
        0.03,
        gt=0.0,
        le=1.0,
        description="A reading that fits a format of a declared country (of any known country when none is "
        "declared) wins over one that fits no format when at least this fraction as likely.",
    )
    foreign_format_margin: float = Field(
        0.2,
        gt=0.0,
        le=1.0,
        description="The same for formats of the known countries a camera does not declare: a weaker pull, "
        "so that a visiting plate is read by its own format without bending local plates into it.",
    )
    intra_op_threads: int = Field(1, ge=1, le=64, description="onnxruntime threads per session.")

    @field_validator("countries")
    @classmethod
    def _country_codes(cls, value: list[str]) -> list[str]:
        return check_country_codes(value)

    @field_validator("formats")
    @classmethod
    def _patterns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for country, patterns in value.items():
            if not _COUNTRY.match(country) or not patterns:
                raise ValueError(f"formats[{country!r}]: a lower-case country code with at least one pattern")
            for pattern in patterns:
                if not _PATTERN.match(pattern.strip()) or not re.search("[LDA]", pattern):
                    raise ValueError(
                        f"formats[{country!r}]: {pattern!r} is not a pattern of L, D, A, '?', '-' and spaces"
                    )
        return value

    @model_validator(mode="after")
    def _known_countries(self) -> PlatesSettings:
        self.check_known(self.countries)
        if self.free_min_length > self.free_max_length:
            raise ValueError("free_min_length must not exceed free_max_length")
        return self

    def check_known(self, countries: list[str]) -> None:
        """ValueError naming any of ``countries`` that has no formats, built-in or in ``formats``."""
        known = {*DEFAULT_FORMATS, *self.formats}
        unknown = [c for c in countries if c not in known]
        if unknown:
            raise ValueError(f"no plate formats for {', '.join(unknown)}; known: {', '.join(sorted(known))}")

    def for_camera(self, countries: list[str] | None) -> PlatesSettings:
        """These settings as a camera sees them: its own declared countries, when it has any."""
        if countries is None or countries == self.countries:
            return self
        self.check_known(countries)
        return self.model_copy(update={"countries": list(countries)})
