"""The alerts about one CRO person: what ``GET /alerts?subject=person:<id>``, the dossier and the face +
plate fusion read.

A person's alerts are the face alerts of their watchlist profile, the plate alerts of the hotlist entries
among their known vehicles (linked explicitly, or by the same registration number, as in
``vehicle_links``; a removed entry still counts, for its past alerts), and the check-in and fusion alerts
raised about the person themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from command_center.alerts.store import Alert, AlertStore
from command_center.records.store import PersonStore
from command_center.records.types import PersonRecord
from pipeline.adapters import transactions
from watchlist.vehicle_tables import vehicle_hotlist

PERSON_KINDS = ("checkin", "fusion")  # the kinds whose subject is the record person


@dataclass(frozen=True, slots=True)
class PersonSubjects:
    person_id: int
    profile_id: int | None  # the linked watchlist profile
    entry_ids: frozenset[int]  # the hotlist entries among the known vehicles

    def by_kind(self) -> dict[str, set[int]]:
        """Alert kind -> subject ids, as ``AlertStore.list_about`` takes them."""
        about: dict[str, set[int]] = {kind: {self.person_id} for kind in PERSON_KINDS}
        about["face"] = {self.profile_id} if self.profile_id is not None else set()
        about["plate"] = set(self.entry_ids)
        return about


def subjects_of(engine: Engine, record: PersonRecord) -> PersonSubjects:
    explicit = {v.hotlist_entry_id for v in record.vehicles if v.hotlist_entry_id is not None}
    keys = sorted({v.plate for v in record.vehicles})
    found: set[int] = set()
    if keys:
        query = select(vehicle_hotlist.c.id).where(vehicle_hotlist.c.plate_key.in_(keys))
        with transactions.connect(engine) as conn:
            found = {int(row.id) for row in conn.execute(query)}
    person = record.person
    return PersonSubjects(person.id, person.fields.watchlist_profile_id, frozenset(explicit | found))


def person_alerts(
    engine: Engine, persons: PersonStore, store: AlertStore, person_id: int, limit: int, **filters: Any
) -> list[Alert]:
    """The person's alerts, newest first (``filters`` as ``AlertStore.list_alerts`` takes them);
    PersonNotFoundError for no such person."""
    subjects = subjects_of(engine, persons.record(person_id))
    return store.list_about(subjects.by_kind(), limit=limit, **filters)
