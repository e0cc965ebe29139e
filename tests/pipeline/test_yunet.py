"""YuNet through onnxruntime at free input sizes: the same faces as OpenCV's own YuNet, found at the
size a camera's smallest face needs, from any number of threads at once (OpenVINO against onnxruntime:
tests/pipeline/test_engines.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from pipeline.detections import FaceDetections
from pipeline.models.engine import EngineSpec
from pipeline.models.registry import load_registry, locate_registry, resolve
from pipeline.models.yunet import SMALLEST_FACE_PX, YuNet, detection_scale
from pipeline.settings import parse
from tests.services import SHARED

HAMILTON = SHARED / "media/video/hamilton_whitehouse_clip.mp4"
SIX_PEOPLE = SHARED / "media/video/six_people_group.mp4"


@pytest.fixture(scope="module")
def model_path(models_dir: Path) -> Path:
    return resolve(load_registry(locate_registry(parse({}).models_registry)), models_dir, "yunet")


@pytest.fixture(scope="module")
def detector(model_path: Path) -> YuNet:
    yunet = YuNet(model_path, score_threshold=0.6, max_side=4096, engine=EngineSpec("onnxruntime", "f32"))
    yunet.load()
    return yunet


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Every 5th frame of the Hamilton clip (640x360) and the six-people frames at 960x540."""
    images = []
    with av.open(str(HAMILTON)) as container:
        images += [
            f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(video=0)) if i % 5 == 0
        ]
    with av.open(str(SIX_PEOPLE)) as container:
        images += [cv2.resize(f.to_ndarray(format="bgr24"), (960, 540)) for f in container.decode(video=0)]
    return images


def opencv_yunet(model_path: Path, image: np.ndarray) -> FaceDetections:
    height, width = image.shape[:2]
    detector = cv2.FaceDetectorYN.create(str(model_path), "", (width, height), 0.6, 0.3, 5000)
    _, raw = detector.detect(image)
    if raw is None:
        return FaceDetections.empty()
    raw = np.asarray(raw, np.float32).reshape(-1, 15)
    return FaceDetections(raw[:, 0:4], raw[:, 4:14].reshape(-1, 5, 2), raw[:, 14])


def by_score(detections: FaceDetections) -> FaceDetections:
    return detections.filter(np.argsort(-detections.scores, kind="stable"))


def test_the_same_faces_as_opencvs_yunet(detector: YuNet, model_path: Path, frames: list[np.ndarray]) -> None:
    total = 0
    for image in frames:
        ours, theirs = by_score(detector.predict(image, 1.0)), by_score(opencv_yunet(model_path, image))
        assert len(ours) == len(theirs)
        np.testing.assert_allclose(ours.boxes, theirs.boxes, atol=0.01)
        np.testing.assert_allclose(ours.landmarks, theirs.landmarks, atol=0.01)
        np.testing.assert_allclose(ours.scores, theirs.scores, atol=1e-4)
        total += len(ours)
    assert total >= 2 * len(frames)  # the frames show faces: the comparison compared something


@pytest.mark.parametrize(
    ("size", "min_face_px", "max_side", "scale"),
    [
        ((1280, 720), 24, 1280, SMALLEST_FACE_PX / 24),  # the smallest face decides
        ((1280, 720), 48, 1280, SMALLEST_FACE_PX / 48),
        ((640, 360), 12, 1280, 1.0),  # never enlarged
        ((3840, 2160), 24, 1280, 1280 / 3840),  # the longest side is capped
        ((1920, 1080), SMALLEST_FACE_PX, 4096, 1.0),
    ],
)
def test_the_detection_scale_follows_the_smallest_face(
    size: tuple[int, int], min_face_px: float, max_side: int, scale: float
) -> None:
    assert detection_scale(*size, min_face_px, max_side) == pytest.approx(scale)


def test_a_shrunk_frame_gives_faces_in_the_frames_own_coordinates(detector: YuNet) -> None:
    with av.open(str(SIX_PEOPLE)) as container:
        image = next(container.decode(video=0)).to_ndarray(format="bgr24")  # 1920x1080, six faces
    full = by_score(detector.predict(image, 1280 / 1920))
    half = by_score(detector.predict(image, 0.5))
    assert len(full) == len(half) == 6
    centres = full.boxes[:, :2] + full.boxes[:, 2:] / 2
    for box in half.boxes:  # each face found at half size lies where it was found at 1280 px
        distance = np.linalg.norm(centres - (box[:2] + box[2:] / 2), axis=1)
        assert distance.min() < 0.1 * box[2]


def test_one_detector_serves_several_threads_at_once(detector: YuNet, frames: list[np.ndarray]) -> None:
    alone = [detector.predict(image, 1.0) for image in frames]
    together: dict[int, list[FaceDetections]] = {}

    def run(worker: int) -> None:
        order = frames if worker % 2 == 0 else frames[::-1]
        found = [detector.predict(image, 1.0) for image in order]
        together[worker] = found if worker % 2 == 0 else found[::-1]

    threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for found in together.values():
        for mine, reference in zip(found, alone, strict=True):
            np.testing.assert_array_equal(mine.boxes, reference.boxes)
            np.testing.assert_array_equal(mine.scores, reference.scores)
