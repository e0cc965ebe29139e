"""Publish watchlist changes on JetStream so running workers update their index."""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.aio.client import Client
from nats.js.api import PubAck

from pipeline.adapters import transactions
from pipeline.adapters.streams import ensure_stream, watchlist_stream_config
from pipeline.contracts import WatchlistChange
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)


async def announce(nc: Client, names: Subjects, change: WatchlistChange) -> PubAck:
    """Publish ``change`` on the watchlist subject (creating the stream if missing), deduplicated by id."""
    js = nc.jetstream()
    await ensure_stream(js, watchlist_stream_config(names))
    return await js.publish(
        names.watchlist_changes(),
        change.to_bytes(),
        headers={"Nats-Msg-Id": str(change.event_id)},
    )


async def announce_committed(nc: Client, names: Subjects, change: WatchlistChange) -> None:
    """Announce ``change`` once the unit of work it was written in commits (workers read it from the
    database); a NATS hiccup is logged, not raised: a worker that misses the message catches up from the
    watchlist revision when it next loads."""

    async def publish() -> None:
        try:
            await announce(nc, names, change)
        except Exception:
            log.exception("watchlist change of profile %s stored but not announced", change.profile_id)

    await transactions.when_committed(publish)


async def _announce_once(
    nats_url: str, names: Subjects, change: WatchlistChange, connect_timeout: float
) -> None:
    errors: list[Exception] = []

    async def _record(exc: Exception) -> None:
        errors.append(exc)

    try:
        # allow_reconnect=False makes nats-py retry the first connect forever; one quick retry fails fast.
        nc = await nats.connect(
            servers=[u.strip() for u in nats_url.split(",") if u.strip()],
            connect_timeout=connect_timeout,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=_record,
        )
    except Exception as exc:
        raise ConnectionError(str(errors[-1]) if errors else repr(exc)) from None
    try:
        await announce(nc, names, change)
    finally:
        await nc.drain()


def announce_blocking(nats_url: str, names: Subjects, change: WatchlistChange, timeout: float = 5.0) -> bool:
    """Best-effort announce from synchronous code (the CLI). Returns False, logging why, if it failed.

    Must not be called from a running event loop; use ``announce`` there.
    """
    try:
        asyncio.run(asyncio.wait_for(_announce_once(nats_url, names, change, timeout), timeout * 2))
    except Exception as exc:  # any failure means "not announced"; workers catch up on restart
        reason = str(exc) or type(exc).__name__
        log.warning("watchlist change not announced on NATS %s: %s", nats_url, reason)
        return False
    return True
