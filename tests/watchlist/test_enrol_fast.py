"""The fast enrolment path (``recognition.enrol_detect_side``, the default): reduced JPEG decode, detection
on a small copy, the face measured again around itself; against the full path on the shared faces.
Which one makes the better gallery is bench/enrol_roc.py's question (README, Enrolment speed)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
from tests.watchlist.conftest import ADMIN, basis
from watchlist.enrol import Enroller
from watchlist.enrol_face import LocatedFaces, locate_faces, locate_faces_in
from watchlist.photos import PhotoError, decode_photo, decode_photo_reduced, jpeg_reduction
from watchlist.store import WatchlistStore

FAST = parse({})
FULL = parse({"recognition": {"enrol_detect_side": 0}})
PEOPLE = ("biden", "deepface_p04", "deepface_p10")  # 11 photos, 3 people


def _single_faces(faces_dir: Path) -> list[tuple[str, str, bytes]]:
    with (faces_dir / "labels.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["file"].split("/")[1] in PEOPLE]
    return [(r["identity"], r["file"], (faces_dir.parent / r["file"]).read_bytes()) for r in rows]


def _embedding(analyzer: FaceAnalyzer, located: LocatedFaces) -> np.ndarray:
    return analyzer.embed(located.image, located.detections)[0]


def test_fast_path_finds_the_same_faces_with_the_same_identification(
    analyzer: FaceAnalyzer, faces_dir: Path
) -> None:
    identities, full, fast = [], [], []
    for identity, name, data in _single_faces(faces_dir):
        try:
            old = locate_faces(analyzer, FULL, name, data)
        except PhotoError:
            continue
        new = locate_faces(analyzer, FAST, name, data)
        assert (new.width, new.height) == (old.width, old.height), name
        if len(old.detections) != 1:
            continue
        assert len(new.detections) == 1, f"{name}: the fast path lost the face"
        assert abs(new.sides[0] - old.sides[0]) < 0.2 * old.sides[0], name
        identities.append(identity)
        full.append(_embedding(analyzer, old))
        fast.append(_embedding(analyzer, new))
    assert len(identities) >= 9
    full_e, fast_e = np.asarray(full), np.asarray(fast)
    cosines = np.sum(full_e * fast_e, axis=1)
    # YuNet places landmarks a little differently at each scale and MobileFaceNet is sensitive to them:
    # the same photo embeds at cosine about 0.92 to the full path (the full path detected at full size
    # instead of 1280 px gives about 0.95). What must not change is who the face is.
    assert cosines.mean() >= 0.85 and cosines.min() >= 0.6, cosines.round(3)
    labels = np.asarray(identities)
    same = labels[:, None] == labels[None, :]
    for gallery in (full_e, fast_e):
        sims = fast_e @ gallery.T
        np.fill_diagonal(sims, -1)
        best = np.argmax(sims, axis=1)
        assert (labels[best] == labels).all()  # leave-one-out rank-1 against either gallery
        impostor = (fast_e @ gallery.T)[~same]
        assert impostor.max() < 0.42  # recognition.threshold's default


def _small_face_jpeg(faces_dir: Path, analyzer: FaceAnalyzer, face_px: float, canvas_px: int) -> bytes:
    """An Obama photo shrunk so the face is about ``face_px``, on a grey JPEG ``canvas_px`` wide (4:3)."""
    image = cv2.imread(str(faces_dir / "obama" / "examples_obama.jpg"))
    side = float(analyzer.detect(image).largest().sides[0])
    small = cv2.resize(image, None, fx=face_px / side, fy=face_px / side, interpolation=cv2.INTER_AREA)
    canvas = np.full((canvas_px * 3 // 4, canvas_px, 3), 128, np.uint8)
    h, w = small.shape[:2]
    canvas[canvas_px // 3 : canvas_px // 3 + h, canvas_px // 2 : canvas_px // 2 + w] = small
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(buf.tobytes())


def test_a_face_too_small_for_the_small_copy_takes_the_full_path_and_enrols(
    analyzer: FaceAnalyzer, faces_dir: Path, store: WatchlistStore
) -> None:
    # 70 px in a 4000-px photo: 5.6 px on the 320-pixel copy, too small for YuNet.
    data = _small_face_jpeg(faces_dir, analyzer, 70, 4000)
    fast = locate_faces(analyzer, FAST, "small.jpg", data)
    full = locate_faces(analyzer, FULL, "small.jpg", data)
    assert fast.reduction == 1 and len(fast.detections) == 1 and fast.sides[0] >= 60
    assert float(_embedding(analyzer, fast) @ _embedding(analyzer, full)) > 0.999
    result = Enroller(FAST, analyzer, store).enrol(
        "Small Face", "wanted", [("small.jpg", data)], basis(), ADMIN
    )
    assert len(result.embedding_ids) == 1 and store.get_profile(result.profile_id) is not None


def test_a_face_small_on_the_reduced_decode_is_measured_at_full_size(
    analyzer: FaceAnalyzer, faces_dir: Path
) -> None:
    # 80 px in a 2400-px photo: decoded at half size it would be 40 px, so it is decoded again in full
    # and measured there, at its own size (the full path sees it at 1280/2400 of that).
    data = _small_face_jpeg(faces_dir, analyzer, 80, 2400)
    fast = locate_faces(analyzer, FAST, "small.jpg", data)
    full = locate_faces(analyzer, FULL, "small.jpg", data)
    assert fast.reduction == 1 and fast.image.shape[:2] == (1800, 2400)
    assert len(fast.detections) == 1 and abs(fast.sides[0] - full.sides[0]) < 0.2 * full.sides[0]
    assert float(_embedding(analyzer, fast) @ _embedding(analyzer, full)) > 0.85  # the same face


@pytest.mark.parametrize(
    ("size", "min_side", "expected"),
    [((4000, 3000), 640, 4), ((2400, 1800), 640, 2), ((1280, 960), 640, 2), ((1200, 900), 640, 1)],
)
def test_jpeg_reduction_keeps_the_longest_side(size: tuple[int, int], min_side: int, expected: int) -> None:
    assert jpeg_reduction("jpeg", *size, min_side) == expected
    assert jpeg_reduction("png", *size, min_side) == 1


def test_reduced_decode_reports_the_full_size(faces_dir: Path, settings: Settings) -> None:
    data = (faces_dir / "obama" / "tests_test_images_obama3.jpg").read_bytes()  # 1434x2333
    image, reduction, size = decode_photo_reduced("o.jpg", data, 10**7, 4 * 10**7, 640)
    assert reduction == 2 and size == (1434, 2333)
    assert image.shape[:2] == (-(-2333 // 2), -(-1434 // 2))


def test_an_image_already_decoded_is_located_as_its_bytes_are(
    analyzer: FaceAnalyzer, faces_dir: Path
) -> None:
    """A bulk import decodes each photo at full size for its stored copy and finds the face in it: for a
    photo the fast path decodes at full size anyway that is exactly the bytes' result; for a larger one
    the face is the same face, measured from more pixels."""
    for name, reduced in (("deepface_p04/img12.jpg", False), ("deepface_p04/img3.jpg", True)):
        data = (faces_dir / name).read_bytes()
        image = decode_photo(name, data, 10**7, 4 * 10**7)
        from_bytes = locate_faces(analyzer, FAST, name, data)
        from_image = locate_faces_in(analyzer, FAST, image)
        assert (from_bytes.reduction > 1) == reduced and from_image.reduction == 1
        assert (from_image.width, from_image.height) == (from_bytes.width, from_bytes.height)
        cosine = float(_embedding(analyzer, from_bytes) @ _embedding(analyzer, from_image))
        assert cosine > (0.9999 if not reduced else 0.85), (name, cosine)


def test_faces_on_the_small_copy_count_only_when_found_again(analyzer: FaceAnalyzer, faces_dir: Path) -> None:
    """A group photo is refused from its small copy, each face confirmed around itself (no full-size
    detection); a face the small copy shows that is not there does not refuse a portrait."""
    couple = (faces_dir / "_multi" / "couple.jpg").read_bytes()  # 2280x1588, two large faces
    group = locate_faces(analyzer, FAST, "couple.jpg", couple)
    assert group.reduction > 1 and len(group.detections) == 2
    portrait = (faces_dir / "deepface_p07" / "img31.jpg").read_bytes()
    copy_image, _, _ = decode_photo_reduced("img31.jpg", portrait, 10**7, 4 * 10**7, 640)
    assert len(analyzer.detect_at(copy_image, 320 / max(copy_image.shape[:2]))) == 2  # one is not a face
    fast = locate_faces(analyzer, FAST, "img31.jpg", portrait)
    full = locate_faces(analyzer, FULL, "img31.jpg", portrait)
    assert len(fast.detections) == 1 and len(full.detections) == 1 and fast.reduction > 1
    assert float(_embedding(analyzer, fast) @ _embedding(analyzer, full)) > 0.85
