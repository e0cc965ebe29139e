"""Enrolment, refusal, matching and removal against real models on SQLite and PostgreSQL."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.face import FaceAnalyzer
from tests.watchlist.conftest import ADMIN, OBAMA_PROBE, basis
from watchlist.enrol import Enroller, EnrolmentError
from watchlist.governance import IN_FORCE, Status
from watchlist.photos import PhotoError
from watchlist.store import ProfileNotFoundError, WatchlistStore


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression-bomb shape), with no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def _tiny_face(faces_dir: Path, analyzer: FaceAnalyzer) -> bytes:
    """An Obama photo shrunk so the face is about 36 px, centred on a grey canvas."""
    image = cv2.imread(str(faces_dir / "obama" / "examples_obama.jpg"))
    side = float(analyzer.detect(image).largest().sides[0])
    small = cv2.resize(image, None, fx=36 / side, fy=36 / side, interpolation=cv2.INTER_AREA)
    canvas = np.full((400, 400, 3), 128, np.uint8)
    h, w = small.shape[:2]
    canvas[100 : 100 + h, 100 : 100 + w] = small
    return _png(canvas)


def test_enrol_stores_profile_photos_and_embeddings(
    enroller: Enroller, store: WatchlistStore, obama_photos: list[tuple[str, bytes]]
) -> None:
    result = enroller.enrol("  Barack   Obama ", "Wanted", obama_photos, basis(), ADMIN)
    assert result.name == "Barack Obama" and result.category == "wanted"
    assert len(result.photo_ids) == len(result.embedding_ids) == 3
    assert result.revision == store.revision() == 1
    change = result.change
    assert change.action == "upsert" and change.profile_id == result.profile_id
    assert change.embedding_ids == result.embedding_ids and len(change.embeddings[0]) == 128

    profile = store.get_profile(result.profile_id)
    assert profile is not None and profile.photo_count == 3 and profile.embedding_count == 3
    assert [p.id for p in store.list_profiles()] == [result.profile_id]
    stored = list(store.iter_embeddings())
    assert [e.embedding_id for e in stored] == result.embedding_ids
    np.testing.assert_allclose(stored[0].vector, change.embeddings[0], atol=1e-6)
    assert np.isclose(np.linalg.norm(stored[0].vector), 1.0, atol=1e-4)

    original = store.profile_photo(result.profile_id, crop=False)
    crop = store.profile_photo(result.profile_id, crop=True)
    assert original == obama_photos[0][1]
    assert crop is not None and crop.startswith(b"\xff\xd8")
    assert store.profile_photo(999, crop=True) is None


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no_face", "no face found"),
        ("two_faces", "2 faces found"),
        ("tiny_face", r"the face is \d+ px; at least 60 px"),
        ("corrupt", "corrupt"),
        ("not_an_image", "not a readable JPEG or PNG"),
        ("bomb", "at most 40000000 pixels"),
    ],
)
def test_refused_photo_names_the_photo_and_stores_nothing(
    case: str,
    reason: str,
    enroller: Enroller,
    store: WatchlistStore,
    analyzer: FaceAnalyzer,
    faces_dir: Path,
    obama_photos: list[tuple[str, bytes]],
) -> None:
    rng = np.random.default_rng(7)
    jpeg = obama_photos[0][1]
    bad = {
        "no_face": lambda: _png(
            cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (9, 9), 3)
        ),
        "two_faces": lambda: (faces_dir / "_multi" / "examples_two_people.jpg").read_bytes(),
        "tiny_face": lambda: _tiny_face(faces_dir, analyzer),
        "corrupt": lambda: jpeg[:600] + bytes(rng.integers(0, 255, 4000, dtype=np.uint8)),
        "not_an_image": lambda: b"GIF89a this is not what we accept",
        "bomb": lambda: _png_header_only(100_000, 100_000),
    }[case]()
    photos = [obama_photos[0], (f"{case}.img", bad)]
    with pytest.raises(EnrolmentError, match=reason) as info:
        enroller.enrol("Someone", "missing", photos, basis(), ADMIN)
    assert info.value.photo == f"{case}.img"
    assert f"{case}.img" in str(info.value)
    assert store.count_profiles() == 0
    assert store.revision() == 0 and list(store.iter_embeddings()) == []


def test_request_errors(enroller: Enroller, obama_photos: list[tuple[str, bytes]]) -> None:
    with pytest.raises(EnrolmentError, match="unknown category 'bandit'; use one of: wanted"):
        enroller.enrol("X", "bandit", obama_photos, basis(), ADMIN)
    with pytest.raises(EnrolmentError, match="non-empty name"):
        enroller.enrol("   ", "wanted", obama_photos, basis(), ADMIN)
    with pytest.raises(EnrolmentError, match="at least one photo"):
        enroller.enrol("X", "wanted", [], basis(), ADMIN)


def test_oversized_file_is_refused(
    settings, analyzer: FaceAnalyzer, store: WatchlistStore, obama_photos: list[tuple[str, bytes]]
) -> None:
    small_limit = settings.model_copy(
        update={"watchlist": settings.watchlist.model_copy(update={"max_photo_bytes": 1000})}
    )
    with pytest.raises(EnrolmentError, match="at most 1000 are accepted"):
        Enroller(small_limit, analyzer, store).enrol("X", "wanted", obama_photos, basis(), ADMIN)


def test_match_finds_obama_and_not_biden(
    enroller: Enroller, store: WatchlistStore, obama_photos: list[tuple[str, bytes]], faces_dir: Path
) -> None:
    obama = enroller.enrol("Barack Obama", "wanted", obama_photos, basis(), ADMIN)
    enroller.enrol(
        "Kit Harington",
        "watch",
        [
            (
                "kit.jpeg",
                (
                    faces_dir / "kit_harington" / "examples_knn_examples_train_kit_harington_john1.jpeg"
                ).read_bytes(),
            )
        ],
        basis(),
        ADMIN,
    )

    (probe,) = enroller.match_photo((faces_dir / "obama" / OBAMA_PROBE).read_bytes(), top_k=5)
    best = probe.matches[0]
    assert best.profile_id == obama.profile_id and best.name == "Barack Obama" and best.category == "wanted"
    assert best.passes and best.similarity >= 0.42
    assert len(probe.matches) == 2 and not probe.matches[1].passes

    (biden,) = enroller.match_photo((faces_dir / "biden" / "examples_biden.jpg").read_bytes())
    assert all(not m.passes and m.similarity < 0.42 for m in biden.matches)

    two = enroller.match_photo((faces_dir / "_multi" / "examples_two_people.jpg").read_bytes(), top_k=1)
    assert len(two) == 2
    assert sorted(f.matches[0].passes for f in two) == [False, True]

    with pytest.raises(PhotoError, match="not a readable"):
        enroller.match_photo(b"nonsense")


def test_removed_profile_never_matches_again(
    enroller: Enroller, store: WatchlistStore, obama_photos: list[tuple[str, bytes]], faces_dir: Path
) -> None:
    obama = enroller.enrol("Barack Obama", "wanted", obama_photos, basis(), ADMIN)
    change = enroller.remove(obama.profile_id, ADMIN, "arrested, case closed")
    assert change.action == "remove" and change.embedding_ids == obama.embedding_ids
    assert change.revision == store.revision() == 2
    removed = store.get_profile(obama.profile_id)
    assert removed is not None and removed.status is Status.REMOVED and not removed.matching()
    assert removed.removal_approved_by == ADMIN and removed.removal_reason == "arrested, case closed"
    assert store.list_profiles(statuses=IN_FORCE) == [] and list(store.iter_embeddings()) == []
    (probe,) = enroller.match_photo((faces_dir / "obama" / OBAMA_PROBE).read_bytes())
    assert probe.matches == []
    with pytest.raises(ProfileNotFoundError):
        store.remove_profile(obama.profile_id, ADMIN, "again, by mistake")
    again = enroller.enrol("Barack Obama", "wanted", obama_photos[:1], basis(), ADMIN)
    assert min(again.embedding_ids) > max(obama.embedding_ids), "embedding ids must never be reused"
