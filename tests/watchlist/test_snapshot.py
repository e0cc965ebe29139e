"""Snapshot files: a matcher's state round-trips for every backend; damage is refused, never parsed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import faiss
import numpy as np
import pytest

from pipeline.contracts import WatchlistChange
from pipeline.settings import Settings
from pipeline.settings.watchlist import FaceIndexFlat, FaceIndexHnsw, FaceIndexIvfPq
from watchlist.matcher import WatchlistMatcher
from watchlist.snapshot import (
    MAGIC,
    SnapshotError,
    read_header,
    read_snapshot,
    write_snapshot,
)

DIM = 128
TAKEN = datetime(2025, 11, 3, 9, 30, 15, 123456, tzinfo=UTC)
BACKENDS = {
    "faiss_flat": FaceIndexFlat(),
    "faiss_hnsw": FaceIndexHnsw(type="faiss_hnsw"),
    "faiss_ivf_pq": FaceIndexIvfPq(type="faiss_ivf_pq", exact_below=200),
}


@pytest.fixture(autouse=True)
def one_faiss_thread() -> Iterator[None]:
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def with_index(settings: Settings, kind: str) -> Settings:
    watchlist = settings.watchlist.model_copy(update={"index": BACKENDS[kind]})
    return settings.model_copy(update={"watchlist": watchlist})


def filled(settings: Settings, rng: np.random.Generator) -> tuple[WatchlistMatcher, np.ndarray]:
    """300 profiles with two embeddings each (ids 2p, 2p+1), some renamed or removed afterwards."""
    matcher = WatchlistMatcher(settings)
    vectors = unit(rng, 600)
    expiry = datetime(2026, 1, 1, tzinfo=UTC)
    for p in range(300):
        matcher.apply(
            WatchlistChange(
                action="upsert",
                profile_id=p,
                name=f"Person {p} — Ḥasan",
                category=("wanted", "missing", "hbt")[p % 3],
                embedding_ids=[2 * p, 2 * p + 1],
                embeddings=vectors[2 * p : 2 * p + 2].tolist(),
                revision=p + 1,
                expires_at=None if p == 7 else expiry + timedelta(days=p),
            )
        )
    for p in range(0, 300, 10):
        matcher.apply(WatchlistChange(action="remove", profile_id=p, revision=400 + p))
    return matcher, vectors


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_a_matcher_round_trips_through_a_snapshot_file(settings: Settings, kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    config = with_index(settings, kind)
    matcher, vectors = filled(config, rng)
    matcher.caught_up(123)
    path = tmp_path / "snap"
    header = matcher.export(TAKEN, "mobilefacenet", lambda state: write_snapshot(state, path))
    assert (header.revision, header.taken_at, header.index_kind) == (123, TAKEN, kind)
    assert (header.embeddings, header.profiles, header.dim) == (540, 270, DIM)
    assert read_header(path)[0].describe() == header.describe()

    state = read_snapshot(path)
    assert state.owners.names[0] == "Person 1 — Ḥasan" and state.taken_at == TAKEN
    restored = WatchlistMatcher(config)
    restored.restore(state)
    assert (len(restored), restored.profile_count(), restored.revision) == (540, 270, 123)
    queries = vectors + 0.3 * unit(rng, 600) / np.sqrt(2)
    assert restored.match(queries, top_k=3) == matcher.match(queries, top_k=3)
    best = restored.match(vectors[14:15], top_k=1)[0][0]
    assert (best.profile_id, best.name, best.category) == (7, "Person 7 — Ḥasan", "missing")
    assert restored.match(vectors[0:1], top_k=1)[0][0].profile_id != 0, "a removed profile stays removed"
    # The restored matcher keeps working: changes apply on top of the snapshot.
    assert not restored.apply(WatchlistChange(action="remove", profile_id=1, revision=100))  # stale
    restored.apply(WatchlistChange(action="remove", profile_id=1, revision=124))
    assert restored.match(vectors[2:3], top_k=1)[0][0].profile_id != 1


def test_expiry_survives_the_round_trip(settings: Settings, tmp_path: Path) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    matcher = WatchlistMatcher(settings, clock=lambda: now)
    v = unit(np.random.default_rng(2), 2)
    for p, expires in ((1, now - timedelta(seconds=1)), (2, now + timedelta(days=1))):
        matcher.apply(
            WatchlistChange(
                action="upsert",
                profile_id=p,
                name="P",
                category="wanted",
                embedding_ids=[p],
                embeddings=v[p - 1 : p].tolist(),
                expires_at=expires,
            )
        )
    path = tmp_path / "snap"
    matcher.export(now, "mobilefacenet", lambda state: write_snapshot(state, path))
    restored = WatchlistMatcher(settings, clock=lambda: now)
    restored.restore(read_snapshot(path))
    assert [m.profile_id for m in restored.match(v[0:1], top_k=2)[0]] == [2], "expired: never matched"


@pytest.fixture
def snapshot_file(settings: Settings, tmp_path: Path) -> Path:
    matcher, _ = filled(with_index(settings, "faiss_ivf_pq"), np.random.default_rng(3))
    path = tmp_path / "snap"
    matcher.export(TAKEN, "mobilefacenet", lambda state: write_snapshot(state, path))
    return path


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_damaged_section_is_refused_before_faiss_reads_it(snapshot_file: Path) -> None:
    header = read_header(snapshot_file)[0]
    for section in header.sections:  # every section, the FAISS one first
        damaged = snapshot_file.with_name(f"damaged-{section['name']}")
        damaged.write_bytes(snapshot_file.read_bytes())
        _flip(damaged, section["offset"] + section["length"] // 2)
        with pytest.raises(SnapshotError, match="CRC"):
            read_snapshot(damaged)


@pytest.mark.parametrize(
    "damage",
    ["truncated", "empty", "not a snapshot", "header damaged", "section outside"],
)
def test_files_that_are_not_whole_snapshots_are_refused(snapshot_file: Path, damage: str) -> None:
    data = snapshot_file.read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    elif damage == "not a snapshot":
        data = b"PK\x03\x04" + data[len(MAGIC) - 4 :]
    elif damage == "header damaged":
        data = data[:-40] + b"{" + data[-39:]
    else:
        data = data.replace(b'"offset": 8,', b'"offset": 999999999,', 1)
        assert data != snapshot_file.read_bytes()
    snapshot_file.write_bytes(data)
    with pytest.raises(SnapshotError):
        read_snapshot(snapshot_file)
