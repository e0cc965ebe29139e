"""Workers start from a snapshot in the NATS object store, catch up with the database, and fall back to
the database (with a warning) when the snapshot is missing, damaged or another database's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
import pytest
from nats.aio.client import Client

from pipeline.adapters.bus import connect
from pipeline.adapters.database import make_engine
from pipeline.settings import Settings, parse
from tests.services import _server, free_port, nats_server_binary
from tests.watchlist.conftest import ADMIN, basis
from watchlist import snapshot_store
from watchlist.matcher import WatchlistMatcher
from watchlist.snapshot import read_header, read_snapshot, write_snapshot
from watchlist.store import NewPhoto, WatchlistStore
from workers.watchlist_sync import WatchlistSync

JPEG = b"\xff\xd8\xff\xd9"
PROFILES = 80


@pytest.fixture(autouse=True)
def one_faiss_thread() -> Iterator[None]:
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def settings_for(bucket: str, **snapshots: object) -> Settings:
    """The national-scale backend, trained even at this size, and a bucket of this test's own."""
    return parse(
        {
            "watchlist": {
                "index": {"type": "faiss_ivf_pq", "exact_below": 64},
                "snapshots": {"bucket": bucket, **snapshots},
            }
        }
    )


@pytest.fixture(scope="module")
def private_nats() -> Iterator[str]:
    """A NATS server of this module's own: these workers follow the one watchlist subject, on which
    other suites sharing the machine's server announce their own profiles."""
    port, store = free_port(), tempfile.mkdtemp(prefix="safecity-snapshot-nats-")
    argv = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store]
    try:
        with _server(argv, port, "nats-server"):
            yield f"nats://127.0.0.1:{port}"
    finally:
        shutil.rmtree(store, ignore_errors=True)


@pytest.fixture
async def nc(private_nats: str) -> AsyncIterator[Client]:
    client = await connect(private_nats, "test-watchlist-snapshot")
    yield client
    await client.drain()


@pytest.fixture
async def bucket(nc: Client) -> AsyncIterator[str]:
    name = f"test_wl_{uuid.uuid4().hex[:10]}"
    yield name
    with contextlib.suppress(Exception):  # never created
        await nc.jetstream().delete_object_store(name)


def fresh_store(url: str) -> WatchlistStore:
    store = WatchlistStore(make_engine(url))
    store.create_schema()
    return store


def enrol(store: WatchlistStore, vectors: np.ndarray, name: str = "P") -> list[int]:
    return [
        store.add_profile(
            f"{name} {i}",
            "wanted",
            [NewPhoto(JPEG, JPEG, 10, 10, v)],
            "mobilefacenet",
            basis=basis(),
            proposed_by=ADMIN,
            approved_by=ADMIN,
        ).profile_id
        for i, v in enumerate(vectors)
    ]


def best(matcher: WatchlistMatcher, vector: np.ndarray) -> int | None:
    found = matcher.match(vector[None], top_k=1)[0]
    return found[0].profile_id if found and found[0].passes else None


async def publish(nc: Client, store: WatchlistStore, settings: Settings) -> str:
    publisher = WatchlistSync(nc.jetstream(), WatchlistMatcher(settings), store, settings)
    await publisher.start()
    name = await publisher.publish()
    await publisher.stop()
    assert name is not None
    return name


async def test_snapshot_round_trip_through_the_object_store(
    nc: Client, bucket: str, database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(bucket)
    store = fresh_store(database_url)
    enrol(store, unit(np.random.default_rng(1), PROFILES))
    publisher = WatchlistSync(nc.jetstream(), WatchlistMatcher(settings), store, settings)
    await publisher.start()
    assert publisher.source == "database", "nothing to start from yet"
    name = await publisher.publish()
    assert name is not None and await publisher.publish() is None, "unchanged: nothing new to publish"
    await publisher.stop()

    (stored,) = await snapshot_store.list_snapshots(nc.jetstream(), bucket)
    assert stored.name == name and stored.header.revision == store.revision() == PROFILES
    assert (stored.header.index_kind, stored.header.embeddings) == ("faiss_ivf_pq", PROFILES)
    path = tmp_path / "downloaded"
    size = await snapshot_store.download(nc.jetstream(), bucket, name, path, timeout_s=30)
    assert size == path.stat().st_size == stored.size
    header = read_header(path)[0]
    assert header.describe() == stored.header.describe()
    state = read_snapshot(path)
    assert sorted(state.owners.embedding_ids.tolist()) == list(range(1, PROFILES + 1))
    await (await nc.jetstream().object_store(bucket)).delete(name)
    with pytest.raises(snapshot_store.SnapshotUnavailable):
        await snapshot_store.download(nc.jetstream(), bucket, name, path, timeout_s=30)


async def test_worker_starts_from_the_snapshot_and_catches_up_with_later_changes(
    nc: Client, bucket: str, database_url: str
) -> None:
    settings = settings_for(bucket, catchup_margin_s=0)  # no margin: only what changed after the snapshot
    store = fresh_store(database_url)
    rng = np.random.default_rng(2)
    vectors = unit(rng, PROFILES + 1)
    ids = enrol(store, vectors[:PROFILES])
    await publish(nc, store, settings)
    # After the snapshot: one enrolment, one removal (never announced: NATS was away, say).
    (newcomer,) = enrol(store, vectors[PROFILES:], name="Newcomer")
    store.remove_profile(ids[3], ADMIN, "warrant withdrawn")

    matcher = WatchlistMatcher(settings)
    worker = WatchlistSync(nc.jetstream(), matcher, store, settings)
    await worker.start()
    try:
        assert worker.source.startswith("snapshot-")
        assert worker.last_catch_up == 2, "only the two profiles changed since were read from the database"
        assert matcher.loaded_revision == store.revision() == PROFILES + 2
        assert best(matcher, vectors[PROFILES]) == newcomer
        assert best(matcher, vectors[3]) is None
        assert [best(matcher, v) for v in vectors[:3]] == ids[:3]
        assert len(matcher) == PROFILES and await worker.resync() is False
        # Running: a removal that was never announced is caught by the next resync, incrementally.
        store.remove_profile(ids[4], ADMIN, "warrant withdrawn")
        assert await worker.resync() is True and worker.last_catch_up == 1
        assert best(matcher, vectors[4]) is None and len(matcher) == PROFILES - 1
    finally:
        await worker.stop()


@pytest.mark.parametrize("case", ["missing", "damaged", "another database"])
async def test_unusable_snapshot_falls_back_to_the_database_with_a_warning(
    nc: Client, bucket: str, database_url: str, tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(bucket)
    store = fresh_store(database_url)
    vectors = unit(np.random.default_rng(3), PROFILES)
    ids = enrol(store, vectors)
    if case == "damaged":
        path = tmp_path / "snapshot"
        matcher = WatchlistMatcher(settings)
        matcher.load(store)
        header = matcher.export(datetime.now(UTC), "mobilefacenet", lambda state: write_snapshot(state, path))
        data = bytearray(path.read_bytes())
        data[len(data) // 3] ^= 0xFF  # inside the exact vectors: only the CRC can tell
        path.write_bytes(bytes(data))
        await snapshot_store.publish(nc.jetstream(), bucket, path, header, keep=2)
    elif case == "another database":
        other = fresh_store(f"sqlite:///{tmp_path / 'other.db'}")
        enrol(other, unit(np.random.default_rng(4), PROFILES))  # same ids, other people
        await publish(nc, other, settings)

    matcher = WatchlistMatcher(settings)
    worker = WatchlistSync(nc.jetstream(), matcher, store, settings)
    with caplog.at_level(logging.WARNING, logger="workers.watchlist_sync"):
        await worker.start()
    try:
        assert worker.source == "database"
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        expected = {
            "missing": "no object store bucket",
            "damaged": "CRC mismatch",
            "another database": "a snapshot of another watchlist?",
        }[case]
        assert any(expected in w for w in warnings), warnings
        assert any("building the index from the database" in w for w in warnings), warnings
        assert [best(matcher, v) for v in vectors[::10]] == ids[::10]
    finally:
        await worker.stop()


def test_cli_publishes_a_snapshot_only_when_the_watchlist_changed(
    private_nats: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nats_url = private_nats
    from safecity_cli.main import main

    bucket = f"test_wl_{uuid.uuid4().hex[:10]}"
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SAFECITY_DATABASE_URL", database)
    monkeypatch.setenv("SAFECITY_NATS_URL", nats_url)
    monkeypatch.setenv("SAFECITY_WATCHLIST__SNAPSHOTS__BUCKET", bucket)
    config = tmp_path / "safecity.yaml"
    config.write_text("{}\n")
    store = fresh_store(database)
    enrol(store, unit(np.random.default_rng(5), 3))

    async def listed() -> list[snapshot_store.StoredSnapshot]:
        client = await connect(nats_url, "test-watchlist-snapshot-cli")
        try:
            return await snapshot_store.list_snapshots(client.jetstream(), bucket)
        finally:
            await client.drain()

    async def delete_bucket() -> None:
        client = await connect(nats_url, "test-watchlist-snapshot-cli")
        with contextlib.suppress(Exception):
            await client.jetstream().delete_object_store(bucket)
        await client.drain()

    try:
        outputs = []
        for _ in range(2):
            assert main(["watchlist", "snapshot", "--config", str(config)]) == 0
            outputs.append(capsys.readouterr().out)
        assert ['"published": 1' in outputs[0], '"published": 0' in outputs[1]] == [True, True], outputs
        (stored,) = asyncio.run(listed())
        # The first run also created the default watch lists and put the three on "Wanted" (a revision).
        assert (stored.header.index_kind, stored.header.embeddings, stored.header.revision) == (
            "faiss_flat",
            3,
            store.revision(),
        )
    finally:
        asyncio.run(delete_bucket())
