"""JetStream stream definitions, created idempotently by whichever service starts first."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError, ServiceUnavailableError

from pipeline.subjects import Subjects

_DAY_S = 86_400.0
T = TypeVar("T")

log = logging.getLogger(__name__)

# Copies a NATS cluster keeps of each stream, KV bucket and object store this process creates
# (settings.nats_replicas): set once at start-up by use_replicas.
_replicas = 1


def use_replicas(count: int) -> None:
    """Create (and scale) streams, buckets and object stores with ``count`` replicas from now on."""
    global _replicas
    _replicas = count


def replicas() -> int:
    return _replicas


def _kept(
    name: str,
    subject_filter: list[str],
    *,
    days: float,
    max_bytes: int | None = None,
    max_msgs: int | None = None,
    duplicate_window: float = 120.0,
) -> StreamConfig:
    """A stream that must not lose messages: file storage, oldest dropped past its age or size limit,
    deduplicated by Nats-Msg-Id within ``duplicate_window`` seconds."""
    return StreamConfig(
        name=name,
        subjects=subject_filter,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=days * _DAY_S,
        max_bytes=max_bytes,
        max_msgs=max_msgs,
        discard=DiscardPolicy.OLD,
        duplicate_window=duplicate_window,
    )


def hits_stream_config(names: Subjects) -> StreamConfig:
    """Hits must not be lost: kept 7 days."""
    return _kept(names.hits_stream, names.stream_subjects("hits"), days=7, max_bytes=2 * 1024**3)


def plates_stream_config(names: Subjects) -> StreamConfig:
    """Plate reads (every vehicle pass): kept 30 days for investigations, then dropped."""
    return _kept(names.plates_stream, names.stream_subjects("plates"), days=30, max_bytes=4 * 1024**3)


def watchlist_stream_config(names: Subjects) -> StreamConfig:
    """Watchlist changes, replayable so a worker that was briefly away catches up."""
    return _kept(names.watchlist_stream, names.stream_subjects("watchlist"), days=30, max_msgs=1_000_000)


def dispatch_stream_config(names: Subjects) -> StreamConfig:
    """Dispatch notifications to officers, kept until read by each officer's durable consumer (7 days)."""
    return _kept(names.dispatch_stream, names.stream_subjects("dispatch"), days=7, max_bytes=1024**3)


def records_stream_config(names: Subjects) -> StreamConfig:
    """Officers' records notices and bulletins, kept 7 days for officers who were offline."""
    return _kept(
        names.records_stream,
        names.stream_subjects("records"),
        days=7,
        max_bytes=512 * 1024**2,
        duplicate_window=300.0,
    )


def checkins_stream_config(names: Subjects) -> StreamConfig:
    """Hotel check-ins to screen (ids only): kept 7 days, so none is left unscreened by a restart."""
    return _kept(names.checkins_stream, names.stream_subjects("checkins"), days=7, max_bytes=256 * 1024**2)


def audit_anchors_stream_config(names: Subjects) -> StreamConfig:
    """Audit chain heads: kept for ever, and nobody may delete or purge them (not even an administrator
    of the database, whose rows they vouch for)."""
    return StreamConfig(
        name=names.audit_anchors_stream,
        subjects=names.stream_subjects("audit.anchors"),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        deny_delete=True,
        deny_purge=True,
        duplicate_window=120.0,
    )


def deadletters_stream_config(names: Subjects) -> StreamConfig:
    """Messages that can never be handled, kept 90 days for an administrator to read, replay or drop."""
    return _kept(names.deadletters_stream, names.stream_subjects("deadletters"), days=90, max_bytes=1024**3)


async def patiently(what: str, setup: Callable[[], Awaitable[T]], budget_s: float = 60.0) -> T:
    """Run a JetStream set-up call, again while JetStream does not answer in time: a cluster just
    started, or one that lost a node, elects its leaders for some seconds. The calls are idempotent
    (what a timed-out call created is found by the next)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    delay = 0.5
    while True:
        try:
            return await setup()
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError, ServiceUnavailableError) as exc:
            if loop.time() + delay > deadline:
                raise
            log.warning("%s: JetStream did not answer (%r); trying again in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream if it does not exist (with the configured replicas); leave an existing one as it
    is but for its replica count, which follows the setting."""
    await patiently(f"stream {config.name}", lambda: _ensure_stream(js, config))


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(dataclasses.replace(config, num_replicas=_replicas))
        return
    await _scale(js, info.config)


async def match_replicas(js: JetStreamContext, stream: str) -> None:
    """Scale an existing stream (a KV bucket's or object store's too) to the configured replicas, so a
    deployment grown from one NATS server to a cluster keeps its data on several nodes. A cluster too
    small for it refuses; that is logged and the stream left as it was."""
    await _scale(js, (await js.stream_info(stream)).config)


async def _scale(js: JetStreamContext, config: StreamConfig) -> None:
    if (config.num_replicas or 1) == _replicas:
        return
    try:
        await js.update_stream(dataclasses.replace(config, num_replicas=_replicas))
    except Exception as exc:
        log.warning("stream %s: could not change replicas to %d: %s", config.name, _replicas, exc)
        return
    log.info("stream %s: now kept on %d NATS servers", config.name, _replicas)
