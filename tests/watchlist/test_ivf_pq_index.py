"""The national-scale backend (``faiss_ivf_pq``) on small structured data: exact below its threshold,
trained above it, upserts and removals, compaction, retraining as it grows, and snapshot state."""

from __future__ import annotations

from collections.abc import Iterator

import faiss
import numpy as np
import pytest

from pipeline.settings.watchlist import FaceIndexFlat, FaceIndexHnsw, FaceIndexIvfPq
from watchlist.index import FlatIndex, IvfPqIndex, StateError, build_index, restore_index

DIM = 128


@pytest.fixture(autouse=True)
def one_faiss_thread() -> Iterator[None]:
    """Training with two OpenMP threads on a machine busy with other work spins for seconds (libgomp's
    default wait policy); one thread trains these small indexes in a fraction of a second."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _noisy(rng: np.random.Generator, centres: np.ndarray, noise: float) -> np.ndarray:
    """Another photo of each identity: its centre plus isotropic noise (0.6: a twin at cosine ~0.7)."""
    x = centres + noise * rng.standard_normal(centres.shape).astype(np.float32) / np.sqrt(DIM)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def config(**kw: object) -> FaceIndexIvfPq:
    return FaceIndexIvfPq(type="faiss_ivf_pq", **kw)  # type: ignore[arg-type]


def test_backend_is_chosen_by_type() -> None:
    assert isinstance(build_index(config(), DIM), IvfPqIndex)


def test_exact_until_trained_then_agrees_with_flat_on_structured_faces() -> None:
    rng = np.random.default_rng(1)
    centres = unit(rng, 4000)
    enrolled = _noisy(rng, centres, 0.6)
    ids = np.arange(5000, 9000)
    index, flat = IvfPqIndex(DIM, config(exact_below=2000)), FlatIndex(DIM)
    index.add(ids[:1000], enrolled[:1000])
    assert index.nlist == 0, "below exact_below nothing is trained"
    queries = _noisy(rng, centres[:1000:5], 0.6)
    sims, found = index.search(queries, 3)
    flat.add(ids[:1000], enrolled[:1000])
    flat_sims, flat_found = flat.search(queries, 3)
    np.testing.assert_array_equal(found, flat_found)
    np.testing.assert_allclose(sims, flat_sims, atol=1e-5)

    index.add(ids[1000:], enrolled[1000:])
    flat.add(ids[1000:], enrolled[1000:])
    assert index.nlist == 64 and index.nprobe == 24 and len(index) == 4000
    queries = _noisy(rng, centres[::8], 0.6)
    sims, found = index.search(queries, 5)
    flat_sims, flat_found = flat.search(queries, 5)
    recall = float((found[:, 0] == flat_found[:, 0]).mean())
    assert recall >= 0.99, recall
    same = found[:, 0] == flat_found[:, 0]
    np.testing.assert_allclose(sims[same, 0], flat_sims[same, 0], atol=1e-5)  # re-ranked exactly
    assert (np.diff(sims, axis=1) <= 1e-6).all(), "best first"


@pytest.mark.parametrize("exact_below", [64, 100_000], ids=["trained", "exact"])
def test_upsert_remove_and_compaction(exact_below: int) -> None:
    rng = np.random.default_rng(2)
    vectors = unit(rng, 3000)
    index = IvfPqIndex(DIM, config(exact_below=exact_below))
    index.add(np.arange(3000), vectors)
    assert index.remove([3, 5, 99_999]) == 2 and len(index) == 2998
    _, ids = index.search(vectors[[3, 5]], 10)
    assert 3 not in ids and 5 not in ids
    index.add([3], vectors[7:8])  # a removed id comes back with another vector
    index.add([7], vectors[7:8])  # an unchanged upsert changes nothing
    assert len(index) == 2999 and index.free_slots == 2
    sims, ids = index.search(vectors[7:8], 2)
    assert sorted(ids[0].tolist()) == [3, 7] and np.allclose(sims[0], 1.0, atol=1e-5)
    index.add([8], vectors[9:10])  # a changed vector replaces the old one
    _, ids = index.search(vectors[8:9], 1)
    assert ids[0, 0] != 8

    index.remove(np.arange(1000, 2000))  # past a quarter of the slots freed: the arrays are compacted
    assert len(index) == 1999 and index.free_slots == 0
    _, ids = index.search(vectors[2000:2100], 1)
    np.testing.assert_array_equal(ids[:, 0], np.arange(2000, 2100))
    assert index.remove(np.arange(3000)) == 1999 and len(index) == 0
    sims, ids = index.search(vectors[:2], 3)
    assert (ids == -1).all() and np.isneginf(sims).all()


def test_retrains_when_grown_fourfold() -> None:
    rng = np.random.default_rng(3)
    vectors = unit(rng, 2000)
    index = IvfPqIndex(DIM, config(exact_below=500))
    index.add(np.arange(500), vectors[:500])
    assert index.nlist == 16
    index.add(np.arange(500, 1999), vectors[500:1999])
    assert index.nlist == 16, "not yet four times the trained size"
    index.add([1999], vectors[1999:])
    assert index.nlist == 32
    _, ids = index.search(vectors[::50], 1)
    np.testing.assert_array_equal(ids[:, 0], np.arange(0, 2000, 50))


@pytest.mark.parametrize("exact_below", [64, 100_000], ids=["trained", "exact"])
def test_state_restores_the_same_answers(exact_below: int) -> None:
    rng = np.random.default_rng(4)
    vectors = unit(rng, 2000)
    index = IvfPqIndex(DIM, config(exact_below=exact_below))
    index.add(np.arange(10, 2010), vectors)
    index.remove([10, 11])
    restored = restore_index(config(exact_below=exact_below), DIM, index.export_state())
    assert isinstance(restored, IvfPqIndex) and len(restored) == 1998
    assert (restored.nlist, restored.nprobe) == (index.nlist, index.nprobe)
    queries = _noisy(rng, vectors[::50], 0.3)
    np.testing.assert_array_equal(restored.search(queries, 5)[1], index.search(queries, 5)[1])
    # Query-time settings are the restoring process's own, build-time ones the snapshot's.
    wider = restore_index(
        config(exact_below=exact_below, probe_fraction=1.0, nlist=8), DIM, index.export_state()
    )
    assert isinstance(wider, IvfPqIndex) and (wider.nlist, wider.nprobe) == (index.nlist, index.nlist)
    restored.add([10, 5000], np.stack([vectors[0], -vectors[1]]))  # it keeps working as an index
    restored.remove([12])
    assert (
        restored.search(vectors[:1], 1)[1][0, 0] == 10 and restored.search(-vectors[1:2], 1)[1][0, 0] == 5000
    )
    again = restore_index(config(exact_below=exact_below), DIM, restored.export_state())
    np.testing.assert_array_equal(again.search(queries, 5)[1], restored.search(queries, 5)[1])
    assert len(again) == 1999 and 12 not in again.search(vectors[2:3], 5)[1]


def test_state_of_another_backend_is_refused() -> None:
    flat = FlatIndex(DIM)
    flat.add([1], unit(np.random.default_rng(5), 1))
    with pytest.raises(StateError, match="faiss_flat"):
        restore_index(config(), DIM, flat.export_state())
    with pytest.raises(StateError):
        restore_index(FaceIndexHnsw(type="faiss_hnsw"), DIM, flat.export_state())
    assert len(restore_index(FaceIndexFlat(), DIM, flat.export_state())) == 1


def test_pq_m_must_divide_the_dimension() -> None:
    with pytest.raises(ValueError, match="pq_m"):
        IvfPqIndex(100, config(pq_m=32))
