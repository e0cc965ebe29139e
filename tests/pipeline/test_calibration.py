"""Thresholds per watch list and gallery size: the bound, its monotony, its refusals, table by table."""

from __future__ import annotations

import math

import pytest

from pipeline.calibration import ScoreModel, VoteShape, calibrate, fpir_bound

MODEL = ScoreModel(impostor_mean=0.013, impostor_sd=0.092, genuine_mean=0.715, genuine_sd=0.090)
SHAPE = VoteShape(max_attempts=15, min_frames=3, strong_margin=0.08)


@pytest.mark.parametrize("gallery", [1, 6, 1_000, 120_000, 1_500_000])
@pytest.mark.parametrize("target", [1e-3, 1e-4, 1e-5])
def test_the_threshold_meets_the_target_and_is_the_smallest_that_does(gallery: int, target: float) -> None:
    c = calibrate(MODEL, SHAPE, gallery, target, min_genuine_pass=0.0)
    assert c.fpir_bound <= target
    assert fpir_bound(MODEL, SHAPE, gallery, c.threshold - 0.002) > target  # rounding is to 0.001, upwards
    assert c.strong_threshold == pytest.approx(c.threshold + 0.08)


def test_a_live_lists_threshold_rises_with_its_size() -> None:
    thresholds = [
        calibrate(MODEL, SHAPE, n, 1e-4, 0.5).threshold for n in (6, 100, 1_000, 120_000, 1_500_000)
    ]
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == len(thresholds)
    # NIST-style arithmetic from the issue: a stranger's best score against 1.5M profiles is about 0.51,
    # so a list of that size needs a threshold near 0.6 for 1e-4 per stranger track.
    assert 0.58 <= thresholds[-1] <= 0.66 and thresholds[0] < 0.46


def test_the_bound_counts_every_look_of_a_track() -> None:
    single = VoteShape(max_attempts=1, min_frames=1, strong_margin=0.08)
    tracked = calibrate(MODEL, SHAPE, 10_000, 1e-4, 0.0).threshold
    one_look = calibrate(MODEL, single, 10_000, 1e-4, 0.0).threshold
    assert tracked > one_look  # fifteen looks at a stranger are fifteen chances


def test_a_tight_target_on_a_huge_list_is_refused_with_the_reason() -> None:
    c = calibrate(MODEL, SHAPE, 50_000_000, 1e-7, min_genuine_pass=0.5)
    assert not c.feasible
    assert "genuine faces" in c.reason and f"{50_000_000:,}" in c.reason


def test_a_target_no_threshold_can_meet_is_refused() -> None:
    weak = ScoreModel(impostor_mean=0.5, impostor_sd=0.2, genuine_mean=0.6, genuine_sd=0.1)
    c = calibrate(weak, SHAPE, 10**9, 1e-9, min_genuine_pass=0.0)
    assert not c.feasible and "no threshold" in c.reason


def test_a_floor_raises_the_threshold_but_never_lowers_it() -> None:
    calibrated = calibrate(MODEL, SHAPE, 1_000, 1e-4, 0.0).threshold
    assert calibrate(MODEL, SHAPE, 1_000, 1e-4, 0.0, floor=0.7).threshold == 0.7
    assert calibrate(MODEL, SHAPE, 1_000, 1e-4, 0.0, floor=0.3).threshold == calibrated


def test_an_empty_list_alerts_at_its_floor() -> None:
    c = calibrate(MODEL, SHAPE, 0, 1e-4, 0.5, floor=0.42)
    assert c.threshold == 0.42 and c.fpir_bound == 0.0 and c.feasible


def test_expected_false_alerts_per_camera_hour() -> None:
    c = calibrate(MODEL, SHAPE, 120_000, 1e-4, 0.5)
    assert c.false_alerts_per_hour(600) == pytest.approx(600 * c.fpir_bound)
    assert c.false_alerts_per_hour(600) <= 0.06


@pytest.mark.parametrize(("z", "tail"), [(0.0, 0.5), (1.959964, 0.025), (6.0, 9.8659e-10), (8.0, 6.2210e-16)])
def test_the_impostor_tail_is_accurate_far_out(z: float, tail: float) -> None:
    model = ScoreModel(0.0, 1.0, 3.0, 1.0)
    assert math.isclose(model.impostor_tail(z), tail, rel_tol=1e-3)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: ScoreModel(0.0, 0.0, 0.7, 0.1),
        lambda: ScoreModel(0.7, 0.1, 0.5, 0.1),
        lambda: VoteShape(0, 3, 0.1),
        lambda: calibrate(MODEL, SHAPE, 10, 0.0, 0.5),
        lambda: calibrate(MODEL, SHAPE, -1, 1e-4, 0.5),
    ],
)
def test_nonsense_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]
