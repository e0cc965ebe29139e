"""Request and response models of ``/crimes`` (crime reports, M-CCTNS crime mapping)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from command_center.records.api.person_views import Notes, _Body
from command_center.records.crime_types import CrimeType
from command_center.records.crimes import Cell, CrimeReport, Tally
from pipeline.types import fields_of
from pipeline.validators import Address, District, Label, Reference


class CrimeCreate(_Body):
    type: CrimeType = Field(description="One of GET /crimes/types; 'other' needs type_detail")
    type_detail: Label | None = Field(None, description="What it was, for type 'other' (or a refinement)")
    occurred_at: AwareDatetime
    latitude: float = Field(ge=-90, le=90, description="GPS of the scene")
    longitude: float = Field(ge=-180, le=180)
    place: Address | None = Field(None, description="The scene as people name it")
    district: District | None = None
    police_station: Label | None = None
    fir_number: Reference | None = Field(None, description="The FIR, once registered")
    description: Notes | None = None


class CrimeView(BaseModel):
    id: int
    type: str
    type_detail: str | None
    occurred_at: datetime
    latitude: float
    longitude: float
    place: str | None
    district: str | None
    police_station: str | None
    fir_number: str | None
    description: str | None
    officer_id: int = Field(description="The reporting officer's staff account")
    reported_by: str
    reported_at: datetime
    photos: list[str]
    distance_m: float | None = Field(None, description="From lat/lon, when the search gave them")

    @classmethod
    def of(cls, r: CrimeReport, distance_m: float | None = None) -> CrimeView:
        return cls.model_validate(
            {
                **fields_of(r),
                "type": r.crime_type,
                "photos": [f"/crimes/{r.id}/photos/{photo_id}" for photo_id in r.photo_ids],
                "distance_m": round(distance_m, 1) if distance_m is not None else None,
            }
        )


class CrimePage(BaseModel):
    reports: list[CrimeView]
    total: int
    limit: int
    offset: int


class CrimeTypeView(BaseModel):
    type: str
    label: str
    description: str


class HotspotCell(BaseModel):
    lat: float = Field(description="The cell's centre")
    lon: float
    count: int
    by_type: dict[str, int]

    @classmethod
    def of(cls, cell: Cell) -> HotspotCell:
        return cls(lat=cell.latitude, lon=cell.longitude, count=cell.count, by_type=cell.by_type)


class Hotspots(BaseModel):
    cell_m: int = Field(description="The side of a grid cell in metres")
    cells: list[HotspotCell] = Field(description="Cells with at least one report, the busiest first")
    total: int = Field(description="Reports counted")


class CrimeTally(BaseModel):
    key: str | None = Field(description="The police station, district or type; null: not recorded")
    count: int
    by_type: dict[str, int]

    @classmethod
    def of(cls, tally: Tally) -> CrimeTally:
        return cls(key=tally.key, count=tally.count, by_type=tally.by_type)


class CrimeStats(BaseModel):
    group_by: str
    groups: list[CrimeTally] = Field(description="The largest groups first")
    total: int = Field(description="Reports counted")


def crime_stats_csv(stats: CrimeStats) -> str:
    """One row per group: the key, the count, then a column per crime type seen."""
    types = sorted({t for g in stats.groups for t in g.by_type})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([stats.group_by, "count", *types])
    for group in stats.groups:
        writer.writerow([_cell(group.key or ""), group.count, *(group.by_type.get(t, 0) for t in types)])
    writer.writerow(["total", stats.total, *(sum(g.by_type.get(t, 0) for g in stats.groups) for t in types)])
    return out.getvalue()


def _cell(text: str) -> str:
    """A spreadsheet must not take a station's name for a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class PhotoAdded(BaseModel):
    id: int
    url: str
