"""Missing persons and unidentified dead bodies (UDR) in SQL, their photos and ranked candidates.

Synchronous (call it from a worker thread in async code). The two sides share one description (sex,
age range, height, build, complexion, marks, clothing, place) so ``records.matching`` can compare
them; what is particular to each side (a name and when last seen; a UDR number and when found) is in
its own columns. Only open cases (a missing person not yet found, a body not yet identified) take part
in matching and in face searches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from command_center.records.arrests import sounds_like, stored_key
from command_center.records.casework_photos import CleanPhoto
from command_center.records.matching import DATE_SLACK, Features, PairScore
from command_center.records.missing_tables import (
    candidates,
    case_photos,
    metadata,
    missing_persons,
    udr_cases,
)
from command_center.records.names import name_key, score
from command_center.records.types import PersonNotFoundError, RecordsError, now, utc

Kind = Literal["missing", "udr"]
KINDS: tuple[Kind, ...] = ("missing", "udr")
MISSING_STATUSES = ("open", "found", "closed")
UDR_STATUSES = ("unidentified", "identified", "closed")
OPEN: dict[str, str] = {"missing": "open", "udr": "unidentified"}
TABLES: dict[str, Table] = {"missing": missing_persons, "udr": udr_cases}
MAX_PHOTOS_PER_CASE = 10
NAME_CANDIDATES = 500
MIN_NAME_SCORE = 0.6


@dataclass(frozen=True, slots=True)
class Description:
    sex: str
    age_min: int | None = None
    age_max: int | None = None
    height_cm: int | None = None
    build: str | None = None
    complexion: str | None = None
    marks: str | None = None
    clothing: str | None = None
    district: str | None = None
    police_station: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    notes: str | None = None


DESCRIPTION = tuple(f.name for f in fields(Description))
MISSING_OWN = (
    "name",
    "father_name",
    "cnic",
    "last_seen_at",
    "last_seen_place",
    "report_number",
    "contact_name",
    "contact_phone",
)
UDR_OWN = ("udr_number", "found_at", "found_place")
EDITABLE: dict[str, tuple[str, ...]] = {
    "missing": MISSING_OWN + DESCRIPTION + ("status",),
    "udr": UDR_OWN + DESCRIPTION + ("status", "identified_missing_id"),
}


@dataclass(frozen=True, slots=True)
class Registered:
    status: str
    registered_by: str
    registered_by_id: int
    created_at: datetime
    updated_by: str
    updated_at: datetime


def _common(data: dict[str, Any]) -> tuple[Description, Registered]:
    description = Description(**{name: data[name] for name in DESCRIPTION})
    registered = Registered(
        data["status"],
        data["registered_by"],
        data["registered_by_id"],
        utc(data["created_at"]) or now(),
        data["updated_by"],
        utc(data["updated_at"]) or now(),
    )
    return description, registered


@dataclass(frozen=True, slots=True)
class MissingPerson:
    id: int
    name: str
    father_name: str | None
    cnic: str | None
    last_seen_at: datetime
    last_seen_place: str | None
    report_number: str | None
    contact_name: str | None
    contact_phone: str | None
    watchlist_profile_id: int | None
    watchlist_note: str | None
    description: Description
    registered: Registered
    kind: Kind = "missing"

    @classmethod
    def from_row(cls, row: Any) -> MissingPerson:
        data = dict(row._mapping)
        description, registered = _common(data)
        own = {name: data[name] for name in MISSING_OWN}
        own["last_seen_at"] = utc(own["last_seen_at"])
        return cls(
            id=data["id"],
            **own,
            watchlist_profile_id=data["watchlist_profile_id"],
            watchlist_note=data["watchlist_note"],
            description=description,
            registered=registered,
        )

    @property
    def is_open(self) -> bool:
        return self.registered.status == OPEN["missing"]

    @property
    def registered_by_id(self) -> int:
        return self.registered.registered_by_id

    @property
    def district(self) -> str | None:
        return self.description.district

    @property
    def police_station(self) -> str | None:
        return self.description.police_station

    @property
    def label(self) -> str:
        return self.name

    def features(self) -> Features:
        return _features(self.description, self.last_seen_at)


@dataclass(frozen=True, slots=True)
class UnidentifiedBody:
    id: int
    udr_number: str
    found_at: datetime
    found_place: str | None
    identified_missing_id: int | None
    description: Description
    registered: Registered
    kind: Kind = "udr"

    @classmethod
    def from_row(cls, row: Any) -> UnidentifiedBody:
        data = dict(row._mapping)
        description, registered = _common(data)
        return cls(
            id=data["id"],
            udr_number=data["udr_number"],
            found_at=utc(data["found_at"]) or now(),
            found_place=data["found_place"],
            identified_missing_id=data["identified_missing_id"],
            description=description,
            registered=registered,
        )

    @property
    def is_open(self) -> bool:
        return self.registered.status == OPEN["udr"]

    @property
    def registered_by_id(self) -> int:
        return self.registered.registered_by_id

    @property
    def district(self) -> str | None:
        return self.description.district

    @property
    def police_station(self) -> str | None:
        return self.description.police_station

    @property
    def label(self) -> str:
        return f"UDR {self.udr_number}"

    def features(self) -> Features:
        return _features(self.description, self.found_at)


AnyCase = MissingPerson | UnidentifiedBody


def _features(d: Description, at: datetime) -> Features:
    return Features(
        sex=d.sex,
        at=at,
        age_min=d.age_min,
        age_max=d.age_max,
        height_cm=d.height_cm,
        build=d.build,
        complexion=d.complexion,
        marks=d.marks,
        clothing=d.clothing,
        district=d.district,
        latitude=d.latitude,
        longitude=d.longitude,
    )


def _case(kind: str, row: Any) -> AnyCase:
    return MissingPerson.from_row(row) if kind == "missing" else UnidentifiedBody.from_row(row)


@dataclass(frozen=True, slots=True)
class CasePhoto:
    id: int
    width: int
    height: int
    has_face: bool
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    other: AnyCase
    score: float
    feature_score: float
    face_score: float | None
    reasons: dict[str, float]
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class CaseFilters:
    q: str | None = None
    status: str | None = None
    district: str | None = None
    sex: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _check(kind: str, values: dict[str, Any]) -> None:
    low, high = values.get("age_min"), values.get("age_max")
    if low is not None and high is not None and low > high:
        raise RecordsError("age_min is above age_max")
    statuses = MISSING_STATUSES if kind == "missing" else UDR_STATUSES
    if values.get("status") not in statuses:
        raise RecordsError(f"status is one of: {', '.join(statuses)}")


class MissingStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        metadata.create_all(self._engine)

    # -- cases ---------------------------------------------------------------------------------------

    def add(self, kind: Kind, values: dict[str, Any], actor: str, actor_id: int) -> AnyCase:
        row = {name: values.get(name) for name in EDITABLE[kind]}
        row["status"] = OPEN[kind]
        _check(kind, row)
        stamp = now()
        row |= {"registered_by": actor, "registered_by_id": actor_id, "created_at": stamp}
        row |= {"updated_by": actor, "updated_at": stamp}
        if kind == "missing":
            row |= _name_columns(str(row["name"]))
        table = TABLES[kind]
        with self._engine.begin() as conn:
            case_id = int(conn.execute(insert(table).values(**row).returning(table.c.id)).scalar_one())
        return self.require(kind, case_id)

    def update(
        self, kind: Kind, case_id: int, changes: dict[str, Any], actor: str
    ) -> tuple[AnyCase, AnyCase]:
        before = self.require(kind, case_id)
        table = TABLES[kind]
        with self._engine.connect() as conn:
            current = dict(conn.execute(select(table).where(table.c.id == case_id)).one()._mapping)
        _check(kind, {**current, **changes})
        values = dict(changes)
        if "name" in values:
            values |= _name_columns(values["name"])
        values |= {"updated_by": actor, "updated_at": now()}
        with self._engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == case_id).values(**values))
        return before, self.require(kind, case_id)

    def get(self, kind: str, case_id: int) -> AnyCase | None:
        table = TABLES[kind]
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id == case_id)).first()
        return _case(kind, row) if row is not None else None

    def require(self, kind: str, case_id: int) -> AnyCase:
        found = self.get(kind, case_id)
        if found is None:
            raise PersonNotFoundError(case_id, "missing person" if kind == "missing" else "UDR case")
        return found

    def cases_by_ids(self, kind: str, ids: list[int]) -> dict[int, Any]:
        if not ids:
            return {}
        table = TABLES[kind]
        with self._engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.id.in_(sorted(set(ids))))).all()
        return {row.id: _case(kind, row) for row in rows}

    def missing_by_cnic(self, cnic: str) -> list[Any]:
        c = missing_persons.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(missing_persons).where(c.cnic == cnic, c.status == OPEN["missing"])
            ).all()
        return [MissingPerson.from_row(row) for row in rows]

    def by_watchlist_profile(self, profile_id: int) -> list[MissingPerson]:
        c = missing_persons.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(missing_persons).where(c.watchlist_profile_id == profile_id)).all()
        return [MissingPerson.from_row(row) for row in rows]

    def set_watchlist(self, missing_id: int, profile_id: int | None, note: str | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(missing_persons)
                .where(missing_persons.c.id == missing_id)
                .values(watchlist_profile_id=profile_id, watchlist_note=note)
            )

    def search(
        self, kind: Kind, filters: CaseFilters, limit: int, offset: int
    ) -> tuple[list[tuple[AnyCase, float]], int]:
        table = TABLES[kind]
        c = table.c
        when = c.last_seen_at if kind == "missing" else c.found_at
        where = []
        if filters.status is not None:
            where.append(c.status == filters.status)
        if filters.district is not None:
            where.append(func.lower(c.district) == filters.district.lower())
        if filters.sex is not None:
            where.append(c.sex == filters.sex)
        if filters.since is not None:
            where.append(when >= filters.since)
        if filters.until is not None:
            where.append(when < filters.until)
        with self._engine.connect() as conn:
            if kind == "missing" and filters.q:
                key = name_key(filters.q)
                if key.empty:
                    return [], 0
                rows = conn.execute(
                    select(table)
                    .where(*where, sounds_like(key, c.name_phonetic))
                    .order_by(c.id.desc())
                    .limit(NAME_CANDIDATES)
                ).all()
                scored = [(_case(kind, r), round(score(key, stored_key(r)), 4)) for r in rows]
                ranked = sorted(
                    [p for p in scored if p[1] >= MIN_NAME_SCORE], key=lambda p: (-p[1], -p[0].id)
                )
                return ranked[offset : offset + limit], len(ranked)
            if filters.q:  # a UDR number
                where.append(func.lower(c.udr_number).contains(filters.q.lower(), autoescape=True))
            rows = conn.execute(
                select(table).where(*where).order_by(when.desc(), c.id.desc()).limit(limit).offset(offset)
            ).all()
            total = conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
        return [(_case(kind, row), 1.0) for row in rows], int(total)

    # -- photos --------------------------------------------------------------------------------------

    def add_photo(
        self, kind: Kind, case_id: int, photo: CleanPhoto, faceprint: bytes | None, actor: str
    ) -> CasePhoto:
        case = self.require(kind, case_id)
        if not case.is_open:
            raise RecordsError(
                f"{kind} case {case_id} is {case.registered.status}; closed cases do not change"
            )
        p = case_photos.c
        mine = (p.case_kind == kind, p.case_id == case_id)
        digest = hashlib.sha256(photo.jpeg).hexdigest()
        stamp = now()
        row: dict[str, Any] = {
            "case_kind": kind,
            "case_id": case_id,
            "jpeg": photo.jpeg,
            "width": photo.width,
        }
        row |= {"height": photo.height, "sha256": digest, "faceprint": faceprint, "added_by": actor}
        row |= {"added_at": stamp}
        try:
            with self._engine.begin() as conn:
                count = conn.execute(select(func.count()).select_from(case_photos).where(*mine)).scalar_one()
                if count >= MAX_PHOTOS_PER_CASE:
                    raise RecordsError(f"the case has {count} photos; at most {MAX_PHOTOS_PER_CASE}")
                photo_id = int(conn.execute(insert(case_photos).values(**row).returning(p.id)).scalar_one())
        except IntegrityError:
            raise RecordsError("this photo is already on the case") from None
        return CasePhoto(photo_id, photo.width, photo.height, faceprint is not None, actor, stamp)

    def photos(self, kind: str, case_id: int) -> list[CasePhoto]:
        p = case_photos.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    p.id,
                    p.width,
                    p.height,
                    p.faceprint.is_not(None).label("has_face"),
                    p.added_by,
                    p.added_at,
                )
                .where(p.case_kind == kind, p.case_id == case_id)
                .order_by(p.id)
            ).all()
        return [
            CasePhoto(r.id, r.width, r.height, bool(r.has_face), r.added_by, utc(r.added_at) or now())
            for r in rows
        ]

    def photo(self, kind: str, case_id: int, photo_id: int | None = None) -> bytes | None:
        p = case_photos.c
        query = select(p.jpeg).where(p.case_kind == kind, p.case_id == case_id)
        if photo_id is not None:
            query = query.where(p.id == photo_id)
        with self._engine.connect() as conn:
            data = conn.execute(query.order_by(p.id).limit(1)).scalar()
        return bytes(data) if data is not None else None

    def face_photos(self, kind: str, case_id: int) -> list[tuple[str, bytes]]:
        """The case's photos in which a face was found (for the camera watchlist)."""
        p = case_photos.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(p.id, p.jpeg)
                .where(p.case_kind == kind, p.case_id == case_id, p.faceprint.is_not(None))
                .order_by(p.id)
            ).all()
        return [(f"photo-{r.id}.jpg", bytes(r.jpeg)) for r in rows]

    def faceprints(self, kind: str, case_ids: list[int] | None = None) -> list[tuple[int, bytes | None]]:
        """(case id, faceprint) of the photos of open cases of one side (or of the given cases)."""
        table = TABLES[kind]
        p = case_photos.c
        query = (
            select(p.case_id, p.faceprint)
            .join(table, table.c.id == p.case_id)
            .where(p.case_kind == kind, p.faceprint.is_not(None))
        )
        if case_ids is None:
            query = query.where(table.c.status == OPEN[kind])
        else:
            query = query.where(p.case_id.in_(sorted(set(case_ids))))
        with self._engine.connect() as conn:
            return [(row.case_id, bytes(row.faceprint)) for row in conn.execute(query)]

    # -- candidates ----------------------------------------------------------------------------------

    def counterparts(self, case: AnyCase) -> list[AnyCase]:
        """Open cases of the other side that pass the hard filters of sex and time."""
        if isinstance(case, MissingPerson):
            u = udr_cases.c
            query = select(udr_cases).where(
                u.status == OPEN["udr"], u.found_at >= case.last_seen_at - DATE_SLACK
            )
            sex_column, other = u.sex, "udr"
        else:
            m = missing_persons.c
            query = select(missing_persons).where(
                m.status == OPEN["missing"], m.last_seen_at <= case.found_at + DATE_SLACK
            )
            sex_column, other = m.sex, "missing"
        if case.description.sex != "unknown":
            query = query.where(sex_column.in_([case.description.sex, "unknown"]))
        with self._engine.connect() as conn:
            return [_case(other, row) for row in conn.execute(query)]

    def replace_candidates(self, case: AnyCase, scored: list[tuple[int, PairScore]]) -> dict[int, float]:
        """Rewrite the case's candidate rows; returns the scores they had before (other id -> score)."""
        c = candidates.c
        mine, other = (c.missing_id, c.udr_id) if case.kind == "missing" else (c.udr_id, c.missing_id)
        stamp = now()
        rows = []
        for other_id, pair in scored:
            ids = (case.id, other_id) if case.kind == "missing" else (other_id, case.id)
            rows.append(
                {
                    "missing_id": ids[0],
                    "udr_id": ids[1],
                    "score": pair.score,
                    "feature_score": pair.feature_score,
                    "face_score": pair.face_score,
                    "reasons": pair.reasons,
                    "computed_at": stamp,
                }
            )
        with self._engine.begin() as conn:
            before = {r[0]: float(r[1]) for r in conn.execute(select(other, c.score).where(mine == case.id))}
            conn.execute(delete(candidates).where(mine == case.id))
            if rows:
                conn.execute(insert(candidates), rows)
        return before

    def candidates(self, kind: str, case_id: int, limit: int) -> list[Candidate]:
        c = candidates.c
        mine, other = (c.missing_id, c.udr_id) if kind == "missing" else (c.udr_id, c.missing_id)
        other_kind = "udr" if kind == "missing" else "missing"
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(candidates).where(mine == case_id).order_by(c.score.desc(), other).limit(limit)
            ).all()
        cases = self.cases_by_ids(other_kind, [getattr(r, other.name) for r in rows])
        found = []
        for r in rows:
            counterpart = cases.get(getattr(r, other.name))
            if counterpart is not None:
                found.append(
                    Candidate(
                        counterpart,
                        r.score,
                        r.feature_score,
                        r.face_score,
                        r.reasons,
                        utc(r.computed_at) or now(),
                    )
                )
        return found


def _name_columns(name: str) -> dict[str, str]:
    key = name_key(name)
    return {"name_canonical": key.canonical[:500], "name_phonetic": key.phonetic[:500]}
