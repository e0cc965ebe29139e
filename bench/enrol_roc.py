"""Which enrolment path makes the better gallery: the full path or the fast one (watchlist/enrol_face.py)?

A gallery is only as good as it separates the people the cameras see. Each distinct labelled photo of
the shared faces is enrolled with each path (``watchlist.enrol_face.locate_faces`` on the photo's bytes,
then the analyzer's alignment and embedding, as ``Enroller.prepare`` does), and scored against one
fixed set of probes made as the worker makes them (bench/face_conditions.py, the conditions
bench/face_roc.py pools for calibration): the photos shrunk so the face is 24-60 px, blurred and
JPEG-compressed, and every face YuNet finds in the shared videos that passes the quality gates, each
detected on the whole frame and embedded by ``FaceAnalyzer.embed``. A probe is never compared with the
photo it was made from. Per path: genuine and impostor means and spreads, d', the equal error rate,
TAR at FAR 1e-2 and 1e-3 read off the impostor scores, TAR at the fitted FAR 1e-4 threshold; and the
difference fast - full in d' and EER with a 95 % interval from a bootstrap over the probes' people
(clusters), both galleries scored on the same resample. The photos against each other (both sides
enrolled with the same path) are given beside it.

    python bench/enrol_roc.py [--json] [--frame-step 2] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from face_conditions import Photo, load_photos
from face_roc import build_conditions

from pipeline.face import FaceAnalyzer
from pipeline.face_scores import (
    cross_scores,
    d_prime,
    empirical_tar_at_far,
    equal_error_rate,
    fitted_tar_at_far,
    pair_scores,
    summarise,
)
from pipeline.settings import Settings, parse
from watchlist.enrol_face import locate_faces
from watchlist.photos import PhotoError

_SHARED = Path(__file__).resolve().parents[2] / "shared"
PATHS = {"full": {"enrol_detect_side": 0}, "fast": {}}  # fast: the defaults


def gallery(analyzer: FaceAnalyzer, settings: Settings, photos: list[Photo]) -> np.ndarray:
    """Each photo enrolled with ``settings``' path; a photo enrolment refuses (not decodable, several
    faces) keeps the detection bench/face_conditions.py made of it (its largest face), the same in
    every gallery."""
    rows = []
    for photo in photos:
        try:
            located = locate_faces(analyzer, settings, photo.path.name, photo.path.read_bytes())
        except PhotoError:
            located = None
        if located is not None and len(located.detections) == 1:
            rows.append(analyzer.embed(located.image, located.detections)[0])
        else:  # refused by enrolment, whichever path: the same row in both galleries
            rows.append(analyzer.embed(photo.image, photo.face)[0])
    return np.stack(rows)


def scores(gallery_rows: np.ndarray, photos: list[Photo], probes: list[Any], embedded: np.ndarray) -> Any:
    labels = [p.identity for p in photos]
    compared = np.array(
        [[g not in p.excluded and row != p.source for row, g in enumerate(labels)] for p in probes]
    )
    probe_labels = [p.identity or f"unknown:{p.cluster}" for p in probes]
    return cross_scores(embedded, probe_labels, gallery_rows, labels, compared)


def figures(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, Any]:
    gen, imp = summarise(genuine), summarise(impostor)
    return {
        **gen.as_dict("genuine"),
        **imp.as_dict("impostor"),
        "d_prime": d_prime(gen, imp),
        "eer": equal_error_rate(genuine, impostor),
        "tar_at_far_1e-2": empirical_tar_at_far(genuine, impostor, 1e-2),
        "tar_at_far_1e-3": empirical_tar_at_far(genuine, impostor, 1e-3),
        "tar_at_fitted_far_1e-4": fitted_tar_at_far(genuine, imp, 1e-4),
    }


def bootstrap(results: dict[str, Any], clusters: np.ndarray, resamples: int) -> dict[str, list[float]]:
    """95 % intervals of fast - full in d' and EER, resampling the probes' people with replacement."""
    rng = np.random.default_rng(7)
    names = np.unique(clusters)
    deltas: dict[str, list[float]] = {"d_prime": [], "eer": []}
    for _ in range(resamples):
        weight = np.bincount(np.searchsorted(names, rng.choice(names, len(names))), minlength=len(names))
        per_probe = weight[np.searchsorted(names, clusters)]
        stats = {}
        for path in PATHS:
            gen, imp = results[path]
            g = np.repeat(gen[0], per_probe[gen[1]])
            i = np.repeat(imp[0], per_probe[imp[1]])
            if len(g) < 2 or len(i) < 2:
                break
            stats[path] = (d_prime(summarise(g), summarise(i)), equal_error_rate(g, i))
        if len(stats) == len(PATHS):
            deltas["d_prime"].append(stats["fast"][0] - stats["full"][0])
            deltas["eer"].append(stats["fast"][1] - stats["full"][1])
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in deltas.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    parser.add_argument("--frame-step", type=int, default=2, help="analyse every n-th video frame")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    args = parser.parse_args()
    models_dir = Path(os.environ.get("SAFECITY_MODELS_DIR", _SHARED / "models"))
    base = parse({})
    analyzer = FaceAnalyzer(base, models_dir)
    photos = load_photos(_SHARED / "media", analyzer)
    conditions, _ = build_conditions(photos, analyzer, base, args.frame_step)
    probes = [p for c in conditions if c.pooled for p in c.probes]
    embedded = np.stack([analyzer.embed(p.image, p.face)[0] for p in probes])
    clusters = np.array([p.cluster for p in probes])
    report: dict[str, Any] = {"photos": len(photos), "probes": len(probes), "paths": {}}
    results = {}
    for path, overrides in PATHS.items():
        rows = gallery(analyzer, parse({"recognition": overrides}), photos)
        cross = scores(rows, photos, probes, embedded)
        results[path] = (
            (cross.genuine, cross.genuine_pairs[:, 0]),
            (cross.impostor, cross.impostor_pairs[:, 0]),
        )
        photo_gen, photo_imp = pair_scores(rows, [p.identity for p in photos])
        report["paths"][path] = {
            "against_camera_faces": figures(cross.genuine, cross.impostor),
            "photo_against_photo": figures(photo_gen, photo_imp),
        }
    report["fast_minus_full_95ci"] = bootstrap(results, clusters, args.resamples)
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
