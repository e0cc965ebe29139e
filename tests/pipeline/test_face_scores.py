from __future__ import annotations

import numpy as np
import pytest

from pipeline.face_scores import (
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


def _unit(rows: list[list[float]]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float64)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_pairs_split_into_genuine_and_impostor() -> None:
    vectors = _unit([[1, 0], [1, 0.1], [0, 1]])
    genuine, impostor = pair_scores(vectors, ["a", "a", "b"])
    np.testing.assert_allclose(genuine, [vectors[0] @ vectors[1]])
    np.testing.assert_allclose(sorted(impostor), sorted([vectors[0] @ vectors[2], vectors[1] @ vectors[2]]))


def test_cross_scores_leave_out_masked_pairs_and_name_both_sides() -> None:
    probes, gallery = _unit([[1, 0], [0, 1]]), _unit([[1, 0], [0, 1], [1, 1]])
    compared = np.array([[True, True, False], [True, True, True]])
    scores = cross_scores(probes, ["a", "b"], gallery, ["a", "b", "c"], compared)
    np.testing.assert_allclose(scores.genuine, [1.0, 1.0])
    assert scores.genuine_pairs.tolist() == [[0, 0], [1, 1]]
    assert scores.impostor_pairs.tolist() == [[0, 1], [1, 0], [1, 2]]  # probe 0 vs "c" left out
    np.testing.assert_allclose(scores.impostor, [0.0, 0.0, np.sqrt(0.5)])


@pytest.mark.parametrize(
    ("n_impostors", "far", "expected"),
    [
        pytest.param(999, 1e-3, None, id="too-few-for-1e-3"),
        pytest.param(1000, 1e-3, 0.5, id="1000-allow-one"),
        pytest.param(1267, 1e-3, 0.5, id="1267-allow-one"),
        pytest.param(2000, 1e-3, 1.0, id="2000-allow-two"),
        pytest.param(5000, 1e-4, None, id="too-few-for-1e-4"),
    ],
)
def test_empirical_tar_reads_the_threshold_off_the_impostors(
    n_impostors: int, far: float, expected: float | None
) -> None:
    # impostors evenly below 0.5, plus the highest ones planted at 0.9 and 0.8
    impostor = np.concatenate([[0.9, 0.8], np.linspace(0.0, 0.5, n_impostors - 2)])
    genuine = np.array([0.85, 0.95, 0.7, 0.6])
    # one false accept allowed: the threshold is 0.8, so 0.85 and 0.95 pass; two allowed: 0.5, all pass
    assert empirical_tar_at_far(genuine, impostor, far) == expected


def test_fitted_threshold_is_the_gaussian_tail() -> None:
    impostor = ScoreSummary(n=1000, mean=0.0, sd=0.1)
    assert fitted_threshold(impostor, 1e-3) == pytest.approx(0.30902, abs=1e-4)
    assert fitted_threshold(impostor, 1e-5) == pytest.approx(0.42649, abs=1e-4)
    assert fitted_tar_at_far([0.2, 0.35, 0.5], impostor, 1e-3) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("genuine", "impostor", "expected"),
    [
        pytest.param([0.6, 0.7, 0.8], [0.0, 0.1, 0.5], 0.0, id="separated"),
        pytest.param([0.4, 0.7, 0.8, 0.9], [0.0, 0.1, 0.2, 0.5], 0.25, id="one-each-crosses"),
        pytest.param([0.5, 0.5], [0.5, 0.5], 1.0, id="all-tied"),
    ],
)
def test_equal_error_rate(genuine: list[float], impostor: list[float], expected: float) -> None:
    assert equal_error_rate(genuine, impostor) == pytest.approx(expected)


def test_equal_error_rate_of_overlapping_gaussians() -> None:
    rng = np.random.default_rng(0)
    genuine, impostor = rng.normal(1.0, 1.0, 20_000), rng.normal(-1.0, 1.0, 20_000)
    assert equal_error_rate(genuine, impostor) == pytest.approx(0.1587, abs=0.01)  # Phi(-1)


def test_summary_and_d_prime() -> None:
    genuine, impostor = summarise([0.6, 0.8]), summarise([0.0, 0.2])
    assert (genuine.n, genuine.mean) == (2, pytest.approx(0.7))
    assert genuine.sd == pytest.approx(np.sqrt(0.02))
    assert d_prime(genuine, impostor) == pytest.approx(0.6 / np.sqrt(0.02))
    assert summarise([0.3]).sd == 0.0
    with pytest.raises(ValueError, match="no scores"):
        summarise([])


def test_bounds_of_independent_scores_are_just_above_the_sample_figures() -> None:
    scores = np.random.default_rng(1).normal(0.0, 0.1, 4000)
    bounds = upper_bounds(scores, np.arange(len(scores)))
    assert 1.005 < bounds.sd / scores.std(ddof=1) < 1.04  # the chi-square bound for n = 4000 is 1.018
    assert bounds.mean == pytest.approx(scores.mean() + 1.645 * 0.1 / np.sqrt(4000), abs=0.001)


def test_bounds_carry_the_spread_between_clustered_probes() -> None:
    # ten probes, each scored 200 times around its own centre: ten independent draws, not 2000
    rng = np.random.default_rng(2)
    scores = np.repeat(rng.normal(0.0, 0.1, 10), 200) + rng.normal(0.0, 0.02, 2000)
    sd = scores.std(ddof=1)
    assert upper_bounds(scores, np.arange(2000)).sd < 1.04 * sd
    assert upper_bounds(scores, np.repeat(np.arange(10), 200)).sd > 1.15 * sd


def test_two_way_bounds_also_carry_the_spread_between_gallery_people() -> None:
    # 40 probes x 8 gallery people; the gallery people have offsets of their own
    rng = np.random.default_rng(3)
    probe, gallery = np.meshgrid(np.arange(40), np.arange(8), indexing="ij")
    scores = (
        rng.normal(0.0, 0.03, 40)[probe] + rng.normal(0.0, 0.1, 8)[gallery] + rng.normal(0, 0.02, probe.shape)
    )
    one_way = upper_bounds(scores.ravel(), probe.ravel())
    two_way = upper_bounds(scores.ravel(), probe.ravel(), gallery.ravel())
    assert two_way.sd > one_way.sd * 1.15
    assert two_way.mean > one_way.mean + 0.02


def test_bounds_refuse_mismatched_clusters() -> None:
    with pytest.raises(ValueError, match="cluster ids"):
        upper_bounds([0.1, 0.2], [0])
