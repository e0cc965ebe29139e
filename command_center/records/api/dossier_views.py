"""What ``GET /persons/{id}/dossier`` shows: one CRO person with everything about them, each with its time,
and a timeline of every event (newest first) with a position where one is known, for a map."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Literal

from pydantic import BaseModel, Field

from command_center.alerts import kinds
from command_center.alerts.store import Alert
from command_center.alerts.views import AlertView
from command_center.dispatch.notices import position_of
from command_center.records.api.arrest_views import ArrestView
from command_center.records.api.missing_views import MissingView
from command_center.records.api.person_views import CheckinView, PersonView
from command_center.records.arrests import Arrest
from command_center.records.checkins import Checkin
from command_center.records.missing_types import MissingPerson
from command_center.records.types import Case
from command_center.security.apikeys import Hotel
from pipeline.settings import CameraConfig

EventKind = Literal["face", "plate", "checkin", "tamper", "fusion", "hotel", "arrest", "case", "missing"]


class TimelineEvent(BaseModel):
    kind: EventKind = Field(
        description="An alert's kind (face, plate, checkin, fusion), or hotel (a check-in), arrest, case "
        "(an FIR on the record) or missing (a missing-person report naming the person)"
    )
    at: datetime
    summary: str = Field(description="One line: what happened, where")
    link: str = Field(description="The API path of the event's own record")
    place: str | None = None
    latitude: float | None = Field(
        None, description="Where, when known: the camera's or the hotel's position"
    )
    longitude: float | None = None


class HotelCheckinView(CheckinView):
    hotel_name: str | None
    hotel_address: str | None
    latitude: float | None
    longitude: float | None


class FollowerView(BaseModel):
    officer_id: int
    name: str | None
    government_id: str | None
    since: datetime


class DossierAlerts(BaseModel):
    face: list[AlertView] = Field(description="Face alerts of the person's watchlist profile")
    plate: list[AlertView] = Field(description="Plate alerts of the person's known vehicles")
    checkin: list[AlertView] = Field(description="Hotel check-in alerts about the person")
    fusion: list[AlertView] = Field(description="Face + known vehicle seen together")


class Dossier(BaseModel):
    person: PersonView = Field(description="Identity, photos, cases and known vehicles")
    alerts: DossierAlerts = Field(description="Only of districts the caller sees, and with alerts:read")
    checkins: list[HotelCheckinView] = Field(description="Hotel check-ins under the person's CNIC")
    arrests: list[ArrestView]
    missing: list[MissingView] = Field(
        description="Missing-person reports with the CNIC or watchlist profile"
    )
    followers: list[FollowerView] = Field(description="Officers following the person, since when")
    timeline: list[TimelineEvent] = Field(description="Every event above, newest first")


def alert_event(alert: Alert, camera: CameraConfig | None) -> TimelineEvent:
    where = (camera.name if camera and camera.name else None) or alert.camera_id
    position = position_of(alert, camera)
    return TimelineEvent(
        kind=alert.kind,
        at=alert.last_seen,
        summary=kinds.rules(alert.kind).reason(alert, where),
        link=f"/alerts/{alert.id}",
        place=where,
        latitude=position[0] if position else None,
        longitude=position[1] if position else None,
    )


def checkin_view(checkin: Checkin, hotel: Hotel | None) -> HotelCheckinView:
    return HotelCheckinView(
        **CheckinView.of(checkin).model_dump(),
        hotel_name=hotel.name if hotel else None,
        hotel_address=hotel.address if hotel else None,
        latitude=hotel.latitude if hotel else None,
        longitude=hotel.longitude if hotel else None,
    )


def checkin_event(view: HotelCheckinView) -> TimelineEvent:
    hotel = view.hotel_name or f"hotel {view.hotel_id}"
    where = ", ".join(x for x in (view.hotel_name, view.hotel_address) if x) or None
    summary = f"checked into {hotel}, room {view.room}"
    return _event("hotel", view.checked_in_at, summary, f"/checkins?cnic={view.cnic}", where, view)


def arrest_event(arrest: Arrest) -> TimelineEvent:
    where = arrest.place or arrest.district
    summary = f"arrested, {arrest.case_label}" + (f", at {where}" if where else "")
    return _event("arrest", arrest.arrested_at, summary, f"/arrests/{arrest.id}", where, arrest)


def case_event(case: Case) -> TimelineEvent:
    f = case.fields
    at = datetime.combine(f.fir_date, time(), UTC) if f.fir_date else case.updated_at
    summary = f"FIR {f.fir_number}, {f.police_station}: {f.status.replace('_', ' ')}"
    return _event("case", at, summary, f"/persons/{case.person_id}", f.police_station)


def missing_event(case: MissingPerson) -> TimelineEvent:
    where = case.last_seen_place
    summary = f"reported missing ({case.name})" + (f", last seen at {where}" if where else "")
    return _event("missing", case.last_seen_at, summary, f"/missing/{case.id}", where)


def _event(
    kind: EventKind, at: datetime, summary: str, link: str, where: str | None, placed: object = None
) -> TimelineEvent:
    """An event; ``placed``: anything with a latitude and longitude (a check-in's hotel, an arrest)."""
    latitude, longitude = getattr(placed, "latitude", None), getattr(placed, "longitude", None)
    return TimelineEvent(
        kind=kind, at=at, summary=summary, link=link, place=where, latitude=latitude, longitude=longitude
    )
