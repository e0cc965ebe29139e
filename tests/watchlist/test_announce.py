from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.api import DeliverPolicy

from pipeline.adapters.streams import ensure_stream, watchlist_stream_config
from pipeline.contracts import WatchlistChange
from tests.names import subjects
from watchlist.announce import announce, announce_blocking


@pytest.mark.parametrize("blocking", [False, True], ids=["async", "blocking"])
async def test_announce_reaches_a_jetstream_subscriber(nats_url: str, blocking: bool) -> None:
    change = WatchlistChange(
        action="upsert",
        profile_id=42,
        name="N",
        category="wanted",
        embedding_ids=[7],
        embeddings=[[0.5] * 128],
        revision=3,
    )
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, watchlist_stream_config(subjects))
        sub = await js.subscribe(
            subjects.watchlist_changes(), ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
        if blocking:
            assert await asyncio.to_thread(announce_blocking, nats_url, subjects, change, 5.0)
        else:
            ack = await announce(nc, subjects, change)
            assert ack.stream == subjects.watchlist_stream
        while True:  # other tests may publish on the same subject meanwhile: wait for ours
            got = WatchlistChange.from_bytes((await sub.next_msg(timeout=5)).data)
            if got.event_id == change.event_id:
                break
        assert got == change
        await sub.unsubscribe()
    finally:
        await nc.close()


def test_announce_blocking_returns_false_when_nats_is_down(caplog: pytest.LogCaptureFixture) -> None:
    change = WatchlistChange(action="remove", profile_id=1)
    assert announce_blocking("nats://127.0.0.1:1", subjects, change, timeout=1.0) is False
    assert "not announced" in caplog.text and "Connect call failed" in caplog.text
