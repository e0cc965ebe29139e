"""LPD-YuNet at a free input size: priors, the graph edit, the shrunk pass, regions and the extent gate."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.models.lpd_yunet import (
    INPUT_H,
    INPUT_W,
    LpdYuNet,
    plausible_extent,
    priors,
    scale_for,
    shrunk,
)

MODEL = "license_plate_detection_lpd_yunet_2023mar.onnx"
# A benchmark photo (1280x720) and its labelled plate, x, y, w, h.
PHOTO = ("plates/us/wts-lg-000126.jpg", (778.0, 1.0, 71.0, 35.0))


@pytest.fixture(scope="module")
def detector(models_dir: Path) -> LpdYuNet:
    det = LpdYuNet(models_dir / MODEL, 0.3, 1, scale_for(44.0))
    det.load()
    return det


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


@pytest.mark.parametrize(
    ("width", "height", "count"), [(320, 240, 4385), (480, 360, 9855), (640, 384, 14100)]
)
def test_priors_follow_the_input_size(width: int, height: int, count: int) -> None:
    anchors = priors(width, height)
    assert anchors.shape == (count, 4)
    assert not anchors.flags.writeable
    # The first anchor sits in the first stride-8 cell; the last in the last stride-64 cell.
    assert anchors[0, :2] == pytest.approx((4 / width, 4 / height))
    assert anchors[-1, 0] == pytest.approx(((width // 64 - 0.5) * 64) / width)


def test_the_graph_runs_at_the_size_it_is_given(detector: LpdYuNet) -> None:
    for height, width in [(INPUT_H, INPUT_W), (384, 640), (64, 96)]:
        out = detector._run(np.zeros((height, width, 3), np.uint8), (width, height))
        assert len(out) == 0  # a black input holds no plate (and the anchor count matched the output)


@pytest.mark.parametrize(
    ("scale", "size", "shape"), [(0.5, (1280, 720), (384, 640)), (0.2, (300, 100), (64, 64))]
)
def test_a_region_is_shrunk_and_padded_to_a_multiple_of_32(
    scale: float, size: tuple[int, int], shape: tuple[int, int]
) -> None:
    image = np.full((size[1], size[0], 3), 200, np.uint8)
    out = shrunk(image, (0, 0, *size), scale)
    assert out.shape == (*shape, 3)
    assert out[0, 0, 0] == 200 and out[-1, -1, 0] == 0  # the image, then black padding


def test_the_scale_follows_the_narrowest_plate() -> None:
    assert scale_for(24.0) == 1.0 and scale_for(12.0) == 1.0
    assert scale_for(48.0) == pytest.approx(0.5) and scale_for(120.0) == pytest.approx(0.2)


def test_boxes_beyond_what_the_detector_was_shown_are_dropped() -> None:
    boxes = np.array(
        [
            [10, 10, 60, 20],  # inside
            [-10, 5, 60, 20],  # a plate cut by the left edge: a sixth of it outside
            [-200, 5, 500, 90],  # regression stretched far past the left edge
            [50, 50, 600, 150],  # wider than twice the largest anchor
        ],
        np.float32,
    )
    assert plausible_extent(boxes, (320, 240)).tolist() == [True, True, False, False]


def test_a_plate_is_found_in_the_whole_frame_and_in_a_region_around_it_only(
    detector: LpdYuNet, media_dir: Path
) -> None:
    image = cv2.imread(str(media_dir / PHOTO[0]))
    assert image is not None
    truth = PHOTO[1]
    whole = detector.predict(image)
    assert max(_iou(tuple(b), truth) for b in whole.boxes) >= 0.5
    x, y, w, h = (int(v) for v in truth)
    around = detector.predict(image, [(x - 3 * w, y - 3 * h, 7 * w, 7 * h)])  # reaches past the top edge
    assert len(around) >= 1 and max(_iou(tuple(b), truth) for b in around.boxes) >= 0.5
    elsewhere = detector.predict(image, [(0, 400, 500, 320)])
    assert all(_iou(tuple(b), truth) == 0.0 for b in elsewhere.boxes)
    assert len(detector.predict(image, [])) == 0 and len(detector.predict(image, [(5000, 0, 10, 10)])) == 0


def test_a_known_plate_needs_no_second_look(detector: LpdYuNet, media_dir: Path) -> None:
    image = cv2.imread(str(media_dir / PHOTO[0]))
    assert image is not None
    runs: list[int] = []
    original = detector._run

    def counted(pixels: np.ndarray, shown: tuple[int, int], first_look: bool = False) -> object:
        runs.append(1)
        return original(pixels, shown, first_look)

    detector._run = counted  # type: ignore[method-assign]
    try:
        seen = detector.predict(image)
        looks = len(runs)
        followed = detector.predict(image, known=[PHOTO[1]])
    finally:
        del detector._run
    assert len(runs) - looks < looks  # the followed plate was not looked at again
    assert max(_iou(tuple(b), PHOTO[1]) for b in followed.boxes) >= 0.5
    assert len(seen) >= 1


def test_the_first_look_can_run_another_file_and_only_proposes(models_dir: Path, media_dir: Path) -> None:
    # The coarse file here is the f32 one itself; what matters is which engine runs which look.
    det = LpdYuNet(models_dir / MODEL, 0.3, 1, scale_for(44.0), coarse_path=models_dir / MODEL)
    det.load()
    assert det._coarse_engine is not None and det._engine is not None
    runs: dict[str, list[tuple[int, ...]]] = {"coarse": [], "close": []}
    for name, engine in (("coarse", det._coarse_engine), ("close", det._engine)):
        original = engine.run

        def counted(feeds: dict, outputs: None = None, *, _k: str = name, _run: object = original) -> list:
            runs[_k].append(tuple(feeds["input"].shape))
            return _run(feeds, outputs)  # type: ignore[operator, no-any-return]

        engine.run = counted  # type: ignore[method-assign]
    image = cv2.imread(str(media_dir / PHOTO[0]))
    found = det.predict(image)
    assert runs["coarse"] == [(1, 3, 416, 704)]  # the shrunk whole photo, once
    assert runs["close"] and all(shape == (1, 3, INPUT_H, INPUT_W) for shape in runs["close"])
    assert max(_iou(tuple(b), PHOTO[1]) for b in found.boxes) >= 0.5
