"""Face-embedding indexes: a small protocol and FAISS backends chosen by the settings' ``type`` field.

Vectors are L2-normalised, so inner product is cosine similarity. Both backends treat ``add`` as an
upsert: an id already present is replaced, so replaying a change twice leaves the index unchanged.

``faiss_hnsw`` cannot delete from its graph. Removed ids are tombstoned, filtered out of results (the
search over-fetches by the number of tombstones), and the graph is rebuilt from the live vectors once
tombstones exceed a quarter of the index, or when a removed id is added again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

from pipeline.settings import FaceIndexFlat, FaceIndexHnsw

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]


class FaceIndex(Protocol):
    dim: int

    def add(self, ids: Sequence[int] | IdArray, vectors: FloatArray) -> None: ...

    def remove(self, ids: Sequence[int] | IdArray) -> int: ...

    def search(self, vectors: FloatArray, k: int) -> tuple[FloatArray, IdArray]: ...

    def __len__(self) -> int: ...


def _prepare(ids: Sequence[int] | IdArray, vectors: FloatArray, dim: int) -> tuple[IdArray, FloatArray]:
    id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
    matrix = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    if len(id_array) != len(matrix):
        raise ValueError(f"{len(id_array)} ids for {len(matrix)} vectors")
    if len(np.unique(id_array)) != len(id_array):
        raise ValueError("duplicate ids in one add()")
    return id_array, matrix


def _no_results(n: int, k: int) -> tuple[FloatArray, IdArray]:
    return np.full((n, k), -np.inf, dtype=np.float32), np.full((n, k), -1, dtype=np.int64)


class FlatIndex:
    """Exact search: IndexIDMap2 over IndexFlatIP."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._ids: set[int] = set()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int] | IdArray, vectors: FloatArray) -> None:
        id_array, matrix = _prepare(ids, vectors, self.dim)
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
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(self) == 0 or len(queries) == 0:
            return _no_results(len(queries), k)
        sims, ids = self._index.search(queries, k)
        sims = np.where(ids < 0, -np.inf, sims).astype(np.float32)
        return sims, np.asarray(ids, dtype=np.int64)


class HnswIndex:
    """Approximate search: IndexHNSWFlat (inner product) with a Python id map and tombstones."""

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
        id_array, matrix = _prepare(ids, vectors, self.dim)
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
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(self) == 0 or len(queries) == 0:
            return _no_results(len(queries), k)
        fetch = min(len(self._labels), k + len(self._tombstones))
        sims, labels = self._index.search(queries, fetch)
        out_sims, out_ids = _no_results(len(queries), k)
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


def build_index(config: FaceIndexFlat | FaceIndexHnsw, dim: int) -> FaceIndex:
    """The backend named by ``config.type``."""
    if isinstance(config, FaceIndexHnsw):
        return HnswIndex(dim, config.m, config.ef_construction, config.ef_search)
    return FlatIndex(dim)
