"""The data of the watchlist-scale benchmark: a synthetic gallery and queries on disk, and the exact top-1
of every query (the truth recall is measured against). See bench/watchlist_scale.py."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from watchlist_synth import DIM, FaceSpace


@dataclass
class Workload:
    gallery: Path
    queries: Path  # mated first, then non-mated
    mated: int
    truth_ids: Path  # exact top-1 row per query
    truth_sims: Path
    own_sims: Path  # mated: similarity to the query's own enrolled photo


def generate(space: FaceSpace, n: int, mated: int, non_mated: int, seed: int, workdir: Path) -> Workload:
    rng = np.random.default_rng(seed + 1)
    chosen = np.sort(rng.choice(n, size=mated, replace=False))
    gallery = np.lib.format.open_memmap(workdir / "gallery.npy", mode="w+", dtype=np.float32, shape=(n, DIM))
    mated_centres = np.zeros((mated, DIM), dtype=np.float32)
    start = 0
    for centres, photos in space.gallery(n, seed):
        stop = start + len(photos)
        gallery[start:stop] = photos
        inside = (chosen >= start) & (chosen < stop)
        mated_centres[inside] = centres[chosen[inside] - start]
        start = stop
    gallery.flush()
    query_rng = np.random.default_rng(seed + 2)
    mated_queries = space.photos(query_rng, mated_centres)
    strangers = space.photos(query_rng, space.centres(query_rng, non_mated))
    queries = np.concatenate([mated_queries, strangers])
    np.save(workdir / "queries.npy", queries)
    np.save(workdir / "chosen.npy", chosen)
    own = np.einsum("ij,ij->i", mated_queries, np.asarray(gallery[chosen]))
    np.save(workdir / "own_sims.npy", own.astype(np.float32))
    del gallery
    return workload_in(workdir, mated)


def workload_in(workdir: Path, mated: int) -> Workload:
    """The files of a workload generated into ``workdir`` (by ``generate``, in this or an earlier run)."""
    return Workload(
        workdir / "gallery.npy",
        workdir / "queries.npy",
        mated,
        workdir / "truth_ids.npy",
        workdir / "truth_sims.npy",
        workdir / "own_sims.npy",
    )


def exact_truth(work: Workload, chunk: int = 250_000) -> float:
    """Top-1 of every query by brute force, a chunk of the gallery at a time; returns seconds taken."""
    gallery = np.load(work.gallery, mmap_mode="r")
    queries = np.load(work.queries)
    best_sims = np.full(len(queries), -np.inf, dtype=np.float32)
    best_ids = np.full(len(queries), -1, dtype=np.int64)
    started = time.perf_counter()
    for start in range(0, len(gallery), chunk):
        index = faiss.IndexFlatIP(DIM)
        index.add(np.ascontiguousarray(gallery[start : start + chunk]))
        sims, ids = index.search(queries, 1)
        better = sims[:, 0] > best_sims
        best_sims[better] = sims[better, 0]
        best_ids[better] = ids[better, 0] + start
    np.save(work.truth_ids, best_ids)
    np.save(work.truth_sims, best_sims)
    return time.perf_counter() - started
