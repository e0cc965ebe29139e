"""Plate reading accuracy and speed on the labelled benchmark photos (../shared/media/plates/labels.csv).

Every photo is read twice from the same detections: with the region's own countries declared (a camera
that knows where it is; ``--countries`` to declare others) and region-free (the default settings: no
country declared, every known format weighing the same). Per region: detector recall (IoU >= 0.5 with the
labelled box), and exact plate text, strict and with O/0, I/1, Q/0 folded (the US labels write 0
wherever the font is ambiguous; some EU labels use O in digit positions). A plate counts as read when the
reader's plate that overlaps the labelled box most (IoU >= 0.3) has exactly the labelled text. Speed is
that of the region-free reading (``exact``), with ``--threads`` photos read at once as a worker reads its
cameras (one reader each, the models shared, one onnxruntime thread per session unless
``--intra-op-threads``): ``frames_per_s`` is photos over wall time, ``cpu_ms_per_frame`` the process's CPU
time per photo and ``frames_per_cpu_s`` its inverse, which a loaded machine disturbs least (a machine's
capacity is about its cores times that); ``stage_cpu_ms`` the reading thread's CPU time per photo in each
stage (mean). Prints figures (``--json``: one JSON object); asserts nothing.

    python bench/plates_accuracy.py [--json] [--threads T] [--detector lpd_yunet|platedet] [--limit N]
                                    [--ocr-model ppocr_v6_rec|ppocr_rec] [--show-misses]
                                    [--engine auto|onnxruntime|openvino] [--precision auto|f32|bf16]
                                    [--coarse-model lpd_yunet_qdq]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.plate_detections import PlateDetections
from pipeline.plates.reader import PlateModels, PlateObservation, PlateReader
from pipeline.settings.models import ModelsSettings
from pipeline.settings.plates import LpdYuNetDetector, PlateDetDetector, PlatesSettings
from pipeline.types import Image

SHARED = Path(__file__).resolve().parents[2] / "shared"
REGION_COUNTRIES = {"us": ["us"], "eu": ["eu"], "br": ["br"]}
MODES = ("regions_given", "region_free")
_FOLD = str.maketrans({"O": "0", "I": "1", "Q": "0"})


@dataclass
class Tally:
    images: int = 0
    detected: int = 0
    strict: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODES, 0))
    folded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODES, 0))
    misses: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {"images": self.images, "detector_recall": self.detected / self.images}
        for mode in MODES:
            out[f"exact_{mode}"] = self.strict[mode] / self.images
            out[f"folded_{mode}"] = self.folded[mode] / self.images
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


@dataclass
class Timings:
    stage_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stage_cpu_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    frame_ms: list[float] = field(default_factory=list)
    per_plate_ms: list[float] = field(default_factory=list)
    plates: int = 0
    threads: int = 1
    wall_s: float = 0.0  # all photos, read by ``threads`` threads at once
    cpu_s: float = 0.0  # the process's CPU time meanwhile


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def matching(observations: list[PlateObservation], truth: tuple[float, ...]) -> tuple[float, str]:
    """The best IoU with the labelled box, and the text of the plate that has it."""
    best, text = 0.0, ""
    for obs in observations:
        overlap = iou(obs.box, truth)
        if overlap > best:
            best, text = overlap, obs.text
    return best, text


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--detector", choices=["lpd_yunet", "platedet"], default="lpd_yunet")
    parser.add_argument("--variants", type=int, default=4, help="crop variants read per plate (1-4)")
    parser.add_argument(
        "--ocr-model", help="plates.ocr_model, a registry name (default: the setting's default)"
    )
    parser.add_argument(
        "--settle", type=float, help="plates.ocr_settle_confidence (default: the setting's default)"
    )
    parser.add_argument(
        "--min-confidence", type=float, help="plates.ocr_min_confidence (default: the setting's default)"
    )
    parser.add_argument(
        "--countries", nargs="*", help="countries declared for every region (default: the region's own)"
    )
    parser.add_argument(
        "--smallest-plate", type=float, help="LPD-YuNet smallest_plate_px (default: the setting's default)"
    )
    parser.add_argument(
        "--candidate-factor", type=float, help="LPD-YuNet candidate_factor (default: the setting's default)"
    )
    parser.add_argument(
        "--coarse-model", help="LPD-YuNet coarse_model, e.g. lpd_yunet_qdq (scripts/quantize_lpd_yunet.py)"
    )
    parser.add_argument("--labels", type=Path, default=SHARED / "media" / "plates" / "labels.csv")
    parser.add_argument(
        "--models-dir", type=Path, default=Path(os.environ.get("SAFECITY_MODELS_DIR", SHARED / "models"))
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="photos read at once, each thread with its own reader"
    )
    parser.add_argument(
        "--intra-op-threads",
        type=int,
        default=1,
        help="onnxruntime threads per session (plates.intra_op_threads)",
    )
    parser.add_argument(
        "--engine",
        choices=["auto", "onnxruntime", "openvino"],
        default="onnxruntime",
        help="models.engine (the shipped default: onnxruntime)",
    )
    parser.add_argument(
        "--precision", choices=["auto", "f32", "bf16"], default="auto", help="models.precision"
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (0: all)")
    parser.add_argument("--show-misses", action="store_true", help="list every wrong read")
    return parser.parse_args()


def base_settings(args: argparse.Namespace) -> PlatesSettings:
    detector: LpdYuNetDetector | PlateDetDetector
    if args.detector == "platedet":
        detector = PlateDetDetector(type="platedet")
    else:
        given = {
            "smallest_plate_px": args.smallest_plate,
            "candidate_factor": args.candidate_factor,
            "coarse_model": args.coarse_model,
        }
        detector = LpdYuNetDetector.model_validate({k: v for k, v in given.items() if v is not None})
    base = PlatesSettings(
        detector=detector, crop_variants=args.variants, intra_op_threads=args.intra_op_threads
    )
    if args.ocr_model is not None:
        base = base.model_copy(update={"ocr_model": args.ocr_model})
    if args.settle is not None:
        base = base.model_copy(update={"ocr_settle_confidence": args.settle})
    if args.min_confidence is not None:
        base = base.model_copy(update={"ocr_min_confidence": args.min_confidence})
    return base


class Readers:
    """The region-free reader and one per set of declared countries, sharing one set of models."""

    def __init__(self, args: argparse.Namespace, base: PlatesSettings, models: PlateModels) -> None:
        self._args, self._base, self._models = args, base, models
        self.free = PlateReader(base, args.models_dir, models=models)
        self._given: dict[str, PlateReader] = {}

    def given(self, region: str) -> PlateReader:
        countries = self._args.countries or REGION_COUNTRIES.get(region, ["us", "eu", "br"])
        key = ",".join(countries)
        if key not in self._given:
            settings = self._base.model_copy(update={"countries": countries})
            self._given[key] = PlateReader(settings, self._args.models_dir, models=self._models)
        return self._given[key]


@dataclass
class Read:
    """One photo read region-free, as timed."""

    detections: PlateDetections
    observations: list[PlateObservation]
    times: dict[str, float]
    frame_ms: float


def load_photos(args: argparse.Namespace) -> list[tuple[dict[str, str], Image]]:
    with args.labels.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    photos = []
    for row in rows[: args.limit or None]:
        image = cv2.imread(str(args.labels.parent.parent / row["file"]))
        if image is None:
            print(f"cannot read {row['file']}", file=sys.stderr)
            continue
        photos.append((row, np.asarray(image, dtype=np.uint8)))
    return photos


def read_all(
    args: argparse.Namespace, base: PlatesSettings, models: PlateModels, images: list[Image]
) -> tuple[list[Read], float, float]:
    """Every photo read region-free by ``args.threads`` threads at once (each with its own reader, the
    models shared, as cameras share a worker): the reads, wall seconds and process CPU seconds."""
    local = threading.local()

    def one(image: Image) -> Read:
        if not hasattr(local, "reader"):
            local.reader = PlateReader(base, args.models_dir, models=models)
        start, cpu = time.perf_counter(), time.thread_time()
        detections = local.reader.detect(image)
        times = {
            "detect": (time.perf_counter() - start) * 1000,
            "detect_cpu": (time.thread_time() - cpu) * 1000,
        }
        observations = local.reader.recognise(image, detections, times)
        return Read(detections, observations, times, (time.perf_counter() - start) * 1000)

    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        reads = list(pool.map(one, images))
    return reads, time.perf_counter() - wall, time.process_time() - cpu


def measure(
    args: argparse.Namespace, readers: Readers, photos: list[tuple[dict[str, str], Image]], reads: list[Read]
) -> tuple[dict[str, Tally], Timings]:
    """Tallies of the region-free reads, and of the same detections read with the region declared."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    timings = Timings()
    for (row, image), read in zip(photos, reads, strict=True):
        truth = tuple(float(row[k]) for k in ("x", "y", "w", "h"))
        observations, times = read.observations, read.times
        timings.frame_ms.append(read.frame_ms)
        for stage in ("detect", "crop", "ocr", "decode"):
            timings.stage_ms[stage].append(times.get(stage, 0.0))
            timings.stage_cpu_ms[stage].append(times.get(f"{stage}_cpu", 0.0))
        if observations:
            read_ms = sum(times.get(s, 0.0) for s in ("crop", "ocr", "decode"))
            timings.per_plate_ms.append(read_ms / len(observations))
        timings.plates += len(observations)
        given = readers.given(row["region"]).recognise(image, read.detections)
        texts = {"region_free": matching(observations, truth), "regions_given": matching(given, truth)}
        want = row["plate_text"]
        for region in (row["region"], "all"):
            tally = tallies[region]
            tally.images += 1
            tally.detected += texts["region_free"][0] >= 0.5
            for mode, (overlap, text) in texts.items():
                if overlap >= 0.3:
                    tally.strict[mode] += text == want
                    tally.folded[mode] += text.translate(_FOLD) == want.translate(_FOLD)
        for mode, (_, text) in texts.items():
            if text != want:
                tallies[row["region"]].misses.append(
                    f"{row['file']} ({mode}): want {want}, read {text or '-'}"
                )
    return tallies, timings


def report(tallies: dict[str, Tally], timings: Timings) -> dict[str, Any]:
    overall = tallies["all"].figures()
    frames = len(timings.frame_ms)
    return {
        "exact": overall["exact_region_free"],  # the default settings: no country declared
        "frames_per_s": round(frames / timings.wall_s, 2),
        "threads": timings.threads,
        "cpu_ms_per_frame": round(timings.cpu_s * 1000 / frames, 1),
        "frames_per_cpu_s": round(frames / timings.cpu_s, 2),
        "stage_cpu_ms": {k: round(statistics.fmean(v), 1) for k, v in timings.stage_cpu_ms.items()},
        **{k: v for k, v in overall.items() if k != "images"},
        "images": overall["images"],
        "per_region": {r: tallies[r].figures() for r in sorted(tallies) if r != "all"},
        "plates_per_s": round(timings.plates / timings.wall_s, 2),
        "frame_ms_median": round(statistics.median(timings.frame_ms), 1),
        "per_plate_ms_median": round(statistics.median(timings.per_plate_ms), 1),
    }


def print_tables(
    args: argparse.Namespace, tallies: dict[str, Tally], timings: Timings, load_s: float
) -> None:
    countries = " ".join(args.countries) if args.countries else "each region's own"
    print(
        f"plate reading on {args.labels} — detector {args.detector}, {args.variants} crop variant(s); "
        f"declared countries: {countries}, and none (region-free)"
    )
    print(f"{'region':<7}{'images':>7}{'recall@.5':>11}{'given':>8}{'folded':>8}{'free':>8}{'folded':>8}")
    for region in sorted(tallies, key=lambda r: (r == "all", r)):
        f = tallies[region].figures()
        print(
            f"{region:<7}{f['images']:>7}{f['detector_recall']:>11.3f}{f['exact_regions_given']:>8.3f}"
            f"{f['folded_regions_given']:>8.3f}{f['exact_region_free']:>8.3f}{f['folded_region_free']:>8.3f}"
        )
    print(
        f"\ntimings on this machine ({os.cpu_count()} cores; {args.threads} reading threads, "
        f"{args.intra_op_threads} onnxruntime thread(s) each):"
    )
    print(f"  model load + warm-up {load_s:.2f} s")
    for stage, values in timings.stage_ms.items():
        print(
            f"  {stage:<8} median {statistics.median(values):7.1f} ms   "
            f"p90 {pct(values, 90):7.1f} ms  per frame; CPU mean "
            f"{statistics.fmean(timings.stage_cpu_ms[stage]):6.1f} ms"
        )
    frame_ms, per_plate = timings.frame_ms, timings.per_plate_ms
    print(
        f"  frame    median {statistics.median(frame_ms):7.1f} ms   p90 {pct(frame_ms, 90):7.1f} ms  "
        f"(detect + read every plate; {timings.plates / len(frame_ms):.2f} plates per frame)"
    )
    print(
        f"  per plate (crop+ocr+decode) median {statistics.median(per_plate):.1f} ms, "
        f"p90 {pct(per_plate, 90):.1f} ms"
    )
    print(
        f"  throughput {timings.plates / timings.wall_s:.1f} plates/s, {len(frame_ms) / timings.wall_s:.1f} "
        f"frames/s; CPU {timings.cpu_s * 1000 / len(frame_ms):.1f} ms per frame "
        f"({len(frame_ms) / timings.cpu_s:.1f} frames per CPU-second)"
    )
    if args.show_misses:
        for region in sorted(tallies):
            for line in tallies[region].misses:
                print(f"  miss {line}")


def main() -> int:
    args = arguments()
    base = base_settings(args)
    engines = ModelsSettings(engine=args.engine, precision=args.precision)
    models = PlateModels(base, args.models_dir, engines=engines)
    t0 = time.perf_counter()
    models.load()
    load_s = time.perf_counter() - t0
    photos = load_photos(args)
    reads, wall_s, cpu_s = read_all(args, base, models, [image for _, image in photos])
    tallies, timings = measure(args, Readers(args, base, models), photos, reads)
    timings.threads, timings.wall_s, timings.cpu_s = args.threads, wall_s, cpu_s
    if args.json:
        engine = {"engine": str(models.detector.engine), "ocr_engine": str(models.ocr.engine)}
        out = {**report(tallies, timings), **engine}
        if args.show_misses:
            out["misses"] = [line for region in sorted(tallies) for line in tallies[region].misses]
        print(json.dumps(out, indent=2))
    else:
        print_tables(args, tallies, timings, load_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
