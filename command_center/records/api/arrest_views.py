"""Request and response models of ``/arrests``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from command_center.records.api.person_views import Notes, RecordId, Section, _Body
from command_center.records.arrests import Arrest
from command_center.records.types import Gender
from pipeline.types import fields_of
from pipeline.validators import Address, Cnic, District, Label, PersonName, Reference

MAX_PHOTO_BASE64 = 2_800_000  # a 2 MB JPEG, base64-encoded


class ArrestCreate(_Body):
    person_name: PersonName = Field(description="The arrested person's name as the officer has it")
    father_name: PersonName | None = None
    cnic: Cnic | None = None
    gender: Gender | None = None
    age: int | None = Field(None, ge=7, le=120)
    person_id: RecordId | None = Field(None, description="The CRO record of the person, if known")
    fir_number: Reference = Field(description="The FIR the arrest is made in, e.g. '123/2025'")
    police_station: Label
    sections: list[Section] = Field(min_length=1, max_length=30, description="e.g. '392 PPC'")
    arrested_at: AwareDatetime
    district: District | None = None
    place: Address | None = Field(None, description="Where the arrest was made")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    notes: Notes | None = None
    photo_jpeg: str | None = Field(
        None, max_length=MAX_PHOTO_BASE64, description="The arrested person's photo, base64 JPEG or PNG"
    )


class ArrestView(BaseModel):
    id: int
    person_name: str
    father_name: str | None
    cnic: str | None
    gender: str | None
    age: int | None
    person_id: int | None = Field(description="The CRO record (given, or found by CNIC)")
    person: str | None = Field(description="Link to the CRO record")
    fir_number: str
    police_station: str
    sections: list[str]
    arrested_at: datetime
    district: str | None
    place: str | None
    latitude: float | None
    longitude: float | None
    notes: str | None
    officer_id: int
    recorded_by: str
    recorded_at: datetime
    photo: str | None
    face_found: bool
    status: str = Field(description="screening: still being checked against other cases; screened")
    broadcast_at: datetime | None
    screened_at: datetime | None
    screening: dict[str, Any] | None = Field(
        description="What the check found: matches (kind, id, how: cnic/name/face, score, detail, "
        "strong), wanted_elsewhere, and who was told"
    )
    name_score: float | None = Field(None, description="With a name search: how close the name is")

    @classmethod
    def of(cls, a: Arrest, name_score: float | None = None) -> ArrestView:
        return cls.model_validate(
            {
                **fields_of(a),
                "person_id": a.cro_person_id,
                "person": f"/persons/{a.cro_person_id}" if a.cro_person_id else None,
                "sections": list(a.sections),
                "photo": f"/arrests/{a.id}/photo" if a.has_photo else None,
                "face_found": a.has_face,
                "status": "screened" if a.screened_at else "screening",
                "name_score": name_score,
            }
        )


class ArrestPage(BaseModel):
    arrests: list[ArrestView]
    total: int
    limit: int
    offset: int
