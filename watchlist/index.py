"""Face-embedding indexes: FAISS backends chosen by the settings' ``type`` field.

Vectors are L2-normalised, so inner product is cosine similarity. Every backend treats ``add`` as an
upsert: an id already present is replaced, so replaying a change twice leaves the index unchanged.
Every backend exports its content for a snapshot and is restored from one without re-adding vectors.

* ``faiss_flat``: exact; right for up to some tens of thousands of profiles.
* ``faiss_ivf_pq`` (``watchlist.ivf_pq``): the national-scale backend, chosen by benchmark.
* ``faiss_hnsw``: a graph; kept for existing deployments. On face embeddings it needs a very wide beam
  to find a twin (bench/watchlist_scale.py). It cannot delete from its graph: removed ids are
  tombstoned, filtered out of results (the search over-fetches by the number of tombstones), and the
  graph is rebuilt from the live vectors once tombstones exceed a quarter of the index, or when a
  removed id is added again.
"""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np

from pipeline.settings.watchlist import FaceIndexFlat, FaceIndexHnsw, FaceIndexIvfPq
from watchlist.index_base import (
    FaceIndex,
    FloatArray,
    IdArray,
    IndexState,
    StateError,
    as_queries,
    no_results,
    prepare,
    state_array,
)
from watchlist.ivf_pq import IvfPqIndex

__all__ = [
    "FaceIndex",
    "FlatIndex",
    "HnswIndex",
    "IndexConfig",
    "IndexState",
    "IvfPqIndex",
    "StateError",
    "build_index",
    "restore_index",
    "search_on_this_thread",
]


def search_on_this_thread() -> None:
    """FAISS searches made from the calling thread run on it alone from now on.

    FAISS parallelises a search with OpenMP, and libgomp keeps a team of threads per calling thread that
    spin for a few milliseconds after each search waiting for the next one. A camera's analysis thread
    searches one or two faces at a time, a few times a second: each search then cost ~7.5 ms of CPU
    (mostly spinning, on threads no camera's stage clock sees) against ~0.1 ms on the thread alone, and
    the cameras already use the cores. The setting is the calling thread's own (OpenMP keeps it per
    thread), so each thread that searches calls this itself.
    """
    faiss.omp_set_num_threads(1)


IndexConfig = FaceIndexFlat | FaceIndexHnsw | FaceIndexIvfPq


class FlatIndex:
    """Exact search: IndexIDMap2 over IndexFlatIP."""

    KIND = "faiss_flat"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._ids: set[int] = set()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int] | IdArray, vectors: FloatArray) -> None:
        id_array, matrix = prepare(ids, vectors, self.dim)
        if len(id_array) == 0:
            return
        self.remove(id_array)
        self._index.add_with_ids(matrix, id_array)
        self._ids.update(int(i) for i in id_array)

    def remove(self, ids: Sequence[int] | IdArray) -> int:
        present = [int(i) for i in np.asarray(ids, dtype=np.int64).reshape(-1) if int(i) in self._ids]
        if not present:
            return 0
        removed = int(self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(present, dtype=np.int64))))
        self._ids.difference_update(present)
        return removed

    def search(self, vectors: FloatArray, k: int) -> tuple[FloatArray, IdArray]:
        queries = as_queries(vectors, self.dim)
        if len(self) == 0 or len(queries) == 0:
            return no_results(len(queries), k)
        sims, ids = self._index.search(queries, k)
        sims = np.where(ids < 0, -np.inf, sims).astype(np.float32)
        return sims, np.asarray(ids, dtype=np.int64)

    def export_state(self) -> IndexState:
        return IndexState(self.KIND, self._index)  # the id map travels inside the FAISS structure

    @classmethod
    def from_state(cls, dim: int, state: IndexState) -> FlatIndex:
        if state.kind != cls.KIND or not isinstance(state.faiss_index, faiss.IndexIDMap2):
            raise StateError(f"not a {cls.KIND} state: {state.kind!r}")
        if state.faiss_index.d != dim:
            raise StateError(f"the index holds {state.faiss_index.d}-d vectors, not {dim}-d")
        index = cls(dim)
        index._index = state.faiss_index
        index._ids = set(faiss.vector_to_array(state.faiss_index.id_map).tolist())
        return index


class HnswIndex:
    """Approximate search: IndexHNSWFlat (inner product) with a Python id map and tombstones."""

    KIND = "faiss_hnsw"
    REBUILD_FRACTION = 0.25

    def __init__(self, dim: int, m: int = 32, ef_construction: int = 80, ef_search: int = 64) -> None:
        self.dim = dim
        self._m, self._ef_construction, self._ef_search = m, ef_construction, ef_search
        self._vectors: dict[int, FloatArray] = {}  # live id -> vector, the source for rebuilds
        self._labels: list[int] = []  # faiss sequential label -> embedding id
        self._tombstones: set[int] = set()
        self._index = self._new_graph()

    def _new_graph(self) -> faiss.IndexHNSWFlat:
        index = faiss.IndexHNSWFlat(self.dim, self._m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self._ef_construction
        index.hnsw.efSearch = self._ef_search
        return index

    def __len__(self) -> int:
        return len(self._vectors)

    def _rebuild(self) -> None:
        self._index = self._new_graph()
        self._labels = list(self._vectors)
        self._tombstones.clear()
        if self._labels:
            self._index.add(np.stack([self._vectors[i] for i in self._labels]))

    def add(self, ids: Sequence[int] | IdArray, vectors: FloatArray) -> None:
        id_array, matrix = prepare(ids, vectors, self.dim)
        fresh: list[int] = []
        needs_rebuild = False
        for embedding_id, vector in zip(id_array.tolist(), matrix, strict=True):
            old = self._vectors.get(embedding_id)
            if old is not None and np.array_equal(old, vector):
                continue
            needs_rebuild |= old is not None or embedding_id in self._tombstones
            self._vectors[embedding_id] = vector.copy()
            fresh.append(embedding_id)
        if needs_rebuild:
            self._rebuild()
        elif fresh:
            self._index.add(np.stack([self._vectors[i] for i in fresh]))
            self._labels.extend(fresh)

    def remove(self, ids: Sequence[int] | IdArray) -> int:
        removed = 0
        for embedding_id in np.asarray(ids, dtype=np.int64).reshape(-1).tolist():
            if self._vectors.pop(embedding_id, None) is not None:
                self._tombstones.add(embedding_id)
                removed += 1
        if len(self._tombstones) > max(16, self.REBUILD_FRACTION * len(self._labels)):
            self._rebuild()
        return removed

    def search(self, vectors: FloatArray, k: int) -> tuple[FloatArray, IdArray]:
        queries = as_queries(vectors, self.dim)
        if len(self) == 0 or len(queries) == 0:
            return no_results(len(queries), k)
        fetch = min(len(self._labels), k + len(self._tombstones))
        sims, labels = self._index.search(queries, fetch)
        out_sims, out_ids = no_results(len(queries), k)
        for row in range(len(queries)):
            col = 0
            for sim, label in zip(sims[row].tolist(), labels[row].tolist(), strict=True):
                if label < 0:
                    continue
                embedding_id = self._labels[label]
                if embedding_id in self._tombstones:
                    continue
                out_sims[row, col], out_ids[row, col] = sim, embedding_id
                col += 1
                if col == k:
                    break
        return out_sims, out_ids

    def export_state(self) -> IndexState:
        arrays = {
            "labels": np.asarray(self._labels, dtype=np.int64),
            "tombstones": np.asarray(sorted(self._tombstones), dtype=np.int64),
            "build": np.asarray([self._m, self._ef_construction], dtype=np.int64),
        }
        return IndexState(self.KIND, self._index, arrays)

    @classmethod
    def from_state(cls, dim: int, state: IndexState, ef_search: int) -> HnswIndex:
        labels = state_array(state, "labels", np.int64, cls.KIND)
        tombstones = state_array(state, "tombstones", np.int64, cls.KIND)
        m, ef_construction = state_array(state, "build", np.int64, cls.KIND).tolist()
        graph = state.faiss_index
        if not isinstance(graph, faiss.IndexHNSWFlat) or graph.d != dim or graph.ntotal != len(labels):
            raise StateError("the HNSW graph does not match its label map")
        index = cls(dim, m, ef_construction, ef_search)
        graph.hnsw.efSearch = ef_search
        index._index = graph
        index._labels = labels.tolist()
        index._tombstones = set(tombstones.tolist())
        stored = graph.reconstruct_n(0, graph.ntotal) if graph.ntotal else np.zeros((0, dim), np.float32)
        index._vectors = {
            embedding_id: stored[label]
            for label, embedding_id in enumerate(index._labels)
            if embedding_id not in index._tombstones
        }
        return index


def build_index(config: IndexConfig, dim: int) -> FaceIndex:
    """An empty index of the backend named by ``config.type``."""
    if isinstance(config, FaceIndexHnsw):
        return HnswIndex(dim, config.m, config.ef_construction, config.ef_search)
    if isinstance(config, FaceIndexIvfPq):
        return IvfPqIndex(dim, config)
    return FlatIndex(dim)


def restore_index(config: IndexConfig, dim: int, state: IndexState) -> FaceIndex:
    """The index a snapshot holds, with this process's query-time settings; StateError if it does not fit.

    Only the backend must match: build-time parameters (lists, graph degree) are those the snapshot
    was built with, query-time ones (probes, beam width) come from ``config``.
    """
    if state.kind != config.type:
        raise StateError(f"the snapshot holds a {state.kind!r} index; this process is set to {config.type!r}")
    if isinstance(config, FaceIndexHnsw):
        return HnswIndex.from_state(dim, state, config.ef_search)
    if isinstance(config, FaceIndexIvfPq):
        return IvfPqIndex.from_state(dim, config, state)
    return FlatIndex.from_state(dim, state)
