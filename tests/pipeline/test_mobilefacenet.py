"""MobileFaceNet on real aligned faces: unit embeddings, flip test-time augmentation, the setting."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.align import align_face
from pipeline.face import FaceAnalyzer
from pipeline.models.mobilefacenet import EMBEDDING_DIM, MobileFaceNet
from pipeline.models.registry import load_registry, locate_registry, resolve
from pipeline.settings import parse
from pipeline.types import Image

PHOTOS = (
    "faces/obama/examples_obama2.jpg",
    "faces/deepface_p03/img9.jpg",
    "faces/rose_leslie/examples_knn_examples_train_rose_leslie_img2.jpg",
)


def _embedder(models_dir: Path, flip_tta: bool) -> MobileFaceNet:
    registry = load_registry(locate_registry(parse({}).models_registry))
    return MobileFaceNet(resolve(registry, models_dir, "mobilefacenet"), threads=1, flip_tta=flip_tta)


@pytest.fixture(scope="module")
def plain(models_dir: Path) -> MobileFaceNet:
    return _embedder(models_dir, flip_tta=False)


@pytest.fixture(scope="module")
def flipped(models_dir: Path) -> MobileFaceNet:
    return _embedder(models_dir, flip_tta=True)


@pytest.fixture(scope="module")
def photos(media_dir: Path) -> list[Image]:
    images = [cv2.imread(str(media_dir / name), cv2.IMREAD_COLOR) for name in PHOTOS]
    assert all(image is not None for image in images)
    return images


@pytest.fixture(scope="module")
def faces(models_dir: Path, photos: list[Image]) -> list[Image]:
    """The subject's face of each photo, aligned to the ArcFace template."""
    analyzer = FaceAnalyzer(parse({}), models_dir)
    return [align_face(image, analyzer.detect(image).largest().landmarks[0]) for image in photos]


def _mirrored(faces: list[Image]) -> list[Image]:
    return [np.ascontiguousarray(face[:, ::-1]) for face in faces]


@pytest.mark.parametrize("embedder_name", ["plain", "flipped"])
def test_embeddings_are_unit_vectors(
    embedder_name: str, faces: list[Image], request: pytest.FixtureRequest
) -> None:
    vectors = request.getfixturevalue(embedder_name).predict(faces)
    assert vectors.shape == (len(faces), EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_mirror_image_embeds_differently_without_flip_tta(plain: MobileFaceNet, faces: list[Image]) -> None:
    cosines = np.sum(plain.predict(faces) * plain.predict(_mirrored(faces)), axis=1)
    assert np.all(cosines < 0.99), cosines  # the network is not mirror-invariant by itself


def test_flip_tta_makes_a_face_and_its_mirror_image_embed_the_same(
    flipped: MobileFaceNet, faces: list[Image]
) -> None:
    np.testing.assert_allclose(flipped.predict(faces), flipped.predict(_mirrored(faces)), atol=1e-6)


def test_flip_tta_is_the_normalised_sum_of_both_views(
    plain: MobileFaceNet, flipped: MobileFaceNet, faces: list[Image]
) -> None:
    both = plain.predict(faces) + plain.predict(_mirrored(faces))
    expected = both / np.linalg.norm(both, axis=1, keepdims=True)
    np.testing.assert_allclose(flipped.predict(faces), expected, atol=1e-6)
    # and it stays the same person: close to the plain embedding, far from the other photos' subjects
    sims = flipped.predict(faces) @ plain.predict(faces).T
    assert np.all(np.diag(sims) > 0.9), sims
    assert np.all(sims[~np.eye(len(faces), dtype=bool)] < 0.4), sims


@pytest.mark.parametrize("flip_tta", [False, True])
def test_the_setting_reaches_the_embedder(
    flip_tta: bool, models_dir: Path, photos: list[Image], faces: list[Image], request: pytest.FixtureRequest
) -> None:
    analyzer = FaceAnalyzer(parse({"recognition": {"flip_tta": flip_tta}}), models_dir)
    expected = request.getfixturevalue("flipped" if flip_tta else "plain").predict(faces)
    for image, want in zip(photos, expected, strict=True):
        np.testing.assert_allclose(
            analyzer.embed(image, analyzer.detect(image).largest())[0], want, atol=1e-6
        )
