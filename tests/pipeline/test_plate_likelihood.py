"""Scoring plate texts against OCR evidence: padding, batching, look-alikes and text-only readings."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.plates import ctc
from pipeline.plates.alphabet import PLATE_ALPHABET
from pipeline.plates.formats import PlateRules
from pipeline.plates.likelihood import TextLikelihood, robust_view, text_evidence
from tests.plate_probs import probs, reading

A = PLATE_ALPHABET.index


def test_frames_of_different_lengths_score_as_if_alone() -> None:
    """Certain blanks pad the shorter frames of a pool, which changes no text's probability: a pool
    scores the mean of its frames alone."""
    scorer = TextLikelihood(PlateRules())
    short = reading("LEA1234", {3: {"1": 0.6, "I": 0.3}})
    long = np.concatenate([reading("LEAI234"), probs([{}] * 9)])

    def score(*frames: np.ndarray) -> float:
        (best,) = scorer.score(scorer.pool([scorer.evidence([f]) for f in frames]), ["LEA1234"])
        assert best.classes == "LLLDDDD"
        return best.log_score - scorer.rules.bonus("LLLDDDD")

    assert score(short, long) == pytest.approx((score(short) + score(long)) / 2, abs=1e-6)
    assert score(long, long, long) == pytest.approx(score(long), abs=1e-6)


def test_batched_forward_equals_one_text_at_a_time() -> None:
    rng = np.random.default_rng(7)
    views = rng.dirichlet(np.full(37, 0.2), size=(3, 14)).astype(np.float32)
    seen = np.stack([ctc.class_probs(v) for v in views])
    items = [("AB12", "AADD"), ("A0", "LD"), ("ZZ", "AA"), ("B1A", "ADA"), ("", "")]
    batched = ctc.string_log_probs(seen, items)
    for row, (text, classes) in zip(batched, items, strict=True):
        for view in range(3):
            assert row[view] == pytest.approx(ctc.string_log_prob(seen[view], text, classes), abs=1e-9)


def test_robust_views_lend_to_look_alikes_and_keep_a_floor() -> None:
    sure_d = probs([{"D": 1.0}])
    mixed = robust_view(sure_d, look_alike=0.1, outlier=0.02)
    assert mixed.sum() == pytest.approx(1.0, abs=1e-6)
    assert mixed[0, A("0")] == pytest.approx(0.1 + 0.02 / 37, abs=1e-6)  # D's only look-alike
    assert mixed[0, A("K")] == pytest.approx(0.02 / 37, abs=1e-7)  # anything else: the floor only
    assert mixed[0, A("D")] == pytest.approx(0.88 + 0.02 / 37, abs=1e-6)
    zero = robust_view(probs([{"0": 1.0}]), look_alike=0.3, outlier=0.0)
    assert [round(float(zero[0, A(c)]), 3) for c in "0DOQ"] == [0.7, 0.1, 0.1, 0.1]  # 0 has three
    assert robust_view(sure_d, 0.0, 0.0) is sure_d


def test_a_reading_known_only_as_text_is_evidence_for_that_text() -> None:
    matrix = text_evidence("BB0123", (0.9, 0.6, 0.9, 0.9, 0.9, 0.9))
    assert ctc.greedy(matrix).text == "BB0123"
    assert matrix[2 * 1 + 1, A("8")] == pytest.approx(0.4)  # what B's confidence leaves goes to 8
    assert matrix.sum(axis=1) == pytest.approx(np.ones(len(matrix)), abs=1e-6)
    scorer = TextLikelihood(PlateRules())
    pool = scorer.pool([scorer.evidence([matrix])])
    assert [s.text for s in scorer.score(pool, ["B80123", "BB0123", "KB0123"])] == [
        "BB0123",
        "B80123",
        "KB0123",
    ]
    with pytest.raises(ValueError, match="confidences"):
        text_evidence("AB", (0.9,))


def test_texts_that_fit_nothing_are_not_scored() -> None:
    scorer = TextLikelihood(PlateRules())
    pool = scorer.pool([scorer.evidence([reading("SRS")])])
    assert scorer.score(pool, ["SRS"]) == []  # too short for a plate of no format
    assert scorer.plain(pool, "SRS") > scorer.plain(pool, "SR")
