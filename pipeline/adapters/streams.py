"""JetStream stream definitions, created idempotently by whichever service starts first."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from pipeline import subjects

_DAY_S = 86_400.0


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


def hits_stream_config() -> StreamConfig:
    """Hits must not be lost: kept 7 days."""
    return _kept(subjects.HITS_STREAM, subjects.HITS_STREAM_SUBJECTS, days=7, max_bytes=2 * 1024**3)


def plates_stream_config() -> StreamConfig:
    """Plate reads (every vehicle pass): kept 30 days for investigations, then dropped."""
    return _kept(subjects.PLATES_STREAM, subjects.PLATES_STREAM_SUBJECTS, days=30, max_bytes=4 * 1024**3)


def watchlist_stream_config() -> StreamConfig:
    """Watchlist changes, replayable so a worker that was briefly away catches up."""
    return _kept(subjects.WATCHLIST_STREAM, subjects.WATCHLIST_STREAM_SUBJECTS, days=30, max_msgs=1_000_000)


def dispatch_stream_config() -> StreamConfig:
    """Dispatch notifications to officers, kept until read by each officer's durable consumer (7 days)."""
    return _kept(subjects.DISPATCH_STREAM, subjects.DISPATCH_STREAM_SUBJECTS, days=7, max_bytes=1024**3)


def records_stream_config() -> StreamConfig:
    """Officers' records notices and bulletins, kept 7 days for officers who were offline."""
    return _kept(
        subjects.RECORDS_STREAM,
        subjects.RECORDS_STREAM_SUBJECTS,
        days=7,
        max_bytes=512 * 1024**2,
        duplicate_window=300.0,
    )


def checkins_stream_config() -> StreamConfig:
    """Hotel check-ins to screen (ids only): kept 7 days, so none is left unscreened by a restart."""
    return _kept(subjects.CHECKINS_STREAM, subjects.CHECKINS_STREAM_SUBJECTS, days=7, max_bytes=256 * 1024**2)


def audit_anchors_stream_config() -> StreamConfig:
    """Audit chain heads: kept for ever, and nobody may delete or purge them (not even an administrator
    of the database, whose rows they vouch for)."""
    return StreamConfig(
        name=subjects.AUDIT_ANCHOR_STREAM,
        subjects=subjects.AUDIT_ANCHOR_STREAM_SUBJECTS,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        deny_delete=True,
        deny_purge=True,
        duplicate_window=120.0,
    )


def deadletters_stream_config() -> StreamConfig:
    """Messages that can never be handled, kept 90 days for an administrator to read, replay or drop."""
    return _kept(subjects.DEADLETTER_STREAM, subjects.DEADLETTER_STREAM_SUBJECTS, days=90, max_bytes=1024**3)


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream if it does not exist; leave an existing one as it is."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
