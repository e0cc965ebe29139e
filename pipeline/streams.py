"""JetStream stream definitions, created idempotently by whichever service starts first."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from pipeline import subjects

_DAY_S = 86_400.0


def hits_stream_config() -> StreamConfig:
    """Hits must not be lost: file storage, kept 7 days, deduplicated by Nats-Msg-Id for 2 minutes."""
    return StreamConfig(
        name=subjects.HITS_STREAM,
        subjects=subjects.HITS_STREAM_SUBJECTS,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=7 * _DAY_S,
        max_bytes=2 * 1024**3,
        discard=DiscardPolicy.OLD,
        duplicate_window=120.0,
    )


def plates_stream_config() -> StreamConfig:
    """Plate reads (every vehicle pass): file storage, kept 30 days for investigations, then dropped."""
    return StreamConfig(
        name=subjects.PLATES_STREAM,
        subjects=subjects.PLATES_STREAM_SUBJECTS,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=30 * _DAY_S,
        max_bytes=4 * 1024**3,
        discard=DiscardPolicy.OLD,
        duplicate_window=120.0,
    )


def watchlist_stream_config() -> StreamConfig:
    """Watchlist changes, replayable so a worker that was briefly away catches up."""
    return StreamConfig(
        name=subjects.WATCHLIST_STREAM,
        subjects=subjects.WATCHLIST_STREAM_SUBJECTS,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=30 * _DAY_S,
        max_msgs=1_000_000,
        discard=DiscardPolicy.OLD,
        duplicate_window=120.0,
    )


def dispatch_stream_config() -> StreamConfig:
    """Dispatch notifications to officers, kept until read by each officer's durable consumer (7 days)."""
    return StreamConfig(
        name=subjects.DISPATCH_STREAM,
        subjects=subjects.DISPATCH_STREAM_SUBJECTS,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=7 * _DAY_S,
        max_bytes=1024**3,
        discard=DiscardPolicy.OLD,
        duplicate_window=120.0,
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream if it does not exist; leave an existing one as it is."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
