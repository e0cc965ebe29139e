"""Many rows in one PostgreSQL statement of constant text: ``INSERT ... SELECT * FROM unnest(arrays)``.

A multi-row ``VALUES`` list is a new statement for every number of rows: SQLAlchemy compiles it again and
psycopg parses it again each time (measured: most of the check-in group commit's CPU). Here each column
travels as one array parameter, so the statement's text never changes: compiled once, prepared by
psycopg after a few runs, and the arrays adapted in C.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def insert_sql(table: Table, columns: Sequence[str]) -> str:
    """``INSERT INTO table (columns) SELECT * FROM unnest(CAST(:column AS type[]), ...)``: bind each
    column's values as a list under its own name (see ``arrays``); append ON CONFLICT, RETURNING."""
    # Names and types from the table's metadata, never from input: the values are bound.
    return f'INSERT INTO "{table.name}" ({column_list(columns)}) SELECT * FROM {rows_sql(table, columns)}'  # noqa: S608


def column_list(columns: Sequence[str]) -> str:
    """The columns' names, quoted, comma-separated."""
    return ", ".join(f'"{name}"' for name in columns)


def rows_sql(table: Table, columns: Sequence[str]) -> str:
    """``unnest(CAST(:column AS type[]), ...)``: the bound rows as a set of rows (``arrays``), for an
    ``INSERT ... SELECT`` that computes more columns from them (alias it with ``column_list``)."""
    return "unnest(" + ", ".join(f"CAST(:{name} AS {_array_type(table, name)})" for name in columns) + ")"


def _array_type(table: Table, name: str) -> str:
    """The column's array type without a length: a value too long fails the insert, as it would
    without the arrays (a cast to VARCHAR(n) would cut it silently)."""
    return re.sub(r"\(\d+\)", "", table.c[name].type.compile(dialect=_PG)) + "[]"


def arrays(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """The rows as one list per column, the parameters of an ``insert_sql`` statement."""
    return {name: [row[name] for row in rows] for name in columns}
