"""The inference engines: OpenVINO gives what onnxruntime gives (faces, embeddings, plate text) on shared
media, from several threads at once; the settings that choose them validate."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.align import align_face
from pipeline.detections import box_iou
from pipeline.models.engine import (
    EngineSpec,
    choose,
    engine_for,
    native_bf16,
    open_engine,
    openvino_available,
)
from pipeline.models.mobilefacenet import MobileFaceNet
from pipeline.models.registry import Registry, load_registry, locate_registry, resolve
from pipeline.models.yunet import YuNet
from pipeline.plates.reader import PlateReader
from pipeline.settings import ConfigError, parse
from pipeline.settings.models import ModelsSettings
from pipeline.settings.plates import PlatesSettings
from pipeline.types import Image

FACE_PHOTOS = (
    "faces/obama/examples_obama2.jpg",
    "faces/deepface_p03/img9.jpg",
    "faces/rose_leslie/examples_knn_examples_train_rose_leslie_img2.jpg",
    "faces/_multi/examples_knn_examples_test_obama_and_biden.jpg",
)
PLATE_PHOTOS = (
    ("plates/br/GWT2180.jpg", "GWT2180"),
    ("plates/us/car9-1.jpg", "ASC7399"),
)
ORT = EngineSpec("onnxruntime", "f32")

needs_openvino = pytest.mark.skipif(not openvino_available(), reason="openvino cannot be imported here")


def _openvino() -> EngineSpec:
    """OpenVINO in the precision ``auto`` gives it here (bf16 on a CPU that computes it natively)."""
    return choose("openvino", "auto")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(locate_registry(parse({}).models_registry))


@pytest.fixture(scope="module")
def photos(media_dir: Path) -> list[Image]:
    images = [cv2.imread(str(media_dir / name), cv2.IMREAD_COLOR) for name in FACE_PHOTOS]
    assert all(image is not None for image in images)
    return images


def test_a_bad_engine_or_precision_is_refused_with_the_key_named() -> None:
    with pytest.raises(ConfigError, match=r"models\.engine"):
        parse({"models": {"engine": "tensorrt"}})
    with pytest.raises(ConfigError, match="bf16 needs engine openvino"):
        parse({"models": {"engine": "onnxruntime", "precision": "bf16"}})
    with pytest.raises(ConfigError, match=r"per_model\.yunet"):
        parse({"models": {"per_model": {"yunet": {"engine": "onnxruntime", "precision": "bf16"}}}})
    with pytest.raises(ConfigError, match=r"models\.per_model\.yunet\.engine"):
        parse({"models": {"per_model": {"yunet": {"engine": "tflite"}}}})


def test_a_model_override_wins_over_the_section() -> None:
    models = ModelsSettings.model_validate(
        {"engine": "openvino", "precision": "bf16", "per_model": {"yunet": {"engine": "onnxruntime"}}}
    )
    assert models.for_model("yunet") == ("onnxruntime", "bf16")  # choose() gives onnxruntime f32
    assert choose(*models.for_model("yunet")) == ORT
    assert models.for_model("mobilefacenet") == ("openvino", "bf16")
    assert choose("onnxruntime", "auto") == ORT
    with pytest.raises(ValueError, match="bf16 needs engine openvino"):
        EngineSpec("onnxruntime", "bf16")


def test_auto_is_openvino_in_bf16_exactly_where_the_cpu_computes_bf16() -> None:
    expected = EngineSpec("openvino", "bf16") if native_bf16() else ORT
    assert choose("auto", "auto") == expected
    assert choose() == ORT  # the default, as in the settings
    assert engine_for(ModelsSettings(engine="auto"), "mobilefacenet") == expected
    assert engine_for(ModelsSettings(engine="auto"), "yunet") == ORT  # cheaper on onnxruntime at its sizes
    assert engine_for(ModelsSettings(), "mobilefacenet") == ORT  # the shipped default: onnxruntime
    asked = ModelsSettings(engine="openvino", precision="f32")
    assert engine_for(asked, "yunet") == (EngineSpec("openvino", "f32") if openvino_available() else ORT)


@needs_openvino
def test_both_engines_find_the_same_faces(models_dir: Path, registry: Registry, photos: list[Image]) -> None:
    path = resolve(registry, models_dir, "yunet")
    ours, theirs = (YuNet(path, 0.6, 1280, engine=spec) for spec in (_openvino(), ORT))
    compared = 0
    for image in photos:
        found, reference = ours.predict(image), theirs.predict(image)
        assert len(found) == len(reference)
        for box, score, points in zip(found.boxes, found.scores, found.landmarks, strict=True):
            best = int(np.argmax(box_iou(reference.boxes, box)))
            assert box_iou(reference.boxes[best : best + 1], box)[0] >= 0.9
            assert abs(score - reference.scores[best]) <= 0.03
            assert np.abs(points - reference.landmarks[best]).max() <= 0.05 * box[2]
            compared += 1
    assert compared >= len(photos)


@needs_openvino
def test_both_engines_embed_a_face_alike(models_dir: Path, registry: Registry, photos: list[Image]) -> None:
    detector = YuNet(resolve(registry, models_dir, "yunet"), 0.6, 1280, engine=ORT)
    faces = [align_face(image, detector.predict(image).largest().landmarks[0]) for image in photos]
    path = resolve(registry, models_dir, "mobilefacenet")
    ours, theirs = (MobileFaceNet(path, 1, engine=spec).predict(faces) for spec in (_openvino(), ORT))
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
    assert (ours @ ours.T)[0, 1] < 0.5  # different people stay apart: the embeddings are not all alike


@needs_openvino
def test_both_engines_read_the_same_plates(models_dir: Path, media_dir: Path) -> None:
    readers = [
        PlateReader(PlatesSettings(), models_dir, engines=ModelsSettings(engine=name))
        for name in ("openvino", "onnxruntime")
    ]
    assert readers[0].models.ocr.engine == _openvino() and readers[1].models.ocr.engine == ORT
    for file, text in PLATE_PHOTOS:
        image = cv2.imread(str(media_dir / file), cv2.IMREAD_COLOR)
        ours, theirs = (reader.read(image) for reader in readers)
        assert [o.text for o in ours][:1] == [o.text for o in theirs][:1] == [text]
        assert box_iou(np.array([ours[0].box], np.float32), np.array(theirs[0].box, np.float32))[0] >= 0.8


@needs_openvino
def test_an_openvino_engine_serves_several_threads_at_once(models_dir: Path, registry: Registry) -> None:
    engine = open_engine(resolve(registry, models_dir, "lpd_yunet"), 1, _openvino(), free_size_axis=0)
    rng = np.random.default_rng(7)
    inputs = [rng.uniform(0, 255, (1, 3, h, w)).astype(np.float32) for h, w in ((256, 320), (320, 448))]
    alone = [engine.run({"input": x})[1] for x in inputs]
    together: dict[int, list[np.ndarray]] = {}

    def run(worker: int) -> None:
        together[worker] = [engine.run({"input": inputs[(worker + k) % 2]})[1] for k in range(6)]

    threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker, outputs in together.items():
        for k, conf in enumerate(outputs):
            # Each thread's result is its own input's (a shape compiled statically meanwhile may differ
            # in the last bits of bf16, never by another input's scores).
            np.testing.assert_allclose(conf, alone[(worker + k) % 2], atol=0.02)
    assert engine.metadata("no such key") is None


def test_without_openvino_every_model_runs_with_onnxruntime(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` raises ImportError
    for cached in (openvino_available, native_bf16):
        cached.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="pipeline.models.engine"):
            assert choose("openvino", "bf16") == ORT
            assert choose("auto", "auto") == ORT
            assert choose("openvino", "auto") == ORT
        assert [r.getMessage() for r in caplog.records if "openvino cannot be imported" in r.getMessage()]
        assert len(caplog.records) == 1  # one line, however many models ask
    finally:
        for cached in (openvino_available, native_bf16):
            cached.cache_clear()
