"""Arrests in SQL (SQLite or PostgreSQL): recorded by officers, screened against the other cases.

Synchronous (call it from a worker thread in async code). An arrest is stored first, then broadcast to
every officer and screened (``arrest_screening.py``); ``broadcast_at`` and ``screened_at`` say how far
that got, so a replica that stopped half-way finishes the job at its next start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from command_center.records.arrest_tables import arrests
from command_center.records.casework_photos import CleanPhoto
from command_center.records.idempotency import insert_once
from command_center.records.names import NameKey, name_key, score
from command_center.records.types import now, utc
from pipeline.adapters import transactions
from pipeline.adapters.migrations import upgrade

NAME_CANDIDATES = 500
MIN_NAME_SCORE = 0.6


@dataclass(frozen=True, slots=True)
class NewArrest:
    person_name: str
    fir_number: str
    police_station: str
    sections: tuple[str, ...]
    arrested_at: datetime
    father_name: str | None = None
    cnic: str | None = None
    gender: str | None = None
    age: int | None = None
    cro_person_id: int | None = None
    district: str | None = None
    place: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    notes: str | None = None
    photo: CleanPhoto | None = None
    idempotency_key: str | None = None  # the reporting phone's UUID for this arrest: stored once


@dataclass(frozen=True, slots=True)
class Arrest:
    id: int
    person_name: str
    father_name: str | None
    cnic: str | None
    gender: str | None
    age: int | None
    cro_person_id: int | None
    fir_number: str
    police_station: str
    sections: tuple[str, ...]
    district: str | None
    place: str | None
    latitude: float | None
    longitude: float | None
    arrested_at: datetime
    notes: str | None
    officer_id: int
    recorded_by: str
    recorded_at: datetime
    has_photo: bool
    has_face: bool
    broadcast_at: datetime | None
    screened_at: datetime | None
    screening: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Any) -> Arrest:
        data = dict(row._mapping)
        return cls(
            id=data["id"],
            person_name=data["person_name"],
            father_name=data["father_name"],
            cnic=data["cnic"],
            gender=data["gender"],
            age=data["age"],
            cro_person_id=data["cro_person_id"],
            fir_number=data["fir_number"],
            police_station=data["police_station"],
            sections=tuple(data["sections"] or ()),
            district=data["district"],
            place=data["place"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            arrested_at=utc(data["arrested_at"]) or now(),
            notes=data["notes"],
            officer_id=data["officer_id"],
            recorded_by=data["recorded_by"],
            recorded_at=utc(data["recorded_at"]) or now(),
            has_photo=bool(data["has_photo"]),
            has_face=bool(data["has_face"]),
            broadcast_at=utc(data["broadcast_at"]),
            screened_at=utc(data["screened_at"]),
            screening=data["screening"],
        )

    @property
    def case_label(self) -> str:
        return f"FIR {self.fir_number}, {self.police_station}"


_LISTED = [c for c in arrests.c if c.name not in ("photo_jpeg", "faceprint")]


def _listing() -> Any:
    return select(
        *_LISTED,
        arrests.c.photo_jpeg.is_not(None).label("has_photo"),
        arrests.c.faceprint.is_not(None).label("has_face"),
    )


@dataclass(frozen=True, slots=True)
class ArrestFilters:
    q: str | None = None
    cnic: str | None = None
    fir_number: str | None = None
    police_station: str | None = None
    person_id: int | None = None
    officer_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        c = arrests.c
        found: list[ColumnElement[bool]] = []
        if self.cnic is not None:
            found.append(c.cnic == self.cnic)
        if self.fir_number is not None:
            found.append(c.fir_number == self.fir_number)
        if self.police_station is not None:
            found.append(func.lower(c.police_station) == self.police_station.lower())
        if self.person_id is not None:
            found.append(c.cro_person_id == self.person_id)
        if self.officer_id is not None:
            found.append(c.officer_id == self.officer_id)
        if self.since is not None:
            found.append(c.arrested_at >= self.since)
        if self.until is not None:
            found.append(c.arrested_at < self.until)
        return found


def sounds_like(key: NameKey, column: Any = arrests.c.name_phonetic) -> ColumnElement[bool]:
    """Rows whose name shares a phonetic code with ``key`` (both databases: LIKE on padded codes)."""
    padded = " " + column + " "
    return or_(*(padded.like(f"% {code} %") for code in dict.fromkeys(key.codes)))


def stored_key(row: Any) -> NameKey:
    return NameKey(row.name_canonical, row.name_phonetic, " ".join(sorted(row.name_phonetic.split())))


class ArrestStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self._engine)

    def add(
        self, new: NewArrest, officer_id: int, actor: str, faceprint: bytes | None
    ) -> tuple[Arrest, bool]:
        """The new arrest and True; or, when one with the same idempotency key is stored already (the
        phone sent it again), that first arrest and False."""
        key = name_key(new.person_name)
        row: dict[str, Any] = {
            "person_name": new.person_name,
            "name_canonical": key.canonical[:500],
            "name_phonetic": key.phonetic[:500],
            "father_name": new.father_name,
            "cnic": new.cnic,
            "gender": new.gender,
            "age": new.age,
            "cro_person_id": new.cro_person_id,
            "fir_number": new.fir_number,
            "police_station": new.police_station,
            "sections": list(new.sections),
            "district": new.district,
            "place": new.place,
            "latitude": new.latitude,
            "longitude": new.longitude,
            "arrested_at": new.arrested_at,
            "notes": new.notes,
            "officer_id": officer_id,
            "recorded_by": actor,
            "recorded_at": now(),
            "photo_jpeg": new.photo.jpeg if new.photo else None,
            "photo_width": new.photo.width if new.photo else None,
            "photo_height": new.photo.height if new.photo else None,
            "faceprint": faceprint,
            "idempotency_key": new.idempotency_key,
        }
        arrest_id, created = insert_once(self._engine, arrests, row, arrests.c.officer_id)
        found = self.get(arrest_id)
        assert found is not None
        return found, created

    def get(self, arrest_id: int) -> Arrest | None:
        with transactions.connect(self._engine) as conn:
            row = conn.execute(_listing().where(arrests.c.id == arrest_id)).first()
        return Arrest.from_row(row) if row is not None else None

    def photo(self, arrest_id: int) -> bytes | None:
        with transactions.connect(self._engine) as conn:
            data = conn.execute(select(arrests.c.photo_jpeg).where(arrests.c.id == arrest_id)).scalar()
        return bytes(data) if data is not None else None

    def faceprint(self, arrest_id: int) -> bytes | None:
        with transactions.connect(self._engine) as conn:
            data = conn.execute(select(arrests.c.faceprint).where(arrests.c.id == arrest_id)).scalar()
        return bytes(data) if data is not None else None

    def faceprints(self, exclude: int) -> list[tuple[int, bytes | None]]:
        """Every other arrest's faceprint (owner id, vector bytes)."""
        c = arrests.c
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(select(c.id, c.faceprint).where(c.faceprint.is_not(None), c.id != exclude))
            return [(row.id, bytes(row.faceprint)) for row in rows]

    def by_ids(self, ids: list[int]) -> dict[int, Arrest]:
        if not ids:
            return {}
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(_listing().where(arrests.c.id.in_(sorted(set(ids))))).all()
        return {row.id: Arrest.from_row(row) for row in rows}

    def others(self, exclude: int, *conditions: ColumnElement[bool]) -> list[Arrest]:
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(
                _listing().where(arrests.c.id != exclude, or_(*conditions)).order_by(arrests.c.id).limit(200)
            ).all()
        return [Arrest.from_row(row) for row in rows]

    def by_cnic(self, cnic: str, exclude: int) -> list[Arrest]:
        return self.others(exclude, arrests.c.cnic == cnic)

    def by_cases(self, cases: list[tuple[str, str]], exclude: int) -> list[Arrest]:
        """Arrests made in any of these (FIR number, police station) cases."""
        if not cases:
            return []
        c = arrests.c
        conditions = [
            and_(c.fir_number == fir, func.lower(c.police_station) == station.lower())
            for fir, station in cases
        ]
        return self.others(exclude, *conditions)

    def by_name(self, name: str, exclude: int, minimum: float) -> list[tuple[Arrest, float]]:
        """Other arrests whose name sounds like ``name``, scored (``names.score``), best first."""
        key = name_key(name)
        if key.empty:
            return []
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(
                _listing()
                .where(arrests.c.id != exclude, sounds_like(key))
                .order_by(arrests.c.id.desc())
                .limit(NAME_CANDIDATES)
            ).all()
        scored = [(Arrest.from_row(row), score(key, stored_key(row))) for row in rows]
        found = [(arrest, value) for arrest, value in scored if value >= minimum]
        return sorted(found, key=lambda pair: (-pair[1], -pair[0].id))

    def link_person(self, arrest_id: int, person_id: int) -> None:
        with transactions.begin(self._engine) as conn:
            conn.execute(
                update(arrests)
                .where(arrests.c.id == arrest_id, arrests.c.cro_person_id.is_(None))
                .values(cro_person_id=person_id)
            )

    def mark_broadcast(self, arrest_id: int) -> None:
        with transactions.begin(self._engine) as conn:
            conn.execute(update(arrests).where(arrests.c.id == arrest_id).values(broadcast_at=now()))

    def mark_screened(self, arrest_id: int, screening: dict[str, Any]) -> bool:
        c = arrests.c
        with transactions.begin(self._engine) as conn:
            done = conn.execute(
                update(arrests)
                .where(c.id == arrest_id, c.screened_at.is_(None))
                .values(screened_at=now(), screening=screening)
            ).rowcount
        return bool(done)

    def unfinished(self, limit: int = 1000) -> list[int]:
        c = arrests.c
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(select(c.id).where(c.screened_at.is_(None)).order_by(c.id).limit(limit)).all()
        return [row.id for row in rows]

    def search(
        self, filters: ArrestFilters, limit: int, offset: int
    ) -> tuple[list[tuple[Arrest, float]], int]:
        """A page of arrests, newest first; with a name (``q``), the closest spellings first."""
        where = filters.where()
        c = arrests.c
        if filters.q:
            key = name_key(filters.q)
            if key.empty:
                return [], 0
            with transactions.connect(self._engine) as conn:
                rows = conn.execute(
                    _listing().where(*where, sounds_like(key)).order_by(c.id.desc()).limit(NAME_CANDIDATES)
                ).all()
            scored = [(Arrest.from_row(row), score(key, stored_key(row))) for row in rows]
            ranked = sorted(
                [(a, round(v, 4)) for a, v in scored if v >= MIN_NAME_SCORE], key=lambda p: (-p[1], -p[0].id)
            )
            return ranked[offset : offset + limit], len(ranked)
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(
                _listing()
                .where(*where)
                .order_by(c.arrested_at.desc(), c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            total = conn.execute(select(func.count()).select_from(arrests).where(*where)).scalar_one()
        return [(Arrest.from_row(row), 1.0) for row in rows], int(total)
