"""The vocabulary of the CRO records: categories, case statuses, and the shapes read from the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from pipeline.adapters.database import as_utc

Category = Literal[
    "hbt_offender", "local", "non_local", "rowdy_sheeter", "history_sheeter", "wanted", "missing"
]
CATEGORIES: tuple[str, ...] = (
    "hbt_offender",
    "local",
    "non_local",
    "rowdy_sheeter",
    "history_sheeter",
    "wanted",
    "missing",
)
CaseStatus = Literal[
    "registered",
    "under_investigation",
    "challan_submitted",
    "under_trial",
    "on_bail",
    "absconding",
    "proclaimed_offender",
    "convicted",
    "acquitted",
    "discharged",
    "disposed",
]
Gender = Literal["male", "female", "other"]
SearchField = Literal["name", "alias", "father", "address"]


class RecordsError(ValueError):
    """A request about records that cannot be carried out; the message says why (a 4xx)."""


class PersonNotFoundError(LookupError):
    def __init__(self, person_id: int, what: str = "person") -> None:
        super().__init__(f"no {what} with id {person_id}")


class DuplicateCnicError(RecordsError):
    def __init__(self, cnic: str, existing_id: int | None) -> None:
        where = f" (person {existing_id})" if existing_id is not None else ""
        super().__init__(f"CNIC {cnic} is already on the records{where}")
        self.existing_id = existing_id


def utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PersonFields:
    """Everything about a person that a clerk types (already validated and normalised)."""

    category: str
    name: str
    aliases: tuple[str, ...] = ()
    father_name: str | None = None
    address: str | None = None
    cnic: str | None = None
    gender: str | None = None
    date_of_birth: date | None = None
    district: str | None = None
    watchlist_profile_id: int | None = None
    notes: str | None = None

    def as_row(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "name": self.name,
            "aliases": list(self.aliases),
            "father_name": self.father_name,
            "address": self.address,
            "cnic": self.cnic,
            "gender": self.gender,
            "date_of_birth": self.date_of_birth,
            "district": self.district,
            "watchlist_profile_id": self.watchlist_profile_id,
            "notes": self.notes,
        }


EDITABLE = tuple(PersonFields.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    fields: PersonFields
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    archived_at: datetime | None

    @property
    def name(self) -> str:
        return self.fields.name

    @property
    def category(self) -> str:
        return self.fields.category

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @classmethod
    def from_row(cls, row: Any) -> Person:
        data = dict(row._mapping)
        values = {name: data[name] for name in EDITABLE}
        values["aliases"] = tuple(values["aliases"] or ())
        return cls(
            id=data["id"],
            fields=PersonFields(**values),
            created_by=data["created_by"],
            created_at=utc(data["created_at"]) or now(),
            updated_by=data["updated_by"],
            updated_at=utc(data["updated_at"]) or now(),
            archived_at=utc(data["archived_at"]),
        )

    def audit_summary(self) -> dict[str, Any]:
        return {"name": self.name, "category": self.category, "cnic": self.fields.cnic}


@dataclass(frozen=True, slots=True)
class CaseFields:
    fir_number: str
    police_station: str
    sections: tuple[str, ...]
    status: str
    fir_date: date | None = None
    court: str | None = None
    prison: str | None = None
    notes: str | None = None
    investigating_officer: str | None = None  # a staff Government ID


CASE_EDITABLE = tuple(CaseFields.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    person_id: int
    fields: CaseFields
    updated_by: str
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Case:
        data = dict(row._mapping)
        values = {name: data[name] for name in CASE_EDITABLE}
        values["sections"] = tuple(values["sections"] or ())
        return cls(
            data["id"],
            data["person_id"],
            CaseFields(**values),
            data["updated_by"],
            utc(data["updated_at"]) or now(),
        )


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: int
    person_id: int
    plate: str
    plate_display: str
    description: str | None
    hotlist_entry_id: int | None
    added_by: str
    added_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Vehicle:
        data = dict(row._mapping)
        data["added_at"] = utc(data["added_at"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    id: int
    width: int
    height: int
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person with everything attached: what a profile view shows."""

    person: Person
    cases: list[Case] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    photos: list[PhotoInfo] = field(default_factory=list)
