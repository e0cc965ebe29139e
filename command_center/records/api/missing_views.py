"""Request and response models of ``/missing`` (missing persons) and ``/udr`` (unidentified dead bodies)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from command_center.alerts.instructions import WELFARE_CHECK
from command_center.records.api.arrest_views import MAX_PHOTO_BASE64
from command_center.records.api.person_views import Notes, RecordId, _Body, _changes, _notes
from command_center.records.missing_types import (
    Candidate,
    CasePhoto,
    Description,
    MissingPerson,
    UnidentifiedBody,
)
from pipeline.types import fields_of
from pipeline.validators import Address, Cnic, District, Label, Mobile, PersonName, Reference

Sex = Literal["male", "female", "unknown"]
Build = Literal["thin", "slim", "medium", "heavy", "obese"]
Complexion = Literal["very_fair", "fair", "wheatish", "brown", "dark"]
MissingStatus = Literal["open", "found", "closed"]
UdrStatus = Literal["unidentified", "identified", "closed"]
Age = Annotated[int, Field(ge=0, le=120)]
Height = Annotated[int, Field(ge=30, le=250, description="Centimetres")]


Text = Annotated[str, AfterValidator(_notes), Field(min_length=1, max_length=1000)]
Photos = Annotated[
    list[Annotated[str, Field(max_length=MAX_PHOTO_BASE64)]],
    Field(max_length=3, description="Up to 3 photos, base64 JPEG or PNG (more: POST .../photos)"),
]


class _Described(_Body):
    age_min: Age | None = Field(None, description="Estimated age range (at the time last seen / found)")
    age_max: Age | None = None
    height_cm: Height | None = None
    build: Build | None = None
    complexion: Complexion | None = None
    marks: Text | None = Field(None, description="Identification marks: scars, moles, tattoos, ...")
    clothing: Text | None = Field(None, description="What the person wore")
    district: District | None = None
    police_station: Label | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    notes: Notes | None = None


class MissingCreate(_Described):
    name: PersonName
    father_name: PersonName | None = None
    cnic: Cnic | None = None
    sex: Sex
    last_seen_at: AwareDatetime
    last_seen_place: Address | None = None
    report_number: Reference | None = Field(None, description="The missing person report / FIR number")
    contact_name: PersonName | None = Field(None, description="Who reported, to be called back")
    contact_phone: Mobile | None = None
    photos_jpeg: Photos = Field(default_factory=list)


class UdrCreate(_Described):
    udr_number: Reference = Field(description="The unidentified dead body report number")
    sex: Sex
    found_at: AwareDatetime
    found_place: Address | None = None
    photos_jpeg: Photos = Field(default_factory=list)


class _DescribedUpdate(_Body):
    sex: Sex | None = None
    age_min: Age | None = None
    age_max: Age | None = None
    height_cm: Height | None = None
    build: Build | None = None
    complexion: Complexion | None = None
    marks: Text | None = None
    clothing: Text | None = None
    district: District | None = None
    police_station: Label | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    notes: Notes | None = None


class MissingUpdate(_DescribedUpdate):
    name: PersonName | None = None
    father_name: PersonName | None = None
    cnic: Cnic | None = None
    last_seen_at: AwareDatetime | None = None
    last_seen_place: Address | None = None
    report_number: Reference | None = None
    contact_name: PersonName | None = None
    contact_phone: Mobile | None = None
    status: MissingStatus | None = Field(
        None, description="found or closed takes the photos off the watchlist"
    )

    def changes(self) -> dict[str, Any]:
        return _changes(self, required=("name", "sex", "last_seen_at", "status"))


class UdrUpdate(_DescribedUpdate):
    udr_number: Reference | None = None
    found_at: AwareDatetime | None = None
    found_place: Address | None = None
    status: UdrStatus | None = None
    identified_missing_id: RecordId | None = Field(
        None, description="With status identified: the missing person it was (that case becomes found)"
    )

    def changes(self) -> dict[str, Any]:
        return _changes(self, required=("udr_number", "sex", "found_at", "status"))


class PhotoView(BaseModel):
    id: int
    width: int
    height: int
    face_found: bool
    url: str
    added_by: str
    added_at: datetime

    @classmethod
    def of(cls, kind: str, case_id: int, p: CasePhoto) -> PhotoView:
        url = f"/{kind}/{case_id}/photos/{p.id}"
        return cls(
            id=p.id,
            width=p.width,
            height=p.height,
            face_found=p.has_face,
            url=url,
            added_by=p.added_by,
            added_at=p.added_at,
        )


class DescriptionView(BaseModel):
    sex: str
    age_min: int | None
    age_max: int | None
    height_cm: int | None
    build: str | None
    complexion: str | None
    marks: str | None
    clothing: str | None
    district: str | None
    police_station: str | None
    latitude: float | None
    longitude: float | None
    notes: str | None

    @classmethod
    def fields_of(cls, d: Description) -> dict[str, Any]:
        return cls.model_validate(d, from_attributes=True).model_dump()


class _CaseView(DescriptionView):
    id: int
    status: str
    registered_by: str
    registered_by_id: int
    created_at: datetime
    updated_by: str
    updated_at: datetime
    photos: list[PhotoView] = Field(default_factory=list)


class MissingView(_CaseView):
    name: str
    father_name: str | None
    cnic: str | None
    last_seen_at: datetime
    last_seen_place: str | None
    report_number: str | None
    contact_name: str | None
    contact_phone: str | None
    watchlist_profile_id: int | None = Field(
        description="Its photos on the camera watchlist (category missing)"
    )
    watchlist: str | None = Field(description="Whether and until when the photos are on the camera watchlist")
    instruction: str = Field(WELFARE_CHECK, description="What an officer who finds the person does")
    candidates: str

    @classmethod
    def of(cls, m: MissingPerson, photos: list[CasePhoto] | None = None) -> MissingView:
        r = m.registered
        return cls.model_validate(
            {
                **fields_of(m),
                **DescriptionView.fields_of(m.description),
                "status": r.status,
                "registered_by": r.registered_by,
                "registered_by_id": r.registered_by_id,
                "created_at": r.created_at,
                "updated_by": r.updated_by,
                "updated_at": r.updated_at,
                "photos": [PhotoView.of("missing", m.id, p) for p in photos or []],
                "watchlist": m.watchlist_note,
                "candidates": f"/missing/{m.id}/candidates",
            }
        )


class UdrView(_CaseView):
    udr_number: str
    found_at: datetime
    found_place: str | None
    identified_missing_id: int | None
    candidates: str

    @classmethod
    def of(cls, u: UnidentifiedBody, photos: list[CasePhoto] | None = None) -> UdrView:
        r = u.registered
        return cls.model_validate(
            {
                **fields_of(u),
                **DescriptionView.fields_of(u.description),
                "status": r.status,
                "registered_by": r.registered_by,
                "registered_by_id": r.registered_by_id,
                "created_at": r.created_at,
                "updated_by": r.updated_by,
                "updated_at": r.updated_at,
                "photos": [PhotoView.of("udr", u.id, p) for p in photos or []],
                "candidates": f"/udr/{u.id}/candidates",
            }
        )


class MissingPage(BaseModel):
    cases: list[MissingView]
    total: int
    limit: int
    offset: int


class UdrPage(BaseModel):
    cases: list[UdrView]
    total: int
    limit: int
    offset: int


class CandidateView(BaseModel):
    score: float = Field(description="0..1, higher is likelier; the list is ranked by it")
    feature_score: float = Field(description="From the description alone")
    face_score: float | None = Field(
        description="Cosine similarity of the faces, when both have a face photo"
    )
    reasons: dict[str, float] = Field(description="Each feature's score (age, height, build, marks, ...)")
    computed_at: datetime
    missing: MissingView | None = None
    udr: UdrView | None = None

    @classmethod
    def of(cls, c: Candidate) -> CandidateView:
        other = c.other
        return cls.model_validate(
            {
                **fields_of(c),
                "missing": MissingView.of(other) if isinstance(other, MissingPerson) else None,
                "udr": UdrView.of(other) if isinstance(other, UnidentifiedBody) else None,
            }
        )


class CandidatePage(BaseModel):
    candidates: list[CandidateView]
