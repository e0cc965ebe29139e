"""What the baseline revisions share: they adopt a database made before migrations (the release whose
services ran ``create_all`` and patched late columns in), creating only the tables and columns it lacks.
Frozen with those revisions: later revisions use plain ``op`` calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def create_missing(tables: Mapping[str, Callable[[], None]]) -> None:
    """Run each table's creation (its table and indexes) unless the table is there already."""
    present = set(_inspector().get_table_names())
    for name, create in tables.items():
        if name not in present:
            create()


def add_missing_columns(table: str, columns: list[sa.Column[Any]]) -> None:
    """Columns that a table got after its first release (``ALTER TABLE ... ADD COLUMN`` when absent)."""
    present = {c["name"] for c in _inspector().get_columns(table)}
    for column in columns:
        if column.name not in present:
            op.add_column(table, column)


def drop(tables: Mapping[str, Callable[[], None]]) -> None:
    for name in reversed(list(tables)):
        op.drop_table(name)
