"""Motion gating before plate detection: still frames are skipped, a moving object is looked at where it
is, the whole frame at the keep-alive and when most of it changes."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.plates.motion import MotionGate, merge_overlapping
from pipeline.settings.plates import PlateMotionSettings

W, H = 1280, 720
MS = 1_000_000


def scene(car_x: int | None = None, light: int = 90, noise_seed: int | None = None) -> np.ndarray:
    """A grey road, with a 200x120 dark 'car' at ``car_x`` (top at y=400) if given."""
    image = np.full((H, W, 3), light, np.uint8)
    if noise_seed is not None:  # sensor and compression noise of a few grey levels
        rng = np.random.default_rng(noise_seed)
        image = np.clip(image.astype(np.int16) + rng.integers(-4, 5, image.shape), 0, 255).astype(np.uint8)
    if car_x is not None:
        image[400:520, car_x : car_x + 200] = 20
    return image


def test_the_first_frame_is_looked_at_whole_then_still_frames_are_skipped_until_the_keepalive() -> None:
    gate = MotionGate(PlateMotionSettings(keepalive_s=1.0))
    first = gate.decide(scene(300), 0)
    assert first.detect and first.regions is None and first.reason == "first"
    for i, t in enumerate(range(40 * MS, 1000 * MS, 40 * MS)):  # 25 fps, noise only
        assert not gate.decide(scene(300, noise_seed=i), t).detect
    again = gate.decide(scene(300), 1000 * MS)
    assert again.detect and again.regions is None and again.reason == "keepalive"


def test_a_moving_car_is_looked_at_where_it_is_only() -> None:
    gate = MotionGate(PlateMotionSettings())
    gate.decide(scene(300), 0)
    moved = gate.decide(scene(330), 40 * MS)
    assert moved.detect and moved.reason == "motion" and moved.regions is not None
    (x, y, w, h) = moved.regions[0]
    assert len(moved.regions) == 1
    # The region holds the car's old and new place with a margin, and far less than the frame.
    assert x <= 300 and x + w >= 530 and y <= 400 and y + h >= 520
    assert w * h < 0.25 * W * H


def test_slow_motion_adds_up_against_the_frame_last_looked_at() -> None:
    gate = MotionGate(PlateMotionSettings(min_changed=0.002))
    gate.decide(scene(300), 0)
    # One pixel column a frame changes too little to count, but compared with the frame last looked at
    # the car has moved enough after a few frames.
    decisions = [gate.decide(scene(300 + step), step * 40 * MS).detect for step in range(1, 12)]
    assert not decisions[0] and any(decisions)


def test_a_change_of_light_over_the_whole_frame_looks_at_the_whole_frame() -> None:
    gate = MotionGate(PlateMotionSettings())
    gate.decide(scene(300, light=90), 0)
    decision = gate.decide(scene(300, light=140), 40 * MS)
    assert decision.detect and decision.regions is None and decision.reason == "widespread"


def test_a_new_frame_size_starts_again_and_disabled_looks_at_every_frame() -> None:
    gate = MotionGate(PlateMotionSettings())
    gate.decide(scene(300), 0)
    assert gate.decide(np.zeros((480, 640, 3), np.uint8), 40 * MS).reason == "first"
    off = MotionGate(PlateMotionSettings(enabled=False))
    assert all(off.decide(scene(300), t * 40 * MS).detect for t in range(3))


@pytest.mark.parametrize(
    ("boxes", "merged"),
    [
        ([(0, 0, 10, 10), (20, 20, 5, 5)], [(0, 0, 10, 10), (20, 20, 5, 5)]),
        ([(0, 0, 10, 10), (5, 5, 10, 10)], [(0, 0, 15, 15)]),
        ([(0, 0, 10, 10), (20, 0, 10, 10), (5, 0, 20, 5)], [(0, 0, 30, 10)]),  # a bridge joins two
    ],
)
def test_overlapping_regions_are_merged(
    boxes: list[tuple[int, int, int, int]], merged: list[tuple[int, int, int, int]]
) -> None:
    assert sorted(merge_overlapping(boxes)) == sorted(merged)
