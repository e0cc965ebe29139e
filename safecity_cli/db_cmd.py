"""``safecity db``: the database's migrations (``upgrade`` to the newest revision, ``current`` revision)."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.settings import Settings
from safecity_cli.main import EXIT_OK, CommandError


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "db",
        help="migrate the database",
        description="Bring the database (settings: database_url) to the newest schema, or show its revision.",
    )
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = actions.add_parser(
        "upgrade", parents=[parent], help="apply the migrations it lacks (safe while services run)"
    )
    upgrade.set_defaults(func=run_upgrade)
    current = actions.add_parser("current", parents=[parent], help="the revision it is at, and the newest")
    current.set_defaults(func=run_current)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.adapters import migrations

    with _database(settings) as engine:
        before = migrations.upgrade(engine)
        after = migrations.current(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        print(f"database {where}: at revision {after} (newest), nothing to do")
    else:
        print(f"database {where}: upgraded from {before or 'no revision'} to {after}")
    return EXIT_OK


def run_current(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.adapters import migrations

    with _database(settings) as engine:
        at = migrations.current(engine)
    head = migrations.head()
    state = "newest" if at == head else f"behind: newest is {head}; run `safecity db upgrade`"
    print(f"{at or 'no revision'} ({state})")
    return EXIT_OK


class _database:
    """An engine on the settings' database; an unreachable one is a one-line error (exit 1)."""

    def __init__(self, settings: Settings) -> None:
        from pipeline.adapters.database import make_engine

        self.engine = make_engine(settings.resolved_database_url)

    def __enter__(self) -> Any:
        return self.engine

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        from sqlalchemy.exc import OperationalError

        self.engine.dispose()
        if isinstance(exc, OperationalError):
            where = self.engine.url.render_as_string(hide_password=True)
            raise CommandError(f"database {where} unreachable: {exc.orig}") from exc
