"""ROC and threshold-calibration figures of the face embedders on the shared faces, with and without flip
test-time augmentation (recognition.flip_tta).

ROC: every pair of the distinct labelled photos (resolution copies of one photo left out), through the
production path (YuNet, the subject's largest face, ArcFace alignment, embedder): genuine and impostor
means and spreads, TAR at FAR 1e-3/1e-4/1e-5 and the equal error rate. A FAR is read off the impostor
scores only where there are at least 1/FAR of them; the fitted figure always given beside it takes the
threshold from a Gaussian fitted to the impostor scores, an extrapolation into the tail.

Calibration: impostor and genuine statistics in the conditions a camera produces (bench/face_conditions.py):
the photos shrunk so the face is 24-60 px, blurred and JPEG-compressed, and the faces of the shared videos,
each against the clean photos; per condition, with an upper 95 % bound of the impostor sd from a cluster
bootstrap, and pooled conservatively (the largest mean and the largest bound). ms_per_face is process CPU
time per face for alignment and embedding, one onnxruntime thread.

    python bench/face_roc.py [--json] [--models mobilefacenet] [--frame-step 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from face_conditions import (
    CLIPS,
    Condition,
    Photo,
    Probe,
    clip_conditions,
    degraded_condition,
    load_photos,
)

from pipeline.face import SUPPORTED_EMBEDDERS, FaceAnalyzer
from pipeline.face_scores import (
    FARS,
    ScoreSummary,
    cross_scores,
    d_prime,
    empirical_tar_at_far,
    equal_error_rate,
    fitted_tar_at_far,
    fitted_threshold,
    pair_scores,
    summarise,
    upper_bounds,
)
from pipeline.models.registry import load_registry, locate_registry
from pipeline.settings import Settings, parse
from workers.quality import QualityGate

_SHARED = Path(__file__).resolve().parents[2] / "shared"
# (face side in px, blur sigma in px, JPEG quality): from the smallest face the worker analyses
# (recognition.min_face_px) to an enrolment-sized one, clean and as a soft, compressed stream.
DEGRADATIONS = (
    (24, 0.0, None),
    (40, 0.0, None),
    (60, 0.0, None),
    (24, 0.6, 50),
    (40, 0.8, 50),
    (60, 1.0, 50),
)


def _far_key(far: float) -> str:
    return f"{far:.0e}".replace("e-0", "e-")


def roc_figures(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, Any]:
    gen, imp = summarise(genuine), summarise(impostor)
    empirical = {_far_key(far): empirical_tar_at_far(genuine, impostor, far) for far in FARS}
    return {
        **gen.as_dict("genuine"),
        **imp.as_dict("impostor"),
        "genuine_min": float(np.min(genuine)),
        "impostor_max": float(np.max(impostor)),
        "tar_at_far_empirical": empirical,
        "tar_at_far_empirical_null_reason": {
            key: f"{imp.n} impostor pairs; reading FAR {key} off a sample needs at least {round(1 / far)}"
            for far, key in zip(FARS, empirical, strict=True)
            if empirical[key] is None
        },
        "tar_at_far_fitted": {_far_key(far): fitted_tar_at_far(genuine, imp, far) for far in FARS},
        "threshold_at_far_fitted": {_far_key(far): fitted_threshold(imp, far) for far in FARS},
        "fitted_note": "extrapolation: the threshold is where a Gaussian fitted to the impostor scores "
        "exceeds the FAR; TAR is the share of genuine pairs above it",
        "eer": equal_error_rate(genuine, impostor),
        "d_prime": d_prime(gen, imp),
    }


class Embedder:
    """One configuration (model, flip) and the process CPU time it spent per face."""

    def __init__(self, settings: Settings, models_dir: Path) -> None:
        self.analyzer = FaceAnalyzer(settings, models_dir)
        self.analyzer.load()
        self.faces = 0
        self.cpu_s = 0.0

    def embed(self, items: Sequence[Photo | Probe]) -> np.ndarray:
        if not items:
            return np.zeros((0, 0), np.float32)
        started = time.process_time()
        vectors = np.stack([self.analyzer.embed(item.image, item.face)[0] for item in items])
        self.cpu_s += time.process_time() - started
        self.faces += len(items)
        return vectors

    @property
    def ms_per_face(self) -> float:
        return 1000.0 * self.cpu_s / max(1, self.faces)


def condition_figures(
    condition: Condition, probes: np.ndarray, gallery: np.ndarray, photos: list[Photo], resamples: int
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "description": condition.description,
        "pooled": condition.pooled,
        "probes": len(condition.probes),
        "refused_by_quality_gate": dict(condition.refused),
    }
    if not condition.probes:
        return figures
    compared = np.array(
        [
            [g.identity not in p.excluded and row != p.source for row, g in enumerate(photos)]
            for p in condition.probes
        ]
    )
    labels = [p.identity or f"unknown:{p.cluster}" for p in condition.probes]
    scores = cross_scores(probes, labels, gallery, [p.identity for p in photos], compared)
    probe_people = [condition.probes[r].cluster for r in scores.impostor_pairs[:, 0]]
    gallery_people = [photos[c].identity for c in scores.impostor_pairs[:, 1]]
    figures.update(_spread(scores.impostor, probe_people, gallery_people, resamples))
    if len(scores.genuine):
        figures.update(summarise(scores.genuine).as_dict("genuine"))
        figures["genuine_min"] = float(scores.genuine.min())
        figures["genuine_scores"] = scores.genuine  # dropped before printing; read at calibrated thresholds
    return figures


def _spread(
    impostor: np.ndarray, probe_people: list[str], gallery_people: list[str], resamples: int
) -> dict[str, Any]:
    if len(impostor) == 0:
        return {}
    bounds = upper_bounds(impostor, probe_people, gallery_people, resamples=resamples)
    return {
        **summarise(impostor).as_dict("impostor"),
        "impostor_mean_upper95": bounds.mean,
        "impostor_sd_upper95": bounds.sd,
        "impostor_max": float(impostor.max()),
        "probe_people": len(set(probe_people)),
        "gallery_people": len(set(gallery_people)),
    }


def photo_condition_figures(gallery: np.ndarray, photos: list[Photo], resamples: int) -> dict[str, Any]:
    """The clean photos against each other: pairs counted once for the figures, both ways for the
    bootstrap (which resamples the people on each side)."""
    labels = [p.identity for p in photos]
    genuine, impostor = pair_scores(gallery, labels)
    both_ways = cross_scores(gallery, labels, gallery, labels)
    people = both_ways.impostor_pairs
    bounds = upper_bounds(
        both_ways.impostor,
        [labels[i] for i in people[:, 0]],
        [labels[j] for j in people[:, 1]],
        resamples=resamples,
    )
    return {
        "description": "the clean photos against each other",
        "pooled": True,
        "probes": len(photos),
        **summarise(impostor).as_dict("impostor"),
        "impostor_mean_upper95": bounds.mean,
        "impostor_sd_upper95": bounds.sd,
        "impostor_max": float(impostor.max()),
        "probe_people": len(set(labels)),
        "gallery_people": len(set(labels)),
        **summarise(genuine).as_dict("genuine"),
        "genuine_min": float(genuine.min()),
        "genuine_scores": genuine,
    }


def pooled_calibration(conditions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The conservative figure: the largest impostor mean and the largest upper sd bound of any pooled
    condition (each may come from a different one), the lowest genuine mean and largest genuine sd; and
    each condition's TAR at the thresholds a Gaussian with that mean and sd puts at each FAR."""
    pooled = {name: c for name, c in conditions.items() if c["pooled"] and "impostor_mean" in c}
    genuine = {name: c for name, c in pooled.items() if c.get("genuine_pairs", 0) >= 10}
    mean_from = max(pooled, key=lambda n: pooled[n]["impostor_mean"])
    sd_from = max(pooled, key=lambda n: pooled[n]["impostor_sd_upper95"])
    gen_from = min(genuine, key=lambda n: genuine[n]["genuine_mean"])
    gen_sd_from = max(genuine, key=lambda n: genuine[n]["genuine_sd"])
    impostor = ScoreSummary(
        sum(c["impostor_pairs"] for c in pooled.values()),
        pooled[mean_from]["impostor_mean"],
        pooled[sd_from]["impostor_sd_upper95"],
    )
    for figures in conditions.values():
        scores = figures.pop("genuine_scores", None)
        if scores is not None:
            figures["tar_at_calibrated_threshold"] = {
                _far_key(far): fitted_tar_at_far(scores, impostor, far) for far in FARS
            }
    return {
        **impostor.as_dict("impostor"),
        "genuine_mean": genuine[gen_from]["genuine_mean"],
        "genuine_sd": genuine[gen_sd_from]["genuine_sd"],
        "threshold_at_far": {_far_key(far): fitted_threshold(impostor, far) for far in FARS},
        "basis": {
            "impostor_mean": mean_from,
            "impostor_sd": f"{sd_from} (upper 95 % bound, two-way cluster bootstrap over people)",
            "genuine_mean": gen_from,
            "genuine_sd": gen_sd_from,
            "impostor_pairs": "sum over the pooled conditions",
            "threshold_at_far": "impostor_mean + z(1 - FAR) * impostor_sd: per pair, before the gallery "
            "size multiplies the chance of a false match",
        },
        "conditions": conditions,
    }


def build_conditions(
    photos: list[Photo], analyzer: FaceAnalyzer, settings: Settings, frame_step: int
) -> tuple[list[Condition], dict[str, int]]:
    gate = QualityGate(settings.quality, settings.recognition.min_face_px)
    conditions, undetected = [], {}
    for face_px, blur, jpeg in DEGRADATIONS:
        condition, lost = degraded_condition(photos, analyzer, gate, face_px, blur, jpeg)
        conditions.append(condition)
        undetected[condition.name] = lost
    for clip in CLIPS:
        conditions.extend(clip_conditions(_SHARED / "media", clip, analyzer, gate, frame_step))
    return conditions, undetected


def embedder_models(settings: Settings) -> list[str]:
    registry = load_registry(locate_registry(settings.models_registry))
    return [m.name for m in registry.models if m.task == "face_embedding" and m.name in SUPPORTED_EMBEDDERS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--models", nargs="*", help="registry names of embedders (default: all supported)")
    parser.add_argument("--frame-step", type=int, default=1, help="analyse every n-th video frame")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples for sd bounds")
    args = parser.parse_args()
    models_dir = Path(os.environ.get("SAFECITY_MODELS_DIR", _SHARED / "models"))
    base = parse({})
    detector = FaceAnalyzer(base, models_dir)
    photos = load_photos(_SHARED / "media", detector)
    conditions, undetected = build_conditions(photos, detector, base, args.frame_step)
    results = []
    for model in args.models or embedder_models(base):
        for flip in (False, True):
            embedder = Embedder(
                parse({"recognition": {"embedder_model": model, "flip_tta": flip}}), models_dir
            )
            gallery = embedder.embed(photos)
            genuine, impostor = pair_scores(gallery, [p.identity for p in photos])
            per_condition = {"photo_clean": photo_condition_figures(gallery, photos, args.resamples)}
            for condition in conditions:
                figures = condition_figures(
                    condition, embedder.embed(condition.probes), gallery, photos, args.resamples
                )
                if condition.name in undetected:
                    figures["not_found_by_detector"] = undetected[condition.name]
                per_condition[condition.name] = figures
            results.append(
                {
                    "model": model,
                    "flip_tta": flip,
                    **roc_figures(genuine, impostor),
                    "ms_per_face": embedder.ms_per_face,
                    "calibration": pooled_calibration(per_condition),
                }
            )
    report = {
        "photos": len(photos),
        "identities": len({p.identity for p in photos}),
        "frame_step": args.frame_step,
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


def print_table(report: dict[str, Any]) -> None:
    print(f"{report['photos']} distinct photos of {report['identities']} identities")
    for r in report["results"]:
        emp, fit = r["tar_at_far_empirical"], r["tar_at_far_fitted"]
        print(
            f"{r['model']:14s} flip={r['flip_tta']!s:5s} "
            f"genuine {r['genuine_mean']:.3f}±{r['genuine_sd']:.3f} "
            f"(n={r['genuine_pairs']}) impostor {r['impostor_mean']:.3f}±{r['impostor_sd']:.3f} "
            f"(n={r['impostor_pairs']}) TAR@1e-3 {emp['1e-3']} fitted {fit['1e-3']:.3f}/{fit['1e-4']:.3f}/"
            f"{fit['1e-5']:.3f} EER {r['eer']:.4f} d'={r['d_prime']:.2f} {r['ms_per_face']:.2f} ms/face"
        )
        cal = r["calibration"]
        print(
            f"    calibration: impostor {cal['impostor_mean']:.3f}±{cal['impostor_sd']:.3f} "
            f"(n={cal['impostor_pairs']}), genuine {cal['genuine_mean']:.3f}±{cal['genuine_sd']:.3f}"
        )
        for name, c in cal["conditions"].items():
            if "impostor_mean" in c:
                print(
                    f"      {name:32s} probes {c['probes']:4d} impostor {c['impostor_mean']:.3f}±"
                    f"{c['impostor_sd']:.3f} (≤{c['impostor_sd_upper95']:.3f}, max {c['impostor_max']:.3f}, "
                    f"n={c['impostor_pairs']}) genuine {c.get('genuine_mean', float('nan')):.3f} "
                    f"(n={c.get('genuine_pairs', 0)}) refused {c.get('refused_by_quality_gate', {})}"
                )


if __name__ == "__main__":
    main()
