"""CRO persons of interest in SQL (SQLite or PostgreSQL): profiles, photos, cases, vehicles, followers.

Synchronous (call it from a worker thread in async code). Values arrive validated by the API models;
the store still enforces what the database must never hold (a category outside the list, a CNIC twice).
Every write of a person rewrites its search keys in the same transaction, so search never sees a
half-written person.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from command_center.records import tables as t
from command_center.records.keys import write_keys
from command_center.records.types import (
    CASE_EDITABLE,
    CATEGORIES,
    Case,
    CaseFields,
    DuplicateCnicError,
    Person,
    PersonFields,
    PersonNotFoundError,
    PersonRecord,
    PhotoInfo,
    RecordsError,
    Vehicle,
    now,
    utc,
)
from command_center.records.vehicle_links import owns_vehicle
from pipeline.adapters import transactions
from pipeline.adapters.migrations import upgrade

MAX_PHOTOS_PER_PERSON = 10
MAX_CASES_PER_PERSON = 200
MAX_VEHICLES_PER_PERSON = 20


def _check(fields: PersonFields) -> None:
    if fields.category not in CATEGORIES:
        raise RecordsError(f"unknown category {fields.category!r}; one of: {', '.join(CATEGORIES)}")


class PersonStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self.engine)

    # -- persons -------------------------------------------------------------------------------------

    def add(self, fields: PersonFields, actor: str) -> Person:
        _check(fields)
        stamp = now()
        row = {**fields.as_row(), "created_by": actor, "created_at": stamp}
        row |= {"updated_by": actor, "updated_at": stamp, "archived_at": None}
        try:
            with transactions.begin(self.engine) as conn:
                person_id = int(
                    conn.execute(insert(t.persons).values(**row).returning(t.persons.c.id)).scalar_one()
                )
                write_keys(conn, person_id, fields, True)
        except IntegrityError:
            raise self._conflict(fields) from None
        return self._person(person_id)

    def update(self, person_id: int, changes: Mapping[str, Any], actor: str) -> tuple[Person, Person]:
        """(before, after); only the fields named in ``changes`` change."""
        before = self._person(person_id)
        if before.archived:
            raise RecordsError(f"person {person_id} is archived; archived records do not change")
        fields = replace(before.fields, **changes)
        _check(fields)
        values = {**{k: v for k, v in fields.as_row().items() if k in changes}, "updated_by": actor}
        values["updated_at"] = now()
        try:
            with transactions.begin(self.engine) as conn:
                conn.execute(update(t.persons).where(t.persons.c.id == person_id).values(**values))
                write_keys(conn, person_id, fields, True)
        except IntegrityError:
            raise self._conflict(fields) from None
        return before, self._person(person_id)

    def archive(self, person_id: int, actor: str) -> Person:
        person = self._person(person_id)
        if person.archived:
            return person
        with transactions.begin(self.engine) as conn:
            conn.execute(
                update(t.persons)
                .where(t.persons.c.id == person_id)
                .values(archived_at=now(), updated_by=actor, updated_at=now())
            )
            conn.execute(
                update(t.search_keys).where(t.search_keys.c.person_id == person_id).values(active=False)
            )
        return self._person(person_id)

    def _conflict(self, fields: PersonFields) -> Exception:
        if fields.cnic is not None:
            existing = self.by_cnic(fields.cnic, include_archived=True)
            if existing is not None:
                return DuplicateCnicError(fields.cnic, existing.id)
        return RecordsError("the record conflicts with one stored at the same time; try again")

    def get(self, person_id: int) -> Person | None:
        with transactions.connect(self.engine) as conn:
            row = conn.execute(select(t.persons).where(t.persons.c.id == person_id)).first()
        return Person.from_row(row) if row is not None else None

    def _person(self, person_id: int) -> Person:
        person = self.get(person_id)
        if person is None:
            raise PersonNotFoundError(person_id)
        return person

    def record(self, person_id: int) -> PersonRecord:
        person = self._person(person_id)
        with transactions.connect(self.engine) as conn:
            case_rows = conn.execute(
                select(t.cases).where(t.cases.c.person_id == person_id).order_by(t.cases.c.id)
            ).all()
            vehicle_rows = conn.execute(
                select(t.vehicles).where(t.vehicles.c.person_id == person_id).order_by(t.vehicles.c.id)
            ).all()
            photo_rows = conn.execute(
                select(
                    t.photos.c.id,
                    t.photos.c.width,
                    t.photos.c.height,
                    t.photos.c.added_by,
                    t.photos.c.added_at,
                )
                .where(t.photos.c.person_id == person_id)
                .order_by(t.photos.c.id)
            ).all()
        photos = [
            PhotoInfo(r.id, r.width, r.height, r.added_by, utc(r.added_at) or now()) for r in photo_rows
        ]
        return PersonRecord(
            person, [Case.from_row(r) for r in case_rows], [Vehicle.from_row(r) for r in vehicle_rows], photos
        )

    def by_ids(self, ids: Iterable[int]) -> dict[int, Person]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        with transactions.connect(self.engine) as conn:
            rows = conn.execute(select(t.persons).where(t.persons.c.id.in_(wanted))).all()
        return {row.id: Person.from_row(row) for row in rows}

    def by_cnic(self, cnic: str, include_archived: bool = False) -> Person | None:
        query = select(t.persons).where(t.persons.c.cnic == cnic)
        if not include_archived:
            query = query.where(t.persons.c.archived_at.is_(None))
        with transactions.connect(self.engine) as conn:
            row = conn.execute(query).first()
        return Person.from_row(row) if row is not None else None

    def by_cnics(self, cnics: set[str]) -> dict[str, Person]:
        """The persons (not archived) holding any of ``cnics``, by CNIC: one query for many guests."""
        if not cnics:
            return {}
        query = select(t.persons).where(
            t.persons.c.cnic.in_(sorted(cnics)), t.persons.c.archived_at.is_(None)
        )
        with transactions.connect(self.engine) as conn:
            rows = conn.execute(query).all()
        found = [Person.from_row(row) for row in rows]
        return {p.fields.cnic: p for p in found if p.fields.cnic is not None}

    def by_watchlist_profile(self, profile_id: int) -> list[Person]:
        with transactions.connect(self.engine) as conn:
            rows = conn.execute(
                select(t.persons).where(
                    t.persons.c.watchlist_profile_id == profile_id, t.persons.c.archived_at.is_(None)
                )
            ).all()
        return [Person.from_row(row) for row in rows]

    def by_vehicle(self, hotlist_entry_id: int, plate_key: str) -> list[Person]:
        """The live persons with this vehicle among their known vehicles: linked to the hotlist entry,
        or entered with the same registration number (the link to the hotlist is often left blank)."""
        query = (
            select(t.persons)
            .where(
                t.persons.c.archived_at.is_(None),
                t.persons.c.id.in_(
                    select(t.vehicles.c.person_id).where(owns_vehicle([hotlist_entry_id], [plate_key]))
                ),
            )
            .order_by(t.persons.c.id)
        )
        with transactions.connect(self.engine) as conn:
            return [Person.from_row(row) for row in conn.execute(query).all()]

    def list_by_category(self, category: str | None, limit: int, offset: int) -> list[Person]:
        query = select(t.persons).where(t.persons.c.archived_at.is_(None))
        if category is not None:
            query = query.where(t.persons.c.category == category)
        query = (
            query.order_by(t.persons.c.updated_at.desc(), t.persons.c.id.desc()).limit(limit).offset(offset)
        )
        with transactions.connect(self.engine) as conn:
            return [Person.from_row(row) for row in conn.execute(query).all()]

    # -- photos --------------------------------------------------------------------------------------

    def add_photo(self, person_id: int, jpeg: bytes, width: int, height: int, actor: str) -> PhotoInfo:
        self._live(person_id)
        digest = hashlib.sha256(jpeg).hexdigest()
        stamp = now()
        with transactions.begin(self.engine) as conn:
            count = conn.execute(
                select(func.count()).select_from(t.photos).where(t.photos.c.person_id == person_id)
            ).scalar_one()
            if count >= MAX_PHOTOS_PER_PERSON:
                raise RecordsError(f"person {person_id} has {count} photos; at most {MAX_PHOTOS_PER_PERSON}")
            existing = conn.execute(
                select(t.photos.c.id).where(t.photos.c.person_id == person_id, t.photos.c.sha256 == digest)
            ).scalar()
            if existing is not None:
                raise RecordsError(f"this photo is already on the record (photo {existing})")
            row = {"person_id": person_id, "jpeg": jpeg, "width": width, "height": height, "sha256": digest}
            row |= {"added_by": actor, "added_at": stamp}
            photo_id = int(conn.execute(insert(t.photos).values(**row).returning(t.photos.c.id)).scalar_one())
        return PhotoInfo(photo_id, width, height, actor, stamp)

    def photo(self, person_id: int, photo_id: int | None = None) -> bytes | None:
        """A photo of the person (the first one when ``photo_id`` is None)."""
        query = select(t.photos.c.jpeg).where(t.photos.c.person_id == person_id)
        if photo_id is not None:
            query = query.where(t.photos.c.id == photo_id)
        with transactions.connect(self.engine) as conn:
            data = conn.execute(query.order_by(t.photos.c.id).limit(1)).scalar()
        return bytes(data) if data is not None else None

    def remove_photo(self, person_id: int, photo_id: int) -> None:
        self._live(person_id)
        with transactions.begin(self.engine) as conn:
            gone = conn.execute(
                delete(t.photos).where(t.photos.c.person_id == person_id, t.photos.c.id == photo_id)
            ).rowcount
        if not gone:
            raise PersonNotFoundError(photo_id, f"photo of person {person_id}")

    def _live(self, person_id: int) -> Person:
        person = self._person(person_id)
        if person.archived:
            raise RecordsError(f"person {person_id} is archived; archived records do not change")
        return person

    # -- cases and vehicles --------------------------------------------------------------------------

    def add_case(self, person_id: int, fields: CaseFields, actor: str) -> Case:
        self._live(person_id)
        row = {name: getattr(fields, name) for name in CASE_EDITABLE}
        row |= {
            "sections": list(fields.sections),
            "person_id": person_id,
            "updated_by": actor,
            "updated_at": now(),
        }
        try:
            with transactions.begin(self.engine) as conn:
                count = conn.execute(
                    select(func.count()).select_from(t.cases).where(t.cases.c.person_id == person_id)
                ).scalar_one()
                if count >= MAX_CASES_PER_PERSON:
                    raise RecordsError(
                        f"person {person_id} has {count} cases; at most {MAX_CASES_PER_PERSON}"
                    )
                case_id = int(
                    conn.execute(insert(t.cases).values(**row).returning(t.cases.c.id)).scalar_one()
                )
        except IntegrityError:
            raise RecordsError(
                f"FIR {fields.fir_number} of {fields.police_station} is already on this person's record"
            ) from None
        return self._case(person_id, case_id)

    def update_case(
        self, person_id: int, case_id: int, changes: Mapping[str, Any], actor: str
    ) -> tuple[Case, Case]:
        self._live(person_id)
        before = self._case(person_id, case_id)
        after = replace(before.fields, **changes)
        values = {k: (list(v) if k == "sections" else v) for k, v in changes.items()}
        values |= {"updated_by": actor, "updated_at": now()}
        try:
            with transactions.begin(self.engine) as conn:
                conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(**values))
        except IntegrityError:
            raise RecordsError(
                f"FIR {after.fir_number} of {after.police_station} is already on this record"
            ) from None
        return before, self._case(person_id, case_id)

    def _case(self, person_id: int, case_id: int) -> Case:
        with transactions.connect(self.engine) as conn:
            row = conn.execute(
                select(t.cases).where(t.cases.c.id == case_id, t.cases.c.person_id == person_id)
            ).first()
        if row is None:
            raise PersonNotFoundError(case_id, f"case of person {person_id}")
        return Case.from_row(row)

    def add_vehicle(
        self,
        person_id: int,
        plate: str,
        display: str,
        description: str | None,
        entry_id: int | None,
        actor: str,
    ) -> Vehicle:
        self._live(person_id)
        row = {"person_id": person_id, "plate": plate, "plate_display": display, "description": description}
        row |= {"hotlist_entry_id": entry_id, "added_by": actor, "added_at": now()}
        try:
            with transactions.begin(self.engine) as conn:
                count = conn.execute(
                    select(func.count()).select_from(t.vehicles).where(t.vehicles.c.person_id == person_id)
                ).scalar_one()
                if count >= MAX_VEHICLES_PER_PERSON:
                    raise RecordsError(
                        f"person {person_id} has {count} vehicles; at most {MAX_VEHICLES_PER_PERSON}"
                    )
                vehicle_id = int(
                    conn.execute(insert(t.vehicles).values(**row).returning(t.vehicles.c.id)).scalar_one()
                )
                stored = conn.execute(select(t.vehicles).where(t.vehicles.c.id == vehicle_id)).one()
        except IntegrityError:
            raise RecordsError(f"vehicle {display} is already on this person's record") from None
        return Vehicle.from_row(stored)

    def remove_vehicle(self, person_id: int, vehicle_id: int) -> Vehicle:
        self._live(person_id)
        with transactions.begin(self.engine) as conn:
            row = conn.execute(
                select(t.vehicles).where(t.vehicles.c.id == vehicle_id, t.vehicles.c.person_id == person_id)
            ).first()
            if row is None:
                raise PersonNotFoundError(vehicle_id, f"vehicle of person {person_id}")
            conn.execute(delete(t.vehicles).where(t.vehicles.c.id == vehicle_id))
        return Vehicle.from_row(row)

    # -- an officer's personal watchlist -------------------------------------------------------------

    def follow(self, person_id: int, officer_id: int) -> bool:
        """True if newly followed, False if the officer already followed the person."""
        self._live(person_id)
        try:
            with transactions.begin(self.engine) as conn:
                conn.execute(
                    insert(t.follows).values(person_id=person_id, officer_id=officer_id, created_at=now())
                )
        except IntegrityError:
            return False
        return True

    def unfollow(self, person_id: int, officer_id: int) -> bool:
        with transactions.begin(self.engine) as conn:
            gone = conn.execute(
                delete(t.follows).where(
                    t.follows.c.person_id == person_id, t.follows.c.officer_id == officer_id
                )
            ).rowcount
        return bool(gone)

    def followers(self, person_id: int) -> list[int]:
        return sorted(self.followed_since(person_id))

    def followed_since(self, person_id: int) -> dict[int, datetime]:
        """Officer id -> since when they follow the person."""
        f = t.follows.c
        with transactions.connect(self.engine) as conn:
            rows = conn.execute(select(f.officer_id, f.created_at).where(f.person_id == person_id)).all()
        return {int(row.officer_id): utc(row.created_at) or now() for row in rows}

    def following(self, officer_id: int) -> list[Person]:
        with transactions.connect(self.engine) as conn:
            rows = conn.execute(
                select(t.persons)
                .join(t.follows, t.follows.c.person_id == t.persons.c.id)
                .where(t.follows.c.officer_id == officer_id)
                .order_by(t.follows.c.created_at.desc())
            ).all()
        return [Person.from_row(row) for row in rows]
