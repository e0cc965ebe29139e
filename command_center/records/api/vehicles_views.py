"""What the vehicle hotlist API takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from command_center.records.vehicle_links import LinkedPerson
from pipeline.types import fields_of
from pipeline.validators import Label, PersonName, Reference
from watchlist.plate_text import MAX_DISPLAY_LENGTH
from watchlist.vehicle_import import ImportReport
from watchlist.vehicle_search import VehicleSearchResult
from watchlist.vehicle_types import (
    DEFAULT_PRIORITY,
    MAX_PRIORITY,
    MAX_REASON,
    MIN_PRIORITY,
    MIN_REASON,
    HotlistEntry,
    VehicleStatus,
)

MAX_LISTED_IDS = 1000

PlateText = Annotated[
    str,
    Field(
        min_length=2,
        max_length=MAX_DISPLAY_LENGTH,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 .\-/]*$",
        description="Registration number as written, e.g. LEA-1234 (letters, digits, spaces, - . /)",
        examples=["LEA-1234"],
    ),
]
ListingReason = Annotated[
    str,
    Field(min_length=MIN_REASON, max_length=MAX_REASON, pattern=r"\S", description="Why it is listed"),
]
Priority = Annotated[
    int, Field(ge=MIN_PRIORITY, le=MAX_PRIORITY, description="1 (most urgent) to 5 (least urgent)")
]
Note = Annotated[
    str, Field(min_length=1, max_length=500, pattern=r"\S", description="Why the change is made (audited)")
]


def target(entry_id: int) -> str:
    """How the audit trail names a hotlist entry."""
    return f"vehicle_hotlist:{entry_id}"


class VehicleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plate: PlateText
    status: VehicleStatus
    reason: ListingReason
    case_reference: Reference
    owner: PersonName | None = None
    vehicle: Label | None = Field(None, description="Make, model, colour")
    priority: Priority = DEFAULT_PRIORITY
    expires_at: datetime | None = Field(None, description="When the entry lapses (at most five years)")


class VehiclePatch(BaseModel):
    """Only the fields sent change; ``null`` clears owner, vehicle or expires_at."""

    model_config = ConfigDict(extra="forbid")

    plate: PlateText | None = None
    status: VehicleStatus | None = None
    reason: ListingReason | None = None
    case_reference: Reference | None = None
    owner: PersonName | None = None
    vehicle: Label | None = None
    priority: Priority | None = None
    expires_at: datetime | None = None
    note: Note | None = None

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set if name != "note"}


class VehicleView(BaseModel):
    id: int
    plate: str
    plate_key: str
    status: VehicleStatus
    alerting: bool  # a sighting raises an alert now: alerting status, not removed, not expired
    expired: bool
    reason: str
    case_reference: str
    owner: str | None
    vehicle: str | None
    priority: int
    expires_at: datetime | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    removed_by: str | None
    removed_at: datetime | None
    removal_reason: str | None

    @classmethod
    def of(cls, entry: HotlistEntry) -> VehicleView:
        fields = {name: getattr(entry, name) for name in HotlistEntry.__slots__}
        return cls(**fields, alerting=entry.alerting(), expired=entry.expired())


class MatchView(BaseModel):
    kind: Literal["exact", "confusion", "partial", "wildcard", "fuzzy"]
    distance: float
    score: float


class LinkedCaseView(BaseModel):
    fir_number: str
    police_station: str
    status: str


class LinkedPersonView(BaseModel):
    """A CRO person who lists this vehicle among their known vehicles."""

    person_id: int
    name: str
    category: str
    plate: str = Field(description="The registration number as the person's record writes it")
    via: Literal["hotlist_entry", "plate"] = Field(
        description="hotlist_entry: the record names this entry; plate: the same registration number"
    )
    cases: list[LinkedCaseView]
    person: str = Field(description="Link to the person's record (viewed with a reason, audited)")

    @classmethod
    def of(cls, linked: LinkedPerson) -> LinkedPersonView:
        return cls.model_validate(
            {
                **fields_of(linked),
                "cases": [
                    LinkedCaseView(fir_number=c.fir_number, police_station=c.police_station, status=c.status)
                    for c in linked.cases
                ],
                "person": f"/persons/{linked.person_id}",
            }
        )


class SearchHit(VehicleView):
    match: MatchView
    linked_persons: list[LinkedPersonView] | None = Field(
        description="CRO persons who list this vehicle, with their cases; null for a caller who may not "
        "read CRO records"
    )

    @classmethod
    def of_result(cls, result: VehicleSearchResult, linked: list[LinkedPerson] | None = None) -> SearchHit:
        view = VehicleView.of(result.entry)
        match = MatchView(kind=result.kind, distance=result.distance, score=result.score)
        persons = None if linked is None else [LinkedPersonView.of(p) for p in linked]
        return cls(**view.model_dump(), match=match, linked_persons=persons)


class SearchPage(BaseModel):
    query: str
    results: list[SearchHit]


class VehiclePage(BaseModel):
    """A page of the hotlist listing; ``total`` counts every entry that passes the filters."""

    total: int
    limit: int
    offset: int
    results: list[VehicleView]


class RowErrorView(BaseModel):
    row: int
    message: str


class ImportView(BaseModel):
    applied: bool  # False: refused whole (bad rows without ``partial``), nothing written
    rows: int
    created: int
    updated: int
    unchanged: int
    error_count: int
    errors: list[RowErrorView]  # the first 200
    created_ids: list[int]  # the first 1000
    updated_ids: list[int]

    @classmethod
    def of(cls, report: ImportReport) -> ImportView:
        return cls(
            applied=report.applied,
            rows=report.rows,
            created=len(report.created),
            updated=len(report.updated),
            unchanged=len(report.unchanged),
            error_count=report.error_count,
            errors=[RowErrorView(row=e.row, message=e.message) for e in report.errors],
            created_ids=report.created[:MAX_LISTED_IDS],
            updated_ids=report.updated[:MAX_LISTED_IDS],
        )
