"""Alembic's environment: migrate the connection ``upgrade()`` passes, or (the ``alembic`` command line)
an engine on ``sqlalchemy.url`` / ``-x url=...`` / the settings' database."""

from __future__ import annotations

import logging.config
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from pipeline.adapters.database import UtcDateTime, make_engine
from pipeline.adapters.migrations import complete_metadata, include_object


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """The timestamp type as the plain SQLAlchemy type it stores (revisions do not import the app)."""
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=complete_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
        compare_type=True,
        render_item=_render_item,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if url:
        return url
    from pipeline.settings import load

    return load(None).resolved_database_url


def _run() -> None:
    if context.config.config_file_name:  # the alembic command line: its logging (alembic.ini)
        logging.config.fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported: run them on a database")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


# Alembic runs this file with its context set up; imported otherwise (an import check), it does nothing.
if getattr(context, "_proxy", None) is not None:
    _run()
