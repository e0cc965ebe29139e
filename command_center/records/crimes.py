"""Crime reports in SQL (SQLite or PostgreSQL): reported by officers with GPS, type, time and photos;
searched by type, time, distance, police station and FIR; aggregated onto a grid for the hotspot map.

Distance: a bounding box the indexes serve, then the equirectangular distance in SQL (plain arithmetic,
the same on both databases; within 0.5 % of the great-circle distance for radii up to 100 km).

Hotspots: a grid of square cells ``cell_m`` on a side. Rows of the grid are ``cell_m`` of latitude;
within a row, a cell spans ``cell_m`` of longitude at the row's middle latitude, so cells keep their
size from Karachi to Gilgit and the grid is the same whatever the filters (a cell never moves).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from command_center.records.casework_photos import CleanPhoto
from command_center.records.crime_tables import crime_photos, crime_reports
from command_center.records.idempotency import insert_once
from command_center.records.types import PersonNotFoundError, RecordsError, now, utc
from pipeline.adapters import transactions
from pipeline.adapters.migrations import upgrade

M_PER_DEG = math.pi * 6_371_008.8 / 180  # metres per degree of latitude (and of longitude at the equator)
MAX_PHOTOS_PER_REPORT = 10
STREAM_ROWS = 5000


@dataclass(frozen=True, slots=True)
class NewCrime:
    crime_type: str
    occurred_at: datetime
    latitude: float
    longitude: float
    type_detail: str | None = None
    place: str | None = None
    district: str | None = None
    police_station: str | None = None
    fir_number: str | None = None
    description: str | None = None
    idempotency_key: str | None = None  # the reporting phone's UUID for this report: stored once


@dataclass(frozen=True, slots=True)
class CrimeReport:
    id: int
    crime_type: str
    type_detail: str | None
    occurred_at: datetime
    latitude: float
    longitude: float
    place: str | None
    district: str | None
    police_station: str | None
    fir_number: str | None
    description: str | None
    officer_id: int
    reported_by: str
    reported_at: datetime
    idempotency_key: str | None = None
    photo_ids: tuple[int, ...] = ()

    @classmethod
    def from_row(cls, row: Any, photo_ids: tuple[int, ...] = ()) -> CrimeReport:
        data = dict(row._mapping)
        data["occurred_at"] = utc(data["occurred_at"])
        data["reported_at"] = utc(data["reported_at"])
        return cls(**data, photo_ids=photo_ids)


@dataclass(frozen=True, slots=True)
class Near:
    latitude: float
    longitude: float
    radius_m: float

    @property
    def _cos(self) -> float:
        return max(math.cos(math.radians(self.latitude)), 0.01)

    def where(self) -> list[ColumnElement[bool]]:
        c = crime_reports.c
        dlat = self.radius_m / M_PER_DEG
        dlon = self.radius_m / (M_PER_DEG * self._cos)
        dx = (c.longitude - self.longitude) * (M_PER_DEG * self._cos)
        dy = (c.latitude - self.latitude) * M_PER_DEG
        return [
            c.latitude.between(self.latitude - dlat, self.latitude + dlat),
            c.longitude.between(self.longitude - dlon, self.longitude + dlon),
            dx * dx + dy * dy <= self.radius_m * self.radius_m,
        ]

    def distance_m(self, latitude: float, longitude: float) -> float:
        dx = (longitude - self.longitude) * M_PER_DEG * self._cos
        dy = (latitude - self.latitude) * M_PER_DEG
        return math.hypot(dx, dy)


@dataclass(frozen=True, slots=True)
class CrimeFilters:
    crime_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    near: Near | None = None
    police_station: str | None = None
    fir_number: str | None = None
    district: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        c = crime_reports.c
        found: list[ColumnElement[bool]] = []
        if self.crime_type is not None:
            found.append(c.crime_type == self.crime_type)
        if self.since is not None:
            found.append(c.occurred_at >= self.since)
        if self.until is not None:
            found.append(c.occurred_at < self.until)
        if self.near is not None:
            found += self.near.where()
        if self.police_station is not None:
            found.append(func.lower(c.police_station) == self.police_station.lower())
        if self.fir_number is not None:
            found.append(c.fir_number == self.fir_number)
        if self.district is not None:
            found.append(func.lower(c.district) == self.district.lower())
        return found


@dataclass(frozen=True, slots=True)
class Tally:
    key: str | None
    count: int
    by_type: dict[str, int]


@dataclass(frozen=True, slots=True)
class Cell:
    latitude: float
    longitude: float
    count: int
    by_type: dict[str, int]


def cell_of(latitude: float, longitude: float, cell_m: float) -> tuple[int, int]:
    """(row, column) of the grid cell holding a point."""
    dlat = cell_m / M_PER_DEG
    row = math.floor((latitude + 90.0) / dlat)
    dlon = _row_width(row, cell_m)
    return row, math.floor((longitude + 180.0) / dlon)


def cell_centre(row: int, column: int, cell_m: float) -> tuple[float, float]:
    dlat = cell_m / M_PER_DEG
    return -90.0 + (row + 0.5) * dlat, -180.0 + (column + 0.5) * _row_width(row, cell_m)


def _row_width(row: int, cell_m: float) -> float:
    """Degrees of longitude of a cell in this row (``cell_m`` at the row's middle latitude)."""
    dlat = cell_m / M_PER_DEG
    middle = -90.0 + (row + 0.5) * dlat
    return min(360.0, cell_m / (M_PER_DEG * max(math.cos(math.radians(middle)), 0.001)))


class CrimeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self._engine)

    def add(self, new: NewCrime, officer_id: int, actor: str) -> tuple[CrimeReport, bool]:
        """The new report and True; or, when a report with the same idempotency key is stored already
        (the phone sent it again), that first report and False."""
        row = {name: getattr(new, name) for name in NewCrime.__dataclass_fields__}
        row |= {"officer_id": officer_id, "reported_by": actor, "reported_at": now()}
        report_id, created = insert_once(self._engine, crime_reports, row, crime_reports.c.officer_id)
        return self.require(report_id), created

    def by_key(self, key: str) -> CrimeReport | None:
        c = crime_reports.c
        with transactions.connect(self._engine) as conn:
            report_id = conn.execute(select(c.id).where(c.idempotency_key == key)).scalar()
        return self.get(int(report_id)) if report_id is not None else None

    def get(self, report_id: int) -> CrimeReport | None:
        found = self._with_photos([report_id])
        return found.get(report_id)

    def require(self, report_id: int) -> CrimeReport:
        found = self.get(report_id)
        if found is None:
            raise PersonNotFoundError(report_id, "crime report")
        return found

    def _with_photos(self, ids: list[int]) -> dict[int, CrimeReport]:
        if not ids:
            return {}
        p = crime_photos.c
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(select(crime_reports).where(crime_reports.c.id.in_(ids))).all()
            photos = conn.execute(select(p.report_id, p.id).where(p.report_id.in_(ids)).order_by(p.id)).all()
        held: dict[int, list[int]] = {}
        for photo in photos:
            held.setdefault(photo.report_id, []).append(photo.id)
        return {row.id: CrimeReport.from_row(row, tuple(held.get(row.id, ()))) for row in rows}

    def add_photo(self, report_id: int, photo: CleanPhoto, actor: str) -> int:
        self.require(report_id)
        p = crime_photos.c
        row = {"report_id": report_id, "jpeg": photo.jpeg, "width": photo.width, "height": photo.height}
        row |= {"sha256": hashlib.sha256(photo.jpeg).hexdigest(), "added_by": actor, "added_at": now()}
        try:
            with transactions.begin(self._engine) as conn:
                count = conn.execute(
                    select(func.count()).select_from(crime_photos).where(p.report_id == report_id)
                ).scalar_one()
                if count >= MAX_PHOTOS_PER_REPORT:
                    raise RecordsError(f"the report has {count} photos; at most {MAX_PHOTOS_PER_REPORT}")
                return int(conn.execute(insert(crime_photos).values(**row).returning(p.id)).scalar_one())
        except IntegrityError:
            raise RecordsError("this photo is already on the report") from None

    def photo(self, report_id: int, photo_id: int) -> bytes | None:
        p = crime_photos.c
        with transactions.connect(self._engine) as conn:
            data = conn.execute(select(p.jpeg).where(p.report_id == report_id, p.id == photo_id)).scalar()
        return bytes(data) if data is not None else None

    def search(self, filters: CrimeFilters, limit: int, offset: int) -> tuple[list[CrimeReport], int]:
        """A page of reports, most recent first, and how many match in all."""
        c = crime_reports.c
        where = filters.where()
        with transactions.connect(self._engine) as conn:
            ids = [
                row.id
                for row in conn.execute(
                    select(c.id)
                    .where(*where)
                    .order_by(c.occurred_at.desc(), c.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            ]
            total = conn.execute(select(func.count()).select_from(crime_reports).where(*where)).scalar_one()
        found = self._with_photos(ids)
        return [found[i] for i in ids if i in found], int(total)

    def hotspots(self, filters: CrimeFilters, cell_m: float) -> tuple[list[Cell], int]:
        """Reports counted per grid cell (and per type), the busiest cells first; and the total."""
        c = crime_reports.c
        counts: dict[tuple[int, int], Counter[str]] = {}
        total = 0
        query = select(c.latitude, c.longitude, c.crime_type).where(*filters.where())
        with transactions.connect(self._engine) as conn:
            # per statement: a unit of work's shared connection keeps no streaming option
            result = conn.execute(query, execution_options={"stream_results": True, "yield_per": STREAM_ROWS})
            for latitude, longitude, crime_type in result:
                counts.setdefault(cell_of(latitude, longitude, cell_m), Counter())[crime_type] += 1
                total += 1
        cells = []
        for (row, column), by_type in counts.items():
            latitude, longitude = cell_centre(row, column, cell_m)
            cells.append(Cell(round(latitude, 6), round(longitude, 6), sum(by_type.values()), dict(by_type)))
        cells.sort(key=lambda cell: (-cell.count, cell.latitude, cell.longitude))
        return cells, total

    def counts(self, filters: CrimeFilters, group_by: str) -> tuple[list[Tally], int]:
        """Reports counted per police station, district or type (and per type within each), the
        largest groups first; and the total. Reports that name no station or district count under None."""
        c = crime_reports.c
        key = {"police_station": c.police_station, "district": c.district, "type": c.crime_type}[group_by]
        query = select(key, c.crime_type, func.count()).where(*filters.where()).group_by(key, c.crime_type)
        tallies: dict[str | None, Counter[str]] = {}
        with transactions.connect(self._engine) as conn:
            for group, crime_type, count in conn.execute(query):
                tallies.setdefault(group, Counter())[crime_type] += int(count)
        found = [Tally(group, sum(by_type.values()), dict(by_type)) for group, by_type in tallies.items()]
        found.sort(key=lambda t: (-t.count, t.key is None, t.key or ""))
        return found, sum(t.count for t in found)

    def reporting_officers(self, cases: list[tuple[str, str]]) -> dict[tuple[str, str], set[int]]:
        """The officers who reported the crimes of these (FIR number, police station) cases."""
        if not cases:
            return {}
        c = crime_reports.c
        wanted = {(fir, station.lower()): (fir, station) for fir, station in cases}
        conditions = [and_(c.fir_number == fir, func.lower(c.police_station) == low) for fir, low in wanted]
        found: dict[tuple[str, str], set[int]] = {}
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(select(c.fir_number, c.police_station, c.officer_id).where(or_(*conditions)))
            for row in rows:
                case = wanted.get((row.fir_number, (row.police_station or "").lower()))
                if case is not None:
                    found.setdefault(case, set()).add(row.officer_id)
        return found
