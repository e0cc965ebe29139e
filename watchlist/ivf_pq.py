"""``faiss_ivf_pq``: inverted lists of 4-bit PQ codes for the shortlist, exact vectors to rank it.

Why (bench/watchlist_scale.py, 1.5M synthetic faces fitted to MobileFaceNet): face embeddings spread
almost uniformly over the sphere and a query meets its enrolled twin at only ~0.7 similarity, so a
graph (HNSW) or a few probed lists often miss the twin. Recall follows the share of the lists scanned;
4-bit fast-scan codes (SIMD table look-ups, m/2 bytes a vector) make scanning a third of 1.5M vectors
cost about a millisecond, and re-ranking a few hundred candidates with the exact vectors returns the
true similarities, so thresholds mean what they mean with exact search.

Every vector has a *slot*; its exact vector (the re-ranking store, and what retraining reads) is kept
in numpy, ``_slot_ids[slot]`` is its embedding id, and FAISS labels codes by slot. The vectors live in
two arrays: a base (a snapshot's or a training's) and a small one that enrolments append to, so adding
one face to 1.5M never copies the base under the matcher's lock. Replacing or removing a vector frees
its slot and takes its codes out of the lists at once (``remove_ids``); the arrays are compacted once
freed slots pass a quarter. Below ``exact_below`` vectors nothing is trained and search is exact; the
lists are trained when the index reaches it and again whenever it has grown fourfold since, so the list
count follows the size.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, cast

import faiss
import numpy as np
import numpy.typing as npt

from pipeline.settings.watchlist import FaceIndexIvfPq
from watchlist.index_base import (
    FloatArray,
    IdArray,
    IndexState,
    StateError,
    as_queries,
    no_results,
    prepare,
    state_array,
)

log = logging.getLogger(__name__)

_TRAIN_PER_LIST = 64  # k-means sample: 64 vectors a list is plenty (FAISS warns below 39)
_TRAIN_SEED = 20_240_601


def auto_nlist(size: int) -> int:
    """A power of two near sqrt(size), at least 16: about as many lists as vectors in each."""
    return int(2 ** max(4, round(np.log2(max(size, 1)) / 2)))


class IvfPqIndex:
    KIND = "faiss_ivf_pq"
    COMPACT_FRACTION = 0.25
    RETRAIN_GROWTH = 4

    def __init__(self, dim: int, config: FaceIndexIvfPq) -> None:
        if dim % config.pq_m:
            raise ValueError(f"pq_m={config.pq_m} must divide the embedding size {dim}")
        self.dim = dim
        self._config = config
        # Exact vectors of slots [0, len(_base)) in _base, of later slots in _extra: an enrolment after
        # a restore appends to the small array instead of copying 768 MB under the matcher's lock.
        self._base: npt.NDArray[np.float32] = np.zeros((0, dim), dtype=np.float32)
        self._extra: npt.NDArray[np.float32] = np.zeros((0, dim), dtype=np.float32)
        self._slot_ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._alive: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._used = 0  # slots handed out; the arrays may be longer (capacity)
        self._slot_of: dict[int, int] = {}  # live embedding id -> slot
        self._ivf: faiss.IndexIVFPQFastScan | None = None
        self._trained_size = 0

    def __len__(self) -> int:
        return len(self._slot_of)

    @property
    def nlist(self) -> int:
        """Lists of the trained index; 0 while the index is small enough to search exactly."""
        return int(self._ivf.nlist) if self._ivf is not None else 0

    @property
    def nprobe(self) -> int:
        return max(1, round(self.nlist * self._config.probe_fraction)) if self._ivf is not None else 0

    @property
    def free_slots(self) -> int:
        return self._used - len(self)

    # -- changes ---------------------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | IdArray, vectors: FloatArray) -> None:
        id_array, matrix = prepare(ids, vectors, self.dim)
        if len(id_array) == 0:
            return
        keep = np.ones(len(id_array), dtype=bool)
        replaced: list[int] = []
        if self._slot_of:
            for row, embedding_id in enumerate(id_array.tolist()):
                slot = self._slot_of.get(embedding_id)
                if slot is None:
                    continue
                if np.array_equal(self._rows(np.asarray([slot]))[0], matrix[row]):
                    keep[row] = False  # a replayed change: nothing to do
                else:
                    del self._slot_of[embedding_id]
                    replaced.append(slot)
        self._free(replaced)
        if not keep.all():  # (indexing with an all-true mask would copy a 1.5M-row matrix for nothing)
            id_array, matrix = id_array[keep], matrix[keep]
        if len(id_array) == 0:
            return
        slots = self._append(id_array, matrix)
        if self._ivf is not None:
            self._ivf.add_with_ids(matrix, slots)
        self._maybe_retrain()

    def remove(self, ids: Sequence[int] | IdArray) -> int:
        slots = [
            slot
            for embedding_id in np.asarray(ids, dtype=np.int64).reshape(-1).tolist()
            if (slot := self._slot_of.pop(embedding_id, None)) is not None
        ]
        self._free(slots)
        return len(slots)

    def _append(self, ids: IdArray, matrix: FloatArray) -> IdArray:
        start, stop = self._used, self._used + len(ids)
        if stop > len(self._slot_ids):
            capacity = max(stop, len(self._slot_ids) * 5 // 4 + 1024)  # a quarter spare, not double
            self._slot_ids = _grown(self._slot_ids, capacity)
            self._alive = _grown(self._alive, capacity)
        base = len(self._base)
        if start == 0 and base == 0:  # a bulk load into an empty index: one exact-size copy
            self._base, base = matrix.copy(), stop
        elif stop - base > len(self._extra):
            self._extra = _grown(self._extra, max(stop - base, len(self._extra) * 5 // 4 + 1024))
        if stop > base:
            self._extra[start - base : stop - base] = matrix
        self._slot_ids[start:stop] = ids
        self._alive[start:stop] = True
        self._used = stop
        self._slot_of.update(zip(ids.tolist(), range(start, stop), strict=True))
        return np.arange(start, stop, dtype=np.int64)

    def _free(self, slots: list[int]) -> None:
        if not slots:
            return
        freed = np.asarray(slots, dtype=np.int64)
        self._alive[freed] = False
        if self._ivf is not None:
            self._ivf.remove_ids(faiss.IDSelectorBatch(freed))
        if self.free_slots > max(64, self.COMPACT_FRACTION * self._used):
            self._compact()

    def _compact(self) -> None:
        """Drop freed slots: live vectors move to slots 0..n-1 and their codes are re-added."""
        live = np.flatnonzero(self._alive[: self._used])
        if len(live) < self._used:
            self._base = self._rows(live)
        elif self._used > len(self._base):  # nothing freed: only the appended vectors move
            self._base = np.concatenate([self._base, self._extra[: self._used - len(self._base)]])
        self._extra = np.zeros((0, self.dim), dtype=np.float32)
        self._slot_ids = self._slot_ids[live]
        self._alive = np.ones(len(live), dtype=bool)
        self._used = len(live)
        self._slot_of = dict(zip(self._slot_ids.tolist(), range(len(live)), strict=True))
        if self._ivf is not None:
            self._ivf.reset()  # keeps the training
            self._ivf.add_with_ids(self._base, np.arange(len(live), dtype=np.int64))

    def _maybe_retrain(self) -> None:
        """Train on reaching ``exact_below``; retrain after growing fourfold, so nlist follows the size."""
        threshold = (
            self._config.exact_below if self._ivf is None else self.RETRAIN_GROWTH * self._trained_size
        )
        if len(self) >= threshold:
            self._train()

    def _train(self) -> None:
        started = time.perf_counter()
        self._compact()
        size = self._used
        nlist = self._config.nlist or auto_nlist(size)
        nlist = min(nlist, max(1, size // 4))  # k-means needs points to spare
        factory = f"IVF{nlist},PQ{self._config.pq_m}x4fs"  # the factory returns the concrete type
        ivf = cast(
            faiss.IndexIVFPQFastScan, faiss.index_factory(self.dim, factory, faiss.METRIC_INNER_PRODUCT)
        )
        ivf.cp.min_points_per_centroid = ivf.pq.cp.min_points_per_centroid = 1  # small sets train quietly
        rng = np.random.default_rng(_TRAIN_SEED)
        sample_size = min(size, _TRAIN_PER_LIST * nlist)
        sample = np.sort(rng.choice(size, size=sample_size, replace=False))
        ivf.train(self._base[sample])
        ivf.add_with_ids(self._base, np.arange(size, dtype=np.int64))
        self._ivf = ivf
        self._trained_size = size
        log.info(
            "face index trained: %d vectors, %d lists, %.1fs", size, nlist, time.perf_counter() - started
        )

    # -- search ----------------------------------------------------------------------------------------

    def search(self, vectors: FloatArray, k: int) -> tuple[FloatArray, IdArray]:
        queries = as_queries(vectors, self.dim)
        if len(self) == 0 or len(queries) == 0:
            return no_results(len(queries), k)
        if self._ivf is None:
            return self._exact(queries, k)
        params = faiss.SearchParametersIVF()
        params.nprobe = self.nprobe
        shortlist = min(max(k, self._config.rerank), len(self))
        _, candidates = self._ivf.search(queries, shortlist, params=params)
        out_sims, out_ids = no_results(len(queries), k)
        for row, query in enumerate(queries):
            slots = candidates[row]
            slots = slots[slots >= 0]
            if len(slots):
                self._fill(out_sims[row], out_ids[row], slots, self._rows(slots) @ query)
        return out_sims, out_ids

    def _exact(self, queries: FloatArray, k: int) -> tuple[FloatArray, IdArray]:
        extra = self._extra[: self._used - len(self._base)]
        sims = np.concatenate([queries @ self._base.T, queries @ extra.T], axis=1)
        live = np.flatnonzero(self._alive[: self._used])
        out_sims, out_ids = no_results(len(queries), k)
        for row in range(len(queries)):
            self._fill(out_sims[row], out_ids[row], live, sims[row, live])
        return out_sims, out_ids

    def _rows(self, slots: npt.NDArray[np.int64]) -> FloatArray:
        """The exact vectors of ``slots``, from whichever array holds each."""
        base = len(self._base)
        in_base = slots < base
        if in_base.all():
            return self._base[slots]
        rows = np.empty((len(slots), self.dim), dtype=np.float32)
        rows[in_base] = self._base[slots[in_base]]
        rows[~in_base] = self._extra[slots[~in_base] - base]
        return rows

    def _fill(
        self, out_sims: FloatArray, out_ids: IdArray, slots: npt.NDArray[np.int64], sims: FloatArray
    ) -> None:
        """Write the best ``len(out_sims)`` of ``slots`` (by exact similarity ``sims``), best first."""
        take = min(len(out_sims), len(slots))
        best = np.argpartition(-sims, take - 1)[:take] if take < len(slots) else np.arange(len(slots))
        best = best[np.argsort(-sims[best], kind="stable")]
        out_sims[:take] = sims[best]
        out_ids[:take] = self._slot_ids[slots[best]]

    # -- snapshots -------------------------------------------------------------------------------------

    def export_state(self) -> IndexState:
        used = self._used
        extra = self._extra[: used - len(self._base)]
        arrays: dict[str, npt.NDArray[Any]] = {
            "vectors": np.concatenate([self._base, extra]) if len(extra) else self._base,
            "slot_ids": self._slot_ids[:used],
            "alive": self._alive[:used].view(np.uint8),
            "trained_size": np.asarray([self._trained_size], dtype=np.int64),
        }
        return IndexState(self.KIND, self._ivf, arrays)

    @classmethod
    def from_state(cls, dim: int, config: FaceIndexIvfPq, state: IndexState) -> IvfPqIndex:
        flat = state_array(state, "vectors", np.float32, cls.KIND)
        slot_ids = state_array(state, "slot_ids", np.int64, cls.KIND)
        alive = state_array(state, "alive", np.uint8, cls.KIND).astype(bool)
        trained_size = state_array(state, "trained_size", np.int64, cls.KIND)
        if flat.size != len(slot_ids) * dim or len(alive) != len(slot_ids) or len(trained_size) != 1:
            raise StateError("the ivf_pq state's arrays disagree in length")
        vectors = flat.reshape(-1, dim)
        ivf = state.faiss_index  # read_index gives the concrete type; downcast_index would not own it
        if ivf is not None and (
            not isinstance(ivf, faiss.IndexIVFPQFastScan) or ivf.d != dim or ivf.ntotal != int(alive.sum())
        ):
            raise StateError("the ivf_pq lists do not match the live vectors")
        index = cls(dim, config)
        index._base = np.ascontiguousarray(vectors)  # the snapshot's array itself: no copy
        index._slot_ids = slot_ids
        index._alive = alive
        index._used = len(slot_ids)
        live = np.flatnonzero(alive)
        index._slot_of = dict(zip(slot_ids[live].tolist(), live.tolist(), strict=True))
        if len(index._slot_of) != len(live):
            raise StateError("the ivf_pq state maps one id to two live slots")
        index._ivf = ivf
        index._trained_size = int(trained_size[0])
        return index


def _grown(array: npt.NDArray[Any], capacity: int) -> npt.NDArray[Any]:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown
