"""The database's migrations (Alembic): ``upgrade(engine)`` brings any database to the newest revision.

Every service runs it at start (the command centre, workers, the CLIs through their stores'
``create_schema``), and ``safecity db upgrade`` runs it by hand. Replicas starting together take turns:
on PostgreSQL an advisory lock held for the migration's transaction, on SQLite a lock on a file beside the
database. A database made before migrations existed (its tables present, no ``alembic_version``) is
adopted by the baseline revision, which creates only the tables and columns it lacks.

``revision --autogenerate`` compares with ``complete_metadata()``: the one metadata with every table
module imported (see README, "Database migrations").
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import threading
import weakref
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlalchemy.engine import make_url

from pipeline.adapters.database import metadata

# Every module that declares tables on ``metadata`` (imported by name: the command centre's tables live
# above this floor, and a worker that only upgrades never needs them).
TABLE_MODULES = (
    "watchlist.tables",
    "watchlist.vehicle_tables",
    "command_center.alerts.tables",
    "command_center.alerts.lifecycle_tables",
    "command_center.dispatch.tables",
    "command_center.records.tables",
    "command_center.records.arrest_tables",
    "command_center.records.crime_tables",
    "command_center.records.library_tables",
    "command_center.imports.tables",
    "command_center.records.missing_tables",
    "command_center.records.reminder_tables",
    "command_center.security.users",
    "command_center.security.apikeys",
    "command_center.security.audit",
)
_ADVISORY_KEY = 0x5AFEC171  # pg_advisory_xact_lock: one migrating replica at a time
_upgraded: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines at head in this process
_alembic = threading.Lock()  # Alembic's `context` and `op` are process-wide: one migration at a time


def complete_metadata() -> MetaData:
    """The metadata with every table of the database on it."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return metadata


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for this package's scripts (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files(__name__)))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def head() -> str:
    """The newest revision."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at; None before any migration ran."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    version: str | None = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return version


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the database to ``revision``; returns the revision it was at (cheap when at head already:
    nothing is locked or logged, and an engine found at head is not looked at again in this process)."""
    if revision == "head" and engine in _upgraded:
        return head()
    if revision == "head" and (at := current(engine)) == head():
        _upgraded.add(engine)
        return at
    with _alembic, _serialised(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})
            conn.execute(text("SET LOCAL statement_timeout = 0"))  # a backfill may take minutes
        at = _revision(conn)  # another replica may have migrated while this one waited
        command.upgrade(config(conn), revision)
    if revision == "head":
        _upgraded.add(engine)
    return at


@contextlib.contextmanager
def _serialised(engine: Engine) -> Iterator[None]:
    """On a SQLite file, an exclusive lock on ``<file>.migrate-lock`` while migrating."""
    database = make_url(engine.url).database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# Indexes the migrations make that the metadata cannot declare (expression and operator-class GIN indexes
# on PostgreSQL): autogenerate and the schema tests leave them alone.
UNDECLARED_INDEXES = frozenset(
    {
        "ix_cro_search_keys_trgm",
        "ix_cro_search_keys_codes",
        "ix_cro_name_tokens_trgm",
        "ix_library_documents_search",
    }
)
# SQLite's full-text tables (a virtual table and the shadow tables FTS5 keeps for it), made by migrations.
UNDECLARED_TABLE_PREFIXES = ("library_fts",)


def include_object(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    """Autogenerate's filter: everything but ``UNDECLARED_INDEXES``, the full-text tables and Alembic's own
    table."""
    if kind == "table" and name is not None and name.startswith(UNDECLARED_TABLE_PREFIXES):
        return False
    return not (kind == "index" and name in UNDECLARED_INDEXES)
