"""The vocabulary of missing persons and unidentified dead bodies: the shared description, the two
kinds of case as read from the store, their photos and ranked candidates."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Table

from command_center.records.matching import Features
from command_center.records.missing_tables import missing_persons, udr_cases
from command_center.records.types import now, utc

Kind = Literal["missing", "udr"]
KINDS: tuple[Kind, ...] = ("missing", "udr")
MISSING_STATUSES = ("open", "found", "closed")
UDR_STATUSES = ("unidentified", "identified", "closed")
OPEN: dict[str, str] = {"missing": "open", "udr": "unidentified"}
TABLES: dict[str, Table] = {"missing": missing_persons, "udr": udr_cases}


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


def case_of(kind: str, row: Any) -> AnyCase:
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
