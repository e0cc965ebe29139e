"""Request and response models of the CRO records API (``/persons``) and the check-in log (``/checkins``)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from command_center.records.checkins import Checkin
from command_center.records.search import Found
from command_center.records.types import Case, CaseStatus, Category, Gender, Person, PersonRecord, Vehicle
from command_center.security.users import GOVERNMENT_ID_PATTERN, normalise_government_id
from pipeline.validators import Address, Cnic, District, Label, PersonName, Reference, normalise_reference
from watchlist.plate_text import InvalidPlateError, normalise_plate

MAX_ID = 2**31 - 1
MAX_NOTES = 2000
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FORBIDDEN = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


def _notes(value: str) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise ValueError("notes, when given, are not empty")
    for ch in text:
        if ch not in "\n\t" and (ch in _BIDI or unicodedata.category(ch) in _FORBIDDEN):
            raise ValueError(f"notes cannot contain the control character U+{ord(ch):04X}")
    return text


def _section(value: str) -> str:
    text = normalise_reference(value)
    if len(text) > 32:
        raise ValueError("a section is at most 32 characters, e.g. '302 PPC' or '9(c) CNSA'")
    return text


def _past_date(value: date) -> date:
    if not date(1900, 1, 1) <= value <= datetime.now(UTC).date():
        raise ValueError("a date between 1900-01-01 and today")
    return value


Notes = Annotated[str, AfterValidator(_notes), Field(max_length=MAX_NOTES)]
Section = Annotated[str, AfterValidator(_section), Field(min_length=1, max_length=32)]
PastDate = Annotated[date, AfterValidator(_past_date)]
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
OfficerId = Annotated[
    str,
    AfterValidator(normalise_government_id),
    WithJsonSchema({"type": "string", "pattern": GOVERNMENT_ID_PATTERN, "examples": ["PK-ICT-00421"]}),
]
OFFICER_HELP = (
    "The investigating officer's Government ID (a staff account): told when the person of an open "
    "case is arrested elsewhere"
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseCreate(_Body):
    fir_number: Reference = Field(description="FIR number as written, e.g. '123/2024'")
    police_station: Label
    sections: list[Section] = Field(
        min_length=1, max_length=30, description="Sections of law, e.g. '302 PPC'"
    )
    status: CaseStatus
    fir_date: PastDate | None = None
    court: Label | None = None
    prison: Label | None = None
    notes: Notes | None = None
    investigating_officer: OfficerId | None = Field(None, description=OFFICER_HELP)


class CaseUpdate(_Body):
    fir_number: Reference | None = None
    police_station: Label | None = None
    sections: list[Section] | None = Field(None, min_length=1, max_length=30)
    status: CaseStatus | None = None
    fir_date: PastDate | None = None
    court: Label | None = None
    prison: Label | None = None
    notes: Notes | None = None
    investigating_officer: OfficerId | None = Field(None, description=OFFICER_HELP)

    def changes(self) -> dict[str, Any]:
        return _changes(self, required=("fir_number", "police_station", "sections", "status"))


class VehicleCreate(_Body):
    plate: str = Field(min_length=1, max_length=24, description="Registration number as written")
    description: Label | None = Field(None, description="Make, model, colour")
    hotlist_entry_id: RecordId | None = Field(None, description="The vehicle hotlist entry, if it is on it")

    @field_validator("plate")
    @classmethod
    def _plate(cls, value: str) -> str:
        try:
            display, _ = normalise_plate(value)
        except InvalidPlateError as exc:
            raise ValueError(str(exc)) from None
        return display

    def key(self) -> str:
        return normalise_plate(self.plate)[1]


class PersonCreate(_Body):
    category: Category
    name: PersonName
    aliases: list[PersonName] = Field(default_factory=list, max_length=20)
    father_name: PersonName | None = None
    address: Address | None = None
    cnic: Cnic | None = None
    gender: Gender | None = None
    date_of_birth: PastDate | None = None
    district: District | None = None
    watchlist_profile_id: RecordId | None = Field(
        None, description="The face watchlist profile of the person"
    )
    notes: Notes | None = None
    cases: list[CaseCreate] = Field(default_factory=list, max_length=50)
    vehicles: list[VehicleCreate] = Field(default_factory=list, max_length=20)


class PersonUpdate(_Body):
    category: Category | None = None
    name: PersonName | None = None
    aliases: list[PersonName] | None = Field(None, max_length=20)
    father_name: PersonName | None = None
    address: Address | None = None
    cnic: Cnic | None = None
    gender: Gender | None = None
    date_of_birth: PastDate | None = None
    district: District | None = None
    watchlist_profile_id: RecordId | None = None
    notes: Notes | None = None

    def changes(self) -> dict[str, Any]:
        found = _changes(self, required=("category", "name", "aliases"))
        if "aliases" in found:
            found["aliases"] = tuple(found["aliases"])
        return found


def _changes(body: BaseModel, required: tuple[str, ...]) -> dict[str, Any]:
    """The fields the caller sent (null clears an optional field); 422 for null where a value is needed."""
    found = {name: getattr(body, name) for name in body.model_fields_set}
    nulls = sorted(name for name in required if name in found and found[name] is None)
    if nulls:
        raise ValueError(f"{', '.join(nulls)} cannot be null")
    if not found:
        raise ValueError("send at least one field to change")
    return found


class CaseView(BaseModel):
    id: int
    fir_number: str
    fir_date: date | None
    police_station: str
    sections: list[str]
    status: str
    court: str | None
    prison: str | None
    notes: str | None
    investigating_officer: str | None = Field(description="Government ID of the investigating officer")
    updated_by: str
    updated_at: datetime

    @classmethod
    def of(cls, case: Case) -> CaseView:
        f = case.fields
        return cls(
            id=case.id,
            fir_number=f.fir_number,
            fir_date=f.fir_date,
            police_station=f.police_station,
            sections=list(f.sections),
            status=f.status,
            court=f.court,
            prison=f.prison,
            notes=f.notes,
            investigating_officer=f.investigating_officer,
            updated_by=case.updated_by,
            updated_at=case.updated_at,
        )


class VehicleView(BaseModel):
    id: int
    plate: str
    description: str | None
    hotlist_entry_id: int | None
    hotlist_entry: str | None = Field(description="Link to the hotlist entry")

    @classmethod
    def of(cls, v: Vehicle) -> VehicleView:
        link = f"/vehicles/{v.hotlist_entry_id}" if v.hotlist_entry_id else None
        return cls(
            id=v.id,
            plate=v.plate_display,
            description=v.description,
            hotlist_entry_id=v.hotlist_entry_id,
            hotlist_entry=link,
        )


class PhotoView(BaseModel):
    id: int
    width: int
    height: int
    url: str
    added_by: str
    added_at: datetime


class PersonSummary(BaseModel):
    id: int
    category: str
    name: str
    aliases: list[str]
    father_name: str | None
    address: str | None
    cnic: str | None
    district: str | None
    watchlist_profile_id: int | None
    archived: bool

    @classmethod
    def of(cls, p: Person) -> PersonSummary:
        f = p.fields
        return cls(
            id=p.id,
            category=f.category,
            name=f.name,
            aliases=list(f.aliases),
            father_name=f.father_name,
            address=f.address,
            cnic=f.cnic,
            district=f.district,
            watchlist_profile_id=f.watchlist_profile_id,
            archived=p.archived,
        )


class PersonView(PersonSummary):
    gender: str | None
    date_of_birth: date | None
    notes: str | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    archived_at: datetime | None
    cases: list[CaseView]
    vehicles: list[VehicleView]
    photos: list[PhotoView]

    @classmethod
    def of_record(cls, record: PersonRecord) -> PersonView:
        p = record.person
        base = PersonSummary.of(p).model_dump()
        cases = [CaseView.of(c) for c in record.cases]
        photos = [
            PhotoView(
                id=ph.id,
                width=ph.width,
                height=ph.height,
                url=f"/persons/{p.id}/photos/{ph.id}",
                added_by=ph.added_by,
                added_at=ph.added_at,
            )
            for ph in record.photos
        ]
        return cls(
            **base,
            gender=p.fields.gender,
            date_of_birth=p.fields.date_of_birth,
            notes=p.fields.notes,
            created_by=p.created_by,
            created_at=p.created_at,
            updated_by=p.updated_by,
            updated_at=p.updated_at,
            archived_at=p.archived_at,
            cases=cases,
            vehicles=[VehicleView.of(v) for v in record.vehicles],
            photos=photos,
        )


class SearchHit(BaseModel):
    person: PersonSummary
    score: float = Field(description="0..1, higher is a closer match")
    matched: dict[str, str] = Field(
        description="Per field asked for: the stored spelling (folded) that matched"
    )

    @classmethod
    def of(cls, found: Found, person: Person) -> SearchHit:
        return cls(person=PersonSummary.of(person), score=found.score, matched=found.matched)


class SearchPage(BaseModel):
    results: list[SearchHit]


class Following(BaseModel):
    person_id: int
    following: bool


# -- check-ins ----------------------------------------------------------------------------------------

BookingRef = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_./:-]{0,63}$", description="The hotel's own booking id")
]
Room = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 /-]{0,31}$")]


class CheckinPost(_Body):
    hotel_id: RecordId | None = Field(None, description="Optional; must be the hotel the key belongs to")
    booking_ref: BookingRef
    guest_name: PersonName
    cnic: Cnic
    phone: str | None = Field(
        None, max_length=20, description="Mobile number: 03XXXXXXXXX, +923XXXXXXXXX or E.164"
    )
    room: Room
    guests: int = Field(1, ge=1, le=50, description="People staying in the room")
    checked_in_at: AwareDatetime
    expected_checkout_at: AwareDatetime | None = None
    photo_jpeg: str | None = Field(
        None, max_length=1_400_000, description="The guest's photo, base64-encoded JPEG (at most ~1 MB)"
    )


class CheckoutPost(_Body):
    checked_out_at: AwareDatetime | None = Field(None, description="Defaults to now")


class CheckinAck(BaseModel):
    """All a hotel ever gets back: its check-in was received."""

    id: int
    received_at: datetime
    status: str = "received"


class CheckoutAck(CheckinAck):
    checked_out_at: datetime | None


class CheckinView(BaseModel):
    id: int
    hotel_id: int
    booking_ref: str
    guest_name: str
    cnic: str
    phone: str | None
    room: str
    guests: int
    checked_in_at: datetime
    expected_checkout_at: datetime | None
    checked_out_at: datetime | None
    received_at: datetime
    posted_by: str
    photo: str | None
    screened_at: datetime | None
    screening: dict[str, Any] | None

    @classmethod
    def of(cls, c: Checkin) -> CheckinView:
        data = {name: getattr(c, name) for name in cls.model_fields if name != "photo"}
        return cls(**data, photo=f"/checkins/{c.id}/photo" if c.has_photo else None)


class CheckinPage(BaseModel):
    checkins: list[CheckinView]
    total: int
