"""Minutiae and identification on synthetic fingers (SFinGe-style, safecity_afis.synth): 20 enrolled fingers,
another impression of each searched, and impressions of 20 fingers never enrolled.

The threshold (safecity_afis.matching.THRESHOLD) was fixed on a different seed set; these fingers (seed 2026)
only measure it.
"""

from __future__ import annotations

import numpy as np
import pytest

from safecity_afis import matching, minutiae, synth

FINGERS = 20


@pytest.fixture(scope="module")
def scores() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2026)
    enrolled, probes, strangers, counts = [], [], [], []
    for _ in range(FINGERS):
        finger = synth.master(rng)
        enrolled.append(minutiae.extract(synth.impression(finger, rng)).minutiae)
        probes.append(minutiae.extract(synth.impression(finger, rng)).minutiae)
        counts += [len(enrolled[-1]), len(probes[-1])]
    for _ in range(FINGERS):
        strangers.append(minutiae.extract(synth.impression(synth.master(rng), rng)).minutiae)
    return {
        "genuine": np.array([[matching.score(p, g) for g in enrolled] for p in probes]),
        "strangers": np.array([[matching.score(p, g) for g in enrolled] for p in strangers]),
        "counts": np.array(counts),
    }


def test_plausible_minutiae_counts(scores) -> None:
    counts = scores["counts"]
    print(f"minutiae per impression: median {np.median(counts)}, range {counts.min()}-{counts.max()}")
    assert 20 <= np.median(counts) <= 80
    assert (counts >= 15).all()


def test_other_impression_identified_at_rank_1(scores) -> None:
    s = scores["genuine"]
    rank1 = float((s.argmax(axis=1) == np.arange(FINGERS)).mean())
    hits = float((np.diag(s) >= matching.THRESHOLD).mean())
    print(
        f"rank-1 {rank1:.0%}, genuine above threshold {hits:.0%}, "
        f"genuine scores {np.sort(np.diag(s)).round(1)}"
    )
    assert rank1 >= 0.9
    assert hits >= 0.9


def test_unenrolled_fingers_score_below_threshold(scores) -> None:
    best = scores["strangers"].max(axis=1)
    print(f"unenrolled fingers: best scores {np.sort(best).round(1)}")
    assert (best < matching.THRESHOLD).mean() >= 0.95
