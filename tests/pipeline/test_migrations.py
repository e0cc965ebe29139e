"""The database's migrations on SQLite and PostgreSQL: a fresh database, one of the release before
migrations (tests/fixtures/pre_migrations.db), replicas upgrading at once, and ``safecity db``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, MetaData, Table, insert, inspect, select

from pipeline.adapters import migrations
from pipeline.adapters.database import UtcDateTime, make_engine
from safecity_cli.main import main

PRE_MIGRATIONS = Path(__file__).resolve().parents[1] / "fixtures" / "pre_migrations.db"
# Tables of what migration 0006 derives from the persons (their search keys and name words): rewritten.
DERIVED = {"cro_search_keys", "cro_name_tokens"}


def _differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database equal to the metadata (nothing, at head)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": migrations.include_object}
        )
        return list(compare_metadata(context, migrations.complete_metadata()))


def _contents(
    engine: Engine, columns: dict[str, list[str]] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order (as stored: the SQLite file's own values); with
    ``columns``, only those tables and columns (what a database had before later revisions added some)."""
    reflected = MetaData()
    reflected.reflect(engine)
    with engine.connect() as conn:
        return {
            name: sorted(map(tuple, conn.execute(select(*_columns(table, columns))).all()), key=repr)
            for name, table in reflected.tables.items()
            if name != "alembic_version" and (columns is None or name in columns)
        }


def _columns(table: Table, columns: dict[str, list[str]] | None) -> list[Column[Any]]:
    if columns is None:
        return list(table.columns)
    return [table.c[name] for name in columns[table.name]]


def _column_names(engine: Engine) -> dict[str, list[str]]:
    found = inspect(engine)
    return {name: [c["name"] for c in found.get_columns(name)] for name in found.get_table_names()}


def test_fresh_database_upgrades_to_the_metadata(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert migrations.current(engine) is None
        migrations.upgrade(engine)
        assert migrations.current(engine) == migrations.head()
        assert _differences(engine) == []
        assert "alerts" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_database_of_the_release_before_migrations_is_adopted_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(PRE_MIGRATIONS, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        before = _contents(engine)
        columns = _column_names(engine)
        assert migrations.current(engine) is None
        assert all(before[name] for name in ("alerts", "cro_persons", "audit_log", "staff_users", "profiles"))
        migrations.upgrade(engine)
        assert migrations.current(engine) == migrations.head()
        assert _differences(engine) == []
        kept = _contents(engine, columns)  # later revisions' new columns aside
        assert {n: rows for n, rows in kept.items() if n not in DERIVED} == {
            n: rows for n, rows in before.items() if n not in DERIVED
        }
        after = _contents(engine)
        # Tables of later migrations are there, empty (SQLite's full-text tables keep their own settings).
        added = {name for name in after if name not in before}
        assert "library_documents" in added
        assert all(
            not after[name]
            for name in added - DERIVED
            if not name.startswith(migrations.UNDECLARED_TABLE_PREFIXES)
        )
        # Search keys are derived from the persons: 0006 rewrote them from each person's texts.
        persons = {row[0] for row in before["cro_persons"]}
        assert {row[1] for row in after["cro_search_keys"]} == persons
        assert after["cro_name_tokens"]
    finally:
        engine.dispose()


def test_columns_added_after_the_first_release_are_added(tmp_path: Path) -> None:
    """A database older still: ``alerts.district`` and ``audit_log.keyed`` missing, as
    ``add_missing_columns`` once patched them in."""
    path = tmp_path / "older.db"
    shutil.copy(PRE_MIGRATIONS, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_alerts_district")
            conn.exec_driver_sql("ALTER TABLE alerts DROP COLUMN district")
            conn.exec_driver_sql("ALTER TABLE audit_log DROP COLUMN keyed")
        migrations.upgrade(engine)
        assert _differences(engine) == []
        with engine.connect() as conn:
            assert {r.district for r in conn.exec_driver_sql("SELECT district FROM alerts")} == {""}
            assert {r.keyed for r in conn.exec_driver_sql("SELECT keyed FROM audit_log")} == {0}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_replicas_upgrading_at_once_take_turns(empty_postgres_url: str) -> None:
    """Three processes (as three replicas starting together) run ``safecity db upgrade`` at once."""
    env = {**os.environ, "SAFECITY_DATABASE_URL": empty_postgres_url}
    env.pop("SAFECITY_CONFIG", None)
    command = [sys.executable, "-m", "safecity_cli.main", "db", "upgrade"]
    replicas = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(3)
    ]
    outputs = [replica.communicate(timeout=240)[0] for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0], outputs
    assert sum("upgraded from no revision" in output for output in outputs) == 1, outputs
    engine = make_engine(empty_postgres_url)
    try:
        assert migrations.current(engine) == migrations.head()
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_moments_are_stored_in_utc_and_read_back_aware(database_url: str) -> None:
    table = Table("moments", MetaData(), Column("at", UtcDateTime(), primary_key=True))
    engine = make_engine(database_url)
    karachi = timezone(timedelta(hours=5))
    try:
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(table).values(at=datetime(2026, 12, 1, 13, 30, tzinfo=karachi)))
            conn.execute(insert(table).values(at=datetime(2026, 12, 1, 9, 0)))  # naive: taken as UTC
        with engine.connect() as conn:
            read = conn.execute(select(table.c.at).order_by(table.c.at)).scalars().all()
            later = conn.execute(
                select(table.c.at).where(table.c.at > datetime(2026, 12, 1, 8, 45, tzinfo=UTC))
            )
            assert len(later.all()) == 1
        assert read == [datetime(2026, 12, 1, 8, 30, tzinfo=UTC), datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
        assert all(moment.tzinfo == UTC for moment in read)
    finally:
        engine.dispose()


def test_db_upgrade_and_current_commands(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAFECITY_DATABASE_URL", empty_database_url)
    monkeypatch.delenv("SAFECITY_CONFIG", raising=False)
    assert main(["db", "current"]) == 0
    assert "no revision" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert f"upgraded from no revision to {migrations.head()}" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == f"{migrations.head()} (newest)"


def test_db_upgrade_on_an_unreachable_database_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SAFECITY_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/nowhere")
    monkeypatch.delenv("SAFECITY_CONFIG", raising=False)
    assert main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}/nowhere unreachable" in err and "Traceback" not in err
