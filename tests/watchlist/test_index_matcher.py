"""Index backends and the matcher's change handling, on synthetic and real embeddings."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pipeline.contracts import WatchlistChange
from pipeline.settings import Settings
from pipeline.settings.watchlist import FaceIndexFlat, FaceIndexHnsw
from tests.watchlist.conftest import ADMIN, basis
from watchlist.enrol import Enroller
from watchlist.index import FlatIndex, HnswIndex, build_index
from watchlist.matcher import WatchlistMatcher
from watchlist.store import WatchlistStore

DIM = 128


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _with_index(settings: Settings, index: FaceIndexFlat | FaceIndexHnsw) -> Settings:
    return settings.model_copy(update={"watchlist": settings.watchlist.model_copy(update={"index": index})})


@pytest.fixture(params=["faiss_flat", "faiss_hnsw"])
def index_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    config = FaceIndexFlat() if request.param == "faiss_flat" else FaceIndexHnsw(type="faiss_hnsw")
    return _with_index(settings, config)


def test_backend_is_chosen_by_type() -> None:
    assert isinstance(build_index(FaceIndexFlat(), DIM), FlatIndex)
    assert isinstance(build_index(FaceIndexHnsw(type="faiss_hnsw"), DIM), HnswIndex)


def test_flat_and_hnsw_agree_on_top1() -> None:
    rng = np.random.default_rng(1)
    gallery = _unit(rng, 2000)
    ids = np.arange(1000, 3000)
    queries = gallery[::40] + 0.3 * _unit(rng, 50)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    flat, hnsw = FlatIndex(DIM), HnswIndex(DIM)
    for index in (flat, hnsw):
        index.add(ids, gallery)
        assert len(index) == 2000
    flat_sims, flat_ids = flat.search(queries, 3)
    hnsw_sims, hnsw_ids = hnsw.search(queries, 3)
    np.testing.assert_array_equal(flat_ids[:, 0], ids[::40])
    np.testing.assert_array_equal(hnsw_ids[:, 0], flat_ids[:, 0])
    np.testing.assert_allclose(hnsw_sims[:, 0], flat_sims[:, 0], atol=1e-5)


@pytest.mark.parametrize("backend", [FlatIndex, HnswIndex])
def test_remove_and_upsert(backend: type[FlatIndex] | type[HnswIndex]) -> None:
    rng = np.random.default_rng(2)
    vectors = _unit(rng, 40)
    index = backend(DIM)
    index.add(list(range(40)), vectors)
    assert index.remove([3, 5, 999]) == 2
    assert len(index) == 38
    _, ids = index.search(vectors[[3, 5]], 40)
    assert 3 not in ids and 5 not in ids and (ids >= 0).sum() == 2 * 38
    index.add([3], vectors[7:8])  # re-add a removed id with a different vector
    index.add([7], vectors[7:8])  # unchanged upsert is a no-op
    assert len(index) == 39
    sims, ids = index.search(vectors[7:8], 2)
    assert sorted(ids[0].tolist()) == [3, 7] and np.allclose(sims[0], 1.0, atol=1e-5)
    assert index.remove(list(range(40))) == 39 and len(index) == 0
    sims, ids = index.search(vectors[:2], 3)
    assert (ids == -1).all() and np.isneginf(sims).all()


def test_hnsw_rebuilds_after_many_removals() -> None:
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 200)
    index = HnswIndex(DIM)
    index.add(list(range(200)), vectors)
    index.remove(list(range(0, 200, 2)))
    assert len(index) == 100
    _, ids = index.search(vectors[1::2], 1)
    np.testing.assert_array_equal(ids[:, 0], np.arange(1, 200, 2))


def _change(
    action: str, profile_id: int, ids: list[int], vectors: np.ndarray, revision: int = 0, name: str = "P"
) -> WatchlistChange:
    return WatchlistChange(
        action=action,  # type: ignore[arg-type]
        profile_id=profile_id,
        name=name,
        category="wanted",
        embedding_ids=ids,
        embeddings=vectors.tolist() if action == "upsert" else [],
        revision=revision,
    )


def test_apply_is_idempotent_and_aggregates_per_profile(index_settings: Settings) -> None:
    rng = np.random.default_rng(4)
    v = _unit(rng, 4)
    matcher = WatchlistMatcher(index_settings)
    up_a = _change("upsert", 1, [10, 11], v[0:2], name="Alpha")
    up_b = _change("upsert", 2, [20], v[2:3], name="Beta")
    for change in (up_a, up_a, up_b, up_b):
        assert matcher.apply(change)
    assert len(matcher) == 3 and matcher.profile_count() == 2

    (matches,) = matcher.match(v[0:1], top_k=5)
    assert [m.profile_id for m in matches] == [1, 2], "one entry per profile, best first"
    assert (
        matches[0].name == "Alpha" and matches[0].passes and np.isclose(matches[0].similarity, 1.0, atol=1e-5)
    )
    assert not matches[1].passes

    # An upsert carrying a different set replaces the profile's embeddings.
    matcher.apply(_change("upsert", 1, [12], v[3:4], name="Alpha"))
    assert len(matcher) == 2
    (matches,) = matcher.match(v[0:1], top_k=5)
    assert all(m.similarity < 0.5 for m in matches)
    # An upsert without embeddings only renames.
    matcher.apply(WatchlistChange(action="upsert", profile_id=1, name="Alpha Renamed", category="missing"))
    (matches,) = matcher.match(v[3:4], top_k=1)
    assert (matches[0].name, matches[0].category) == ("Alpha Renamed", "missing")

    remove = _change("remove", 1, [12], v[:0])
    matcher.apply(remove)
    matcher.apply(remove)
    assert len(matcher) == 1
    (matches,) = matcher.match(v[3:4], top_k=5)
    assert [m.profile_id for m in matches] == [2]
    assert matcher.match(np.zeros((0, DIM), np.float32)) == []


def test_apply_rejects_mismatched_change(settings: Settings) -> None:
    bad = WatchlistChange(action="upsert", profile_id=1, embedding_ids=[1, 2], embeddings=[[0.0] * DIM])
    with pytest.raises(ValueError, match="2 ids but 1 embeddings"):
        WatchlistMatcher(settings).apply(bad)


def test_load_from_store_and_skip_stale_changes(
    index_settings: Settings, enroller: Enroller, store: WatchlistStore, obama_photos: list[tuple[str, bytes]]
) -> None:
    first = enroller.enrol("Barack Obama", "wanted", obama_photos, basis(), ADMIN)
    matcher = WatchlistMatcher(index_settings)
    matcher.load(store)
    assert len(matcher) == 3 and matcher.revision == 1
    assert first.change is not None and not matcher.apply(first.change), (
        "a change already in the loaded state is skipped"
    )

    removal = enroller.remove(first.profile_id, ADMIN, "case closed")
    assert matcher.apply(removal) and len(matcher) == 0 and matcher.revision == 2
    second = enroller.enrol("Barack Obama", "wanted", obama_photos[:1], basis(), ADMIN)
    assert second.change is not None and matcher.apply(second.change) and len(matcher) == 1

    fresh = WatchlistMatcher(index_settings)
    fresh.load(store)
    probe = np.asarray(second.change.embeddings, np.float32)
    assert fresh.match(probe, 1)[0][0].profile_id == second.profile_id
    assert matcher.match(probe, 1) == fresh.match(probe, 1)


def test_apply_while_matching_from_another_thread(index_settings: Settings) -> None:
    rng = np.random.default_rng(5)
    gallery = _unit(rng, 300)
    matcher = WatchlistMatcher(index_settings)
    errors: list[BaseException] = []
    stop = threading.Event()

    def match_loop() -> None:
        try:
            while not stop.is_set():
                for row in matcher.match(gallery[:8], top_k=3):
                    assert len(row) <= 3
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=match_loop)
    thread.start()
    for p in range(100):
        matcher.apply(_change("upsert", p, [3 * p, 3 * p + 1, 3 * p + 2], gallery[3 * p : 3 * p + 3]))
        if p % 3 == 0:
            matcher.apply(_change("remove", p, [], gallery[:0]))
    stop.set()
    thread.join()
    assert errors == []
    assert matcher.profile_count() == 66
