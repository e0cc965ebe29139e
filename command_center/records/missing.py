"""Missing persons and unidentified dead bodies (UDR) in SQL, their photos and ranked candidates.

Synchronous (call it from a worker thread in async code). The two sides share one description (sex,
age range, height, build, complexion, marks, clothing, place) so ``records.matching`` can compare
them; what is particular to each side (a name and when last seen; a UDR number and when found) is in
its own columns. Only open cases (a missing person not yet found, a body not yet identified) take part
in matching and in face searches.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from command_center.records.arrests import sounds_like, stored_key
from command_center.records.casework_photos import CleanPhoto
from command_center.records.idempotency import insert_once
from command_center.records.matching import DATE_SLACK, PairScore
from command_center.records.missing_tables import (
    candidates,
    case_photos,
    missing_persons,
    udr_cases,
)
from command_center.records.missing_types import (
    EDITABLE,
    MISSING_STATUSES,
    OPEN,
    TABLES,
    UDR_STATUSES,
    AnyCase,
    Candidate,
    CaseFilters,
    CasePhoto,
    Kind,
    MissingPerson,
    UnidentifiedBody,
    case_of,
)
from command_center.records.names import name_key, score
from command_center.records.types import PersonNotFoundError, RecordsError, now, utc
from pipeline.adapters import transactions
from pipeline.adapters.migrations import upgrade

MAX_PHOTOS_PER_CASE = 10
NAME_CANDIDATES = 500
MIN_NAME_SCORE = 0.6
__all__ = [
    "AnyCase",
    "Candidate",
    "CaseFilters",
    "CasePhoto",
    "Kind",
    "MissingPerson",
    "MissingStore",
    "UnidentifiedBody",
]


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
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self._engine)

    # -- cases ---------------------------------------------------------------------------------------

    def add(
        self, kind: Kind, values: dict[str, Any], actor: str, actor_id: int, key: str | None = None
    ) -> tuple[AnyCase, bool]:
        """The new case and True; or, when a case with the same idempotency ``key`` is stored already
        (the phone sent it again), that first case and False."""
        row = {name: values.get(name) for name in EDITABLE[kind]}
        row["status"] = OPEN[kind]
        _check(kind, row)
        stamp = now()
        row |= {"registered_by": actor, "registered_by_id": actor_id, "created_at": stamp}
        row |= {"updated_by": actor, "updated_at": stamp}
        if kind == "missing":
            row |= _name_columns(str(row["name"]))
        row["idempotency_key"] = key
        table = TABLES[kind]
        case_id, created = insert_once(self._engine, table, row, table.c.registered_by_id)
        return self.require(kind, case_id), created

    def update(
        self, kind: Kind, case_id: int, changes: dict[str, Any], actor: str
    ) -> tuple[AnyCase, AnyCase]:
        before = self.require(kind, case_id)
        table = TABLES[kind]
        with transactions.connect(self._engine) as conn:
            current = dict(conn.execute(select(table).where(table.c.id == case_id)).one()._mapping)
        _check(kind, {**current, **changes})
        values = dict(changes)
        if "name" in values:
            values |= _name_columns(values["name"])
        values |= {"updated_by": actor, "updated_at": now()}
        with transactions.begin(self._engine) as conn:
            conn.execute(update(table).where(table.c.id == case_id).values(**values))
        return before, self.require(kind, case_id)

    def get(self, kind: str, case_id: int) -> AnyCase | None:
        table = TABLES[kind]
        with transactions.connect(self._engine) as conn:
            row = conn.execute(select(table).where(table.c.id == case_id)).first()
        return case_of(kind, row) if row is not None else None

    def require(self, kind: str, case_id: int) -> AnyCase:
        found = self.get(kind, case_id)
        if found is None:
            raise PersonNotFoundError(case_id, "missing person" if kind == "missing" else "UDR case")
        return found

    def cases_by_ids(self, kind: str, ids: list[int]) -> dict[int, Any]:
        if not ids:
            return {}
        table = TABLES[kind]
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(select(table).where(table.c.id.in_(sorted(set(ids))))).all()
        return {row.id: case_of(kind, row) for row in rows}

    def missing_by_cnic(self, cnic: str) -> list[Any]:
        c = missing_persons.c
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(
                select(missing_persons).where(c.cnic == cnic, c.status == OPEN["missing"])
            ).all()
        return [MissingPerson.from_row(row) for row in rows]

    def by_watchlist_profile(self, profile_id: int) -> list[MissingPerson]:
        c = missing_persons.c
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(select(missing_persons).where(c.watchlist_profile_id == profile_id)).all()
        return [MissingPerson.from_row(row) for row in rows]

    def set_watchlist(self, missing_id: int, profile_id: int | None, note: str | None) -> None:
        with transactions.begin(self._engine) as conn:
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
        with transactions.connect(self._engine) as conn:
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
                scored = [(case_of(kind, r), round(score(key, stored_key(r)), 4)) for r in rows]
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
        return [(case_of(kind, row), 1.0) for row in rows], int(total)

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
            with transactions.begin(self._engine) as conn:
                count = conn.execute(select(func.count()).select_from(case_photos).where(*mine)).scalar_one()
                if count >= MAX_PHOTOS_PER_CASE:
                    raise RecordsError(f"the case has {count} photos; at most {MAX_PHOTOS_PER_CASE}")
                photo_id = int(conn.execute(insert(case_photos).values(**row).returning(p.id)).scalar_one())
        except IntegrityError:
            raise RecordsError("this photo is already on the case") from None
        return CasePhoto(photo_id, photo.width, photo.height, faceprint is not None, actor, stamp)

    def photos(self, kind: str, case_id: int) -> list[CasePhoto]:
        p = case_photos.c
        with transactions.connect(self._engine) as conn:
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
        with transactions.connect(self._engine) as conn:
            data = conn.execute(query.order_by(p.id).limit(1)).scalar()
        return bytes(data) if data is not None else None

    def face_photos(self, kind: str, case_id: int) -> list[tuple[str, bytes]]:
        """The case's photos in which a face was found (for the camera watchlist)."""
        p = case_photos.c
        with transactions.connect(self._engine) as conn:
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
        with transactions.connect(self._engine) as conn:
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
        with transactions.connect(self._engine) as conn:
            return [case_of(other, row) for row in conn.execute(query)]

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
        with transactions.begin(self._engine) as conn:
            before = {r[0]: float(r[1]) for r in conn.execute(select(other, c.score).where(mine == case.id))}
            conn.execute(delete(candidates).where(mine == case.id))
            if rows:
                conn.execute(insert(candidates), rows)
        return before

    def candidates(self, kind: str, case_id: int, limit: int) -> list[Candidate]:
        c = candidates.c
        mine, other = (c.missing_id, c.udr_id) if kind == "missing" else (c.udr_id, c.missing_id)
        other_kind = "udr" if kind == "missing" else "missing"
        with transactions.connect(self._engine) as conn:
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
