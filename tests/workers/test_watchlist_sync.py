"""A running worker's index follows enrolments and removals announced over NATS, without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from pipeline.adapters.bus import connect
from pipeline.adapters.database import make_engine
from pipeline.contracts import WatchlistChange
from pipeline.settings import parse
from tests.names import subjects
from tests.watchlist.conftest import ADMIN, basis
from watchlist.announce import announce
from watchlist.matcher import WatchlistMatcher
from watchlist.store import NewPhoto, WatchlistStore
from workers.watchlist_sync import WatchlistSync


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


async def wait_for(predicate: object, within_s: float = 5.0) -> bool:
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_changes_announced_after_start_reach_the_index(nats_url: str, tmp_path: Path) -> None:
    settings = parse({})
    store = WatchlistStore(make_engine(f"sqlite:///{tmp_path / 'w.db'}"))
    store.create_schema()
    jpeg = b"\xff\xd8\xff\xd9"
    existing = store.add_profile(
        "Existing",
        "wanted",
        [NewPhoto(jpeg, jpeg, 10, 10, unit(1))],
        "mobilefacenet",
        basis=basis(),
        proposed_by=ADMIN,
        approved_by=ADMIN,
    )
    matcher = WatchlistMatcher(settings)
    nc = await connect(nats_url, "test-sync")
    try:
        sync = WatchlistSync(nc.jetstream(), matcher, store)
        await sync.start()
        assert matcher.match(unit(1)[None], 1)[0][0].profile_id == existing.profile_id

        # Ids far above anything another test's store would use, so shared-server noise cannot collide.
        newcomer = WatchlistChange(
            action="upsert",
            profile_id=900_001,
            name="Newcomer",
            category="wanted",
            embedding_ids=[900_001],
            embeddings=[unit(2).tolist()],
            revision=10**9,
        )
        await announce(nc, subjects, newcomer)
        assert await wait_for(lambda: matcher.match(unit(2)[None], 1)[0][0].profile_id == 900_001)

        removal = WatchlistChange(
            action="remove", profile_id=900_001, embedding_ids=[900_001], revision=10**9 + 1
        )
        await announce(nc, subjects, removal)

        def gone() -> bool:
            best = matcher.match(unit(2)[None], 1)[0]
            return not best or best[0].profile_id != 900_001

        assert await wait_for(gone)
        await sync.stop()
    finally:
        await nc.drain()


async def test_a_change_that_was_never_announced_is_caught_by_the_resync(
    nats_url: str, tmp_path: Path
) -> None:
    settings = parse({})
    store = WatchlistStore(make_engine(f"sqlite:///{tmp_path / 'w.db'}"))
    store.create_schema()
    jpeg = b"\xff\xd8\xff\xd9"
    matcher = WatchlistMatcher(settings)
    nc = await connect(nats_url, "test-resync")
    try:
        sync = WatchlistSync(nc.jetstream(), matcher, store)
        await sync.start()
        assert await sync.resync() is False  # nothing new
        # Enrolled while NATS was unreachable: stored, never announced.
        offline = store.add_profile(
            "Offline",
            "wanted",
            [NewPhoto(jpeg, jpeg, 10, 10, unit(3))],
            "mobilefacenet",
            basis=basis(),
            proposed_by=ADMIN,
            approved_by=ADMIN,
        )
        assert not matcher.match(unit(3)[None], 1)[0]
        assert await sync.resync() is True
        assert matcher.match(unit(3)[None], 1)[0][0].profile_id == offline.profile_id
        assert sync.resyncs == 1
        await sync.stop()
    finally:
        await nc.drain()
