"""Many CRO persons written at once (the bulk import): one batched INSERT per table, search keys included.

Called inside the caller's transaction (``transactions.begin`` joins an audit unit), so a batch of
persons, their cases, vehicles, photos and search keys (``records.keys``) and the audit entry naming
them commit together.
The rows arrive validated as the API validates them; the store's own checks (category, CNIC unique) are
the database's here: a duplicate CNIC fails the whole batch, so the importer leaves those rows out first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, text

from command_center.records import tables as t
from command_center.records.keys import insert_keys, key_rows
from command_center.records.types import CASE_EDITABLE, CaseFields, PersonFields

_CHUNK = 500  # values per IN (...) lookup
_DRAW_IDS = text("SELECT nextval(pg_get_serial_sequence('cro_persons', 'id')) FROM generate_series(1, :n)")


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    jpeg: bytes  # re-encoded: no metadata kept
    width: int
    height: int


@dataclass(slots=True)
class NewPerson:
    fields: PersonFields
    cases: list[CaseFields] = field(default_factory=list)
    vehicles: list[tuple[str, str, str | None]] = field(default_factory=list)  # key, as written, description
    photo: StoredPhoto | None = None


@dataclass(frozen=True, slots=True)
class Inserted:
    person_ids: list[int]
    photos: list[tuple[int, bytes]]  # (photo id, jpeg) for the audit's evidence hashes


def existing_cnics(conn: Connection, cnics: Iterable[str]) -> dict[str, int]:
    """CNIC -> person id of those already on the records (archived ones too: the column is unique)."""
    wanted = sorted(set(cnics))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = select(t.persons.c.cnic, t.persons.c.id).where(
            t.persons.c.cnic.in_(wanted[start : start + _CHUNK])
        )
        found.update({row.cnic: int(row.id) for row in conn.execute(query)})
    return found


def insert_persons(conn: Connection, people: Sequence[NewPerson], actor: str, stamp: datetime) -> Inserted:
    """Insert the persons with everything attached; their ids in order."""
    if not people:
        return Inserted([], [])
    made = {"created_by": actor, "created_at": stamp, "updated_by": actor, "updated_at": stamp}
    rows = [{**p.fields.as_row(), **made, "archived_at": None} for p in people]
    ids = _insert_returning_ids(conn, rows)
    keys = [k for pid, p in zip(ids, people, strict=True) for k in key_rows(pid, p.fields, True)]
    insert_keys(conn, keys)
    _insert(
        conn,
        t.cases,
        [_case(pid, c, actor, stamp) for pid, p in zip(ids, people, strict=True) for c in p.cases],
    )
    vehicles = [
        {"person_id": pid, "plate": key, "plate_display": shown, "description": description}
        | {"hotlist_entry_id": None, "added_by": actor, "added_at": stamp}
        for pid, p in zip(ids, people, strict=True)
        for key, shown, description in p.vehicles
    ]
    _insert(conn, t.vehicles, vehicles)
    return Inserted(ids, _insert_photos(conn, ids, people, actor, stamp))


def _insert_returning_ids(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the persons; their ids in order. On PostgreSQL the ids are drawn from the sequence first and
    the rows sent as one pipelined executemany: an INSERT ... RETURNING of thousands of rows is sent as
    multi-row statements that psycopg parses in Python, three to four times slower."""
    if conn.dialect.name != "postgresql":
        adding = insert(t.persons).returning(t.persons.c.id, sort_by_parameter_order=True)
        return [int(i) for i in conn.execute(adding, rows).scalars()]
    drawn = conn.execute(_DRAW_IDS, {"n": len(rows)}).scalars()
    ids = [int(i) for i in drawn]
    conn.execute(insert(t.persons), [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


def _case(person_id: int, case: CaseFields, actor: str, stamp: datetime) -> dict[str, Any]:
    row = {name: getattr(case, name) for name in CASE_EDITABLE}
    return row | {
        "sections": list(case.sections),
        "person_id": person_id,
        "updated_by": actor,
        "updated_at": stamp,
    }


def _insert_photos(
    conn: Connection, ids: list[int], people: Sequence[NewPerson], actor: str, stamp: datetime
) -> list[tuple[int, bytes]]:
    owned = [(pid, p.photo) for pid, p in zip(ids, people, strict=True) if p.photo is not None]
    if not owned:
        return []
    rows = [
        {"person_id": pid, "jpeg": photo.jpeg, "width": photo.width, "height": photo.height}
        | {"sha256": hashlib.sha256(photo.jpeg).hexdigest(), "added_by": actor, "added_at": stamp}
        for pid, photo in owned
    ]
    adding = insert(t.photos).returning(t.photos.c.id, sort_by_parameter_order=True)
    photo_ids = [int(i) for i in conn.execute(adding, rows).scalars()]
    return [(photo_id, photo.jpeg) for photo_id, (_, photo) in zip(photo_ids, owned, strict=True)]


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(table), rows)
