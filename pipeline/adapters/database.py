"""Database engines: SQLite (embedded default) or PostgreSQL (production), chosen by URL; the one
``metadata`` every table of the database is declared on, and the one timestamp type its tables use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Dialect, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeDecorator

from pipeline.settings.database import DatabasePoolSettings

# Every table of the database (watch lists, alerts, records, security...) is declared on this one metadata;
# pipeline.adapters.migrations.tables imports every table module, so that it is complete.
metadata = MetaData()


def as_utc(value: datetime) -> datetime:
    """A moment in UTC; a naive one (as SQLite and older callers give) is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment: stored in UTC (``TIMESTAMP WITH TIME ZONE`` on PostgreSQL; SQLite keeps no offset, so
    the value is converted to UTC before it is written), read back timezone-aware in UTC on both."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, pool: DatabasePoolSettings | None = None) -> Engine:
    """An engine with sane per-backend settings (SQLite: WAL, foreign keys, busy timeout; PostgreSQL: the
    pool, connect and statement timeouts of ``pool``, defaults if None)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return _postgres_engine(url, pool or DatabasePoolSettings())


def _postgres_engine(url: str, pool: DatabasePoolSettings) -> Engine:
    connect_args: dict[str, Any] = {"connect_timeout": pool.connect_timeout_s}
    if pool.statement_timeout_s:
        connect_args["options"] = f"-c statement_timeout={round(pool.statement_timeout_s * 1000)}"
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.wait_s,
        connect_args=connect_args,
    )
