"""Enrolment photos prepared several at once (watchlist/enrol_pool.py): the same outcomes, in the same
order, as one by one, with refusals in place; prepared photos stored as given; a group stored in one
transaction."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from pipeline.detections import FaceDetections
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
from pipeline.types import Image
from tests.watchlist.conftest import ADMIN, basis
from watchlist.enrol import Enroller, Enrolment, EnrolmentError, EnrolResult
from watchlist.enrol_pool import PreparePool, cpu_cores
from watchlist.store import NewPhoto, WatchlistStore

TWO_THREADS = parse({"recognition": {"enrol_threads": 2}})


class ThreadRecordingAnalyzer(FaceAnalyzer):
    """The real analyzer, noting which threads embedded faces."""

    def __init__(self, settings: Settings, models_dir: Path) -> None:
        super().__init__(settings, models_dir)
        self.threads: set[str] = set()

    def embed(self, image: Image, detections: FaceDetections) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        return super().embed(image, detections)


def _photos(faces_dir: Path, obama_photos: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    group = ("two.jpg", (faces_dir / "_multi" / "examples_two_people.jpg").read_bytes())
    corrupt = ("corrupt.jpg", obama_photos[0][1][:600] + b"\x00" * 3000)
    return [*obama_photos, group, corrupt, *obama_photos[:2]]


def test_parallel_preparation_gives_the_one_by_one_outcomes_in_order(
    models_dir: Path, store: WatchlistStore, faces_dir: Path, obama_photos: list[tuple[str, bytes]]
) -> None:
    analyzer = ThreadRecordingAnalyzer(TWO_THREADS, models_dir)
    enroller = Enroller(TWO_THREADS, analyzer, store)
    photos = _photos(faces_dir, obama_photos)
    parallel = list(enroller.prepare_each(photos))
    assert enroller.pool.threads == 2 and len(analyzer.threads) == 2  # both workers embedded faces
    assert all(name.startswith("enrol-prepare") for name in analyzer.threads)
    assert len(parallel) == len(photos)
    for (name, data), outcome in zip(photos, parallel, strict=True):
        try:
            expected: NewPhoto | EnrolmentError = enroller.prepare(name, data)
        except EnrolmentError as exc:
            expected = exc
        if isinstance(expected, EnrolmentError):
            assert isinstance(outcome, EnrolmentError) and outcome.photo == name
            assert outcome.reason == expected.reason
        else:
            assert isinstance(outcome, NewPhoto)
            assert np.array_equal(outcome.embedding, expected.embedding)
            assert (outcome.width, outcome.height) == (expected.width, expected.height)
    refused = {o.photo for o in parallel if isinstance(o, EnrolmentError)}
    assert refused == {"two.jpg", "corrupt.jpg"}
    enroller.pool.close()


def test_a_prepared_photo_is_stored_as_given(
    analyzer: FaceAnalyzer, store: WatchlistStore, obama_photos: list[tuple[str, bytes]]
) -> None:
    enroller = Enroller(TWO_THREADS, analyzer, store)
    ready = [o for o in enroller.prepare_each(obama_photos[:2]) if isinstance(o, NewPhoto)]
    assert len(ready) == 2
    with pytest.raises(ValueError, match="1 prepared photos for 2 photos"):
        enroller.enrol("Barack Obama", "wanted", obama_photos[:2], basis(), ADMIN, prepared=ready[:1])
    result = enroller.enrol("Barack Obama", "wanted", obama_photos[:2], basis(), ADMIN, prepared=ready)
    stored = {e.embedding_id: e.vector for e in store.iter_embeddings()}
    for embedding_id, photo in zip(result.embedding_ids, ready, strict=True):
        assert np.allclose(stored[embedding_id], photo.embedding, atol=1e-6)


def test_one_thread_works_inline_and_zero_means_every_core() -> None:
    inline = PreparePool(1)
    names = list(inline.stream(lambda _: threading.current_thread().name, range(3)))
    assert names == [threading.current_thread().name] * 3
    assert PreparePool(0).threads == cpu_cores() >= 1


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return np.asarray(v / np.linalg.norm(v), dtype=np.float32)


def test_a_group_is_stored_in_one_transaction_as_one_by_one(
    analyzer: FaceAnalyzer, store: WatchlistStore, obama_photos: list[tuple[str, bytes]]
) -> None:
    enroller = Enroller(TWO_THREADS, analyzer, store)
    one = enroller.enrol("First One", "wanted", obama_photos[:1], basis(), ADMIN)
    ready = [NewPhoto(b"jpeg", b"crop", 640, 480, _unit(seed)) for seed in range(4)]
    named = [(f"p{i}.jpg", b"jpeg") for i in range(4)]
    group = [
        Enrolment("Second One", "wanted", named[:1], basis(), prepared=ready[:1]),
        Enrolment("", "wanted", named[1:2], basis(), prepared=ready[1:2]),  # refused: no name
        Enrolment("Third One", "missing", named[2:4], basis(), prepared=ready[2:4]),
        Enrolment("Fourth One", "wanted", obama_photos[1:2], basis()),  # prepared here
    ]
    outcomes = enroller.enrol_many(group, ADMIN)
    assert isinstance(outcomes[1], EnrolmentError) and "name" in outcomes[1].reason
    second, third, fourth = (o for o in outcomes if isinstance(o, EnrolResult))
    assert second.revision == third.revision == fourth.revision == one.revision + 1  # one transaction
    assert second.lists == fourth.lists == one.lists and third.lists != one.lists
    assert len(third.embedding_ids) == 2 and third.change is not None
    stored = {e.embedding_id: (e.profile_id, e.vector) for e in store.iter_embeddings()}
    for result, photos in ((second, ready[:1]), (third, ready[2:4])):
        for embedding_id, photo in zip(result.embedding_ids, photos, strict=True):
            assert stored[embedding_id][0] == result.profile_id
            assert np.allclose(stored[embedding_id][1], photo.embedding, atol=1e-6)
    wanted = enroller.lists.get(one.lists[0])
    assert wanted.gallery_size == 3  # recalibrated in the group's transaction: three wanted embeddings
    before = store.count_profiles()
    with pytest.raises(EnrolmentError, match="no active watch list with id 999"):
        enroller.enrol_many([Enrolment("Fifth One", "wanted", named[:1], basis(), [999], ready[:1])], ADMIN)
    assert store.count_profiles() == before  # nothing of a failed group is stored
