"""Which CRO persons list a hotlisted vehicle among their known vehicles, with their cases.

A vehicle search answers "is it wanted, and whose is it": a person's known vehicle is linked to a hotlist
entry explicitly (``hotlist_entry_id``, set by the clerk) or implicitly by the same registration number
(the plate key, ``A-Z0-9``), since most known vehicles are recorded before, or without, a hotlist entry.
Archived persons are left out, as the records search leaves them out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, or_, select
from sqlalchemy.sql.elements import ColumnElement

from command_center.records import tables as t
from pipeline.adapters import transactions
from watchlist.vehicle_types import HotlistEntry

MAX_PERSONS_PER_ENTRY = 20  # a plate listed on more records than this is a data problem, not a lead
_CHUNK = 500  # values per IN (...) clause

LinkKind = Literal["hotlist_entry", "plate"]


@dataclass(frozen=True, slots=True)
class LinkedCase:
    fir_number: str
    police_station: str
    status: str


@dataclass(frozen=True, slots=True)
class LinkedPerson:
    person_id: int
    name: str
    category: str
    plate: str  # as written on the person's record
    via: LinkKind  # the record names this entry, or only the same registration number
    cases: tuple[LinkedCase, ...]


def linked_persons(engine: Engine, entries: Sequence[HotlistEntry]) -> dict[int, list[LinkedPerson]]:
    """Per hotlist entry id, the live persons whose known vehicles name it or carry its plate (explicit
    links first, then by name); entries with none are absent."""
    if not entries:
        return {}
    rows = _vehicle_rows(engine, [e.id for e in entries], sorted({e.plate_key for e in entries}))
    cases = _cases(engine, sorted({int(r.person_id) for r in rows}))
    found: dict[int, dict[int, LinkedPerson]] = defaultdict(dict)
    for entry in entries:
        for row in rows:
            if row.hotlist_entry_id == entry.id:
                via: LinkKind = "hotlist_entry"
            elif row.plate == entry.plate_key:
                via = "plate"
            else:
                continue
            persons = found[entry.id]
            known = persons.get(int(row.person_id))
            if known is not None and (known.via == "hotlist_entry" or via == "plate"):
                continue  # a person with two records of one plate: the explicit link says more
            persons[int(row.person_id)] = LinkedPerson(
                int(row.person_id),
                str(row.name),
                str(row.category),
                str(row.plate_display),
                via,
                tuple(cases.get(int(row.person_id), ())),
            )
    return {
        entry_id: sorted(persons.values(), key=lambda p: (p.via != "hotlist_entry", p.name, p.person_id))[
            :MAX_PERSONS_PER_ENTRY
        ]
        for entry_id, persons in found.items()
    }


def owns_vehicle(entry_ids: Sequence[int], plate_keys: Sequence[str]) -> ColumnElement[bool]:
    """Known vehicles that are these hotlist entries: linked by id, or carrying one of these plates."""
    v = t.vehicles
    return or_(v.c.hotlist_entry_id.in_(entry_ids), v.c.plate.in_(plate_keys))


def _vehicle_rows(engine: Engine, entry_ids: list[int], plate_keys: list[str]) -> list[Any]:
    v, p = t.vehicles, t.persons
    columns = (v.c.person_id, v.c.plate, v.c.plate_display, v.c.hotlist_entry_id, p.c.name, p.c.category)
    rows: list[Any] = []
    with transactions.connect(engine) as conn:
        for start in range(0, max(len(entry_ids), len(plate_keys)), _CHUNK):
            ids, keys = entry_ids[start : start + _CHUNK], plate_keys[start : start + _CHUNK]
            query = (
                select(*columns)
                .join(p, p.c.id == v.c.person_id)
                .where(owns_vehicle(ids, keys), p.c.archived_at.is_(None))
                .order_by(v.c.id)
            )
            rows.extend(conn.execute(query))
    return rows


def _cases(engine: Engine, person_ids: list[int]) -> dict[int, list[LinkedCase]]:
    c = t.cases
    out: dict[int, list[LinkedCase]] = defaultdict(list)
    with transactions.connect(engine) as conn:
        for start in range(0, len(person_ids), _CHUNK):
            query = (
                select(c.c.person_id, c.c.fir_number, c.c.police_station, c.c.status)
                .where(c.c.person_id.in_(person_ids[start : start + _CHUNK]))
                .order_by(c.c.person_id, c.c.id)
            )
            for row in conn.execute(query):
                out[int(row.person_id)].append(LinkedCase(row.fir_number, row.police_station, row.status))
    return out
