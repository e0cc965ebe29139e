"""Plate reading accuracy and speed on the labelled benchmark photos (../shared/media/plates/labels.csv).

Per region: detector recall (IoU >= 0.5 with the labelled box), and exact plate text, strict and with
O/0, I/1, Q/0 folded (the US labels write 0 wherever the font is ambiguous; some EU labels use O in digit
positions). A plate counts as read when the reader's plate that overlaps the labelled box most (IoU >=
0.3) has exactly the labelled text. Each region is read with its own country formats (a camera knows
which country it is in) unless ``--countries`` says otherwise. Prints figures; asserts nothing.

    python bench/plates_accuracy.py [--detector lpd_yunet|platedet] [--variants 1-4] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.plate_settings import LpdYuNetDetector, PlateDetDetector, PlatesSettings
from pipeline.plates.reader import PlateModels, PlateObservation, PlateReader

SHARED = Path(__file__).resolve().parents[2] / "shared"
REGION_COUNTRIES = {"us": ["us"], "eu": ["eu"], "br": ["br"]}
_FOLD = str.maketrans({"O": "0", "I": "1", "Q": "0"})


@dataclass
class Tally:
    images: int = 0
    detected: int = 0
    strict: int = 0
    folded: int = 0
    misses: list[str] = field(default_factory=list)


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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--detector", choices=["lpd_yunet", "platedet"], default="lpd_yunet")
    parser.add_argument("--variants", type=int, default=4, help="crop variants read per plate (1-4)")
    parser.add_argument(
        "--min-confidence", type=float, help="plates.ocr_min_confidence (default: the setting's default)"
    )
    parser.add_argument("--countries", nargs="*", help="formats for every region (default: the region's own)")
    parser.add_argument("--tile-levels", type=float, nargs="*", help="LPD-YuNet tile levels (default [0.5])")
    parser.add_argument("--labels", type=Path, default=SHARED / "media" / "plates" / "labels.csv")
    parser.add_argument(
        "--models-dir", type=Path, default=Path(os.environ.get("SAFECITY_MODELS_DIR", SHARED / "models"))
    )
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (0: all)")
    parser.add_argument("--show-misses", action="store_true", help="list every wrong read")
    args = parser.parse_args()

    detector: LpdYuNetDetector | PlateDetDetector
    if args.detector == "platedet":
        detector = PlateDetDetector(type="platedet")
    elif args.tile_levels is not None:
        detector = LpdYuNetDetector(tile_levels=args.tile_levels)
    else:
        detector = LpdYuNetDetector()
    base = PlatesSettings(detector=detector, crop_variants=args.variants, intra_op_threads=args.threads)
    if args.min_confidence is not None:
        base = base.model_copy(update={"ocr_min_confidence": args.min_confidence})
    models = PlateModels(base, args.models_dir)
    t0 = time.perf_counter()
    models.load()
    load_s = time.perf_counter() - t0
    readers: dict[str, PlateReader] = {}

    def reader_for(region: str) -> PlateReader:
        countries = args.countries or REGION_COUNTRIES.get(region, ["us", "eu", "br"])
        key = ",".join(countries)
        if key not in readers:
            settings = base.model_copy(update={"countries": countries})
            readers[key] = PlateReader(settings, args.models_dir, models=models)
        return readers[key]

    with args.labels.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if args.limit:
        rows = rows[: args.limit]
    tallies: dict[str, Tally] = defaultdict(Tally)
    stage_ms: dict[str, list[float]] = defaultdict(list)
    per_plate_ms: list[float] = []
    frame_ms: list[float] = []
    plates_read = 0
    for row in rows:
        image = cv2.imread(str(args.labels.parent.parent / row["file"]))
        if image is None:
            print(f"cannot read {row['file']}", file=sys.stderr)
            continue
        truth = tuple(float(row[k]) for k in ("x", "y", "w", "h"))
        times: dict[str, float] = {}
        start = time.perf_counter()
        observations = reader_for(row["region"]).read(image, times)
        frame_ms.append((time.perf_counter() - start) * 1000)
        for stage in ("detect", "crop", "ocr", "decode"):
            stage_ms[stage].append(times.get(stage, 0.0))
        if observations:
            per_plate_ms.append(sum(times.get(s, 0.0) for s in ("crop", "ocr", "decode")) / len(observations))
        plates_read += len(observations)
        overlap, text = matching(observations, truth)
        want = row["plate_text"]
        for region in (row["region"], "all"):
            tally = tallies[region]
            tally.images += 1
            tally.detected += overlap >= 0.5
            if overlap >= 0.3:
                tally.strict += text == want
                tally.folded += text.translate(_FOLD) == want.translate(_FOLD)
        if text != want:
            tallies[row["region"]].misses.append(f"{row['file']}: want {want}, read {text or '-'}")

    name = args.detector + ("" if args.detector == "platedet" else f" tiles={list(detector.tile_levels)}")
    countries = " ".join(args.countries) if args.countries else "per region (us/eu/br formats)"
    print(
        f"plate reading on {args.labels} — detector {name}, {args.variants} crop variant(s), "
        f"formats {countries}"
    )
    print(f"{'region':<7}{'images':>7}{'recall@.5':>11}{'exact':>8}{'folded':>8}")
    for region in sorted(tallies, key=lambda r: (r == "all", r)):
        t = tallies[region]
        print(
            f"{region:<7}{t.images:>7}{t.detected / t.images:>11.3f}"
            f"{t.strict / t.images:>8.3f}{t.folded / t.images:>8.3f}"
        )
    print(f"\ntimings on this machine ({os.cpu_count()} cores, {args.threads} onnxruntime threads):")
    print(f"  model load + warm-up {load_s:.2f} s")
    for stage, values in stage_ms.items():
        print(
            f"  {stage:<8} median {statistics.median(values):7.1f} ms   "
            f"p90 {pct(values, 90):7.1f} ms  per frame"
        )
    print(
        f"  frame    median {statistics.median(frame_ms):7.1f} ms   p90 {pct(frame_ms, 90):7.1f} ms  "
        f"(detect + read every plate; {plates_read / len(frame_ms):.2f} plates per frame)"
    )
    print(
        f"  per plate (crop+ocr+decode) median {statistics.median(per_plate_ms):.1f} ms, "
        f"p90 {pct(per_plate_ms, 90):.1f} ms"
    )
    total_s = sum(frame_ms) / 1000
    print(
        f"  throughput {plates_read / total_s:.1f} plates/s, "
        f"{len(frame_ms) / total_s:.1f} frames/s (one thread)"
    )
    if args.show_misses:
        for region in sorted(tallies):
            for line in tallies[region].misses:
                print(f"  miss {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
