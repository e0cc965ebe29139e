"""Stored once however often it is sent: a row carrying the sending phone's idempotency key (a UUID the
officer app makes for each queued report) is inserted once; the same key again finds the first row.

A phone that queued a report offline sends it again whenever it did not hear the answer (a lost
response, a reload, the app closed mid-send). The key column is unique, so of several requests racing
with one key (four tabs, a retry during the first send) exactly one insert commits; the others fail on
the constraint and read the row that did, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError

from command_center.records.types import RecordsError
from pipeline.adapters import transactions


def insert_once(engine: Engine, table: Table, row: dict[str, Any], owner: Column[Any]) -> tuple[int, bool]:
    """The id of the new row and True; or, when ``row["idempotency_key"]`` is stored already, the id of
    that first row and False. A key is its sender's: another account's key is refused (RecordsError)."""
    key = row.get("idempotency_key")
    try:
        with transactions.begin(engine) as conn:
            return int(conn.execute(insert(table).values(**row).returning(table.c.id)).scalar_one()), True
    except IntegrityError:
        if key is None:
            raise
        with transactions.connect(engine) as conn:
            first = conn.execute(
                select(table.c.id, owner.label("owner")).where(table.c.idempotency_key == key)
            ).first()
        if first is None:  # another constraint refused the row
            raise
        if first.owner != row[owner.name]:
            raise RecordsError("idempotency key: another officer's report has it") from None
        return int(first.id), False
