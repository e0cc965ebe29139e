"""What the lifecycle, dispatch and patrol APIs return (and the request bodies they take)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from command_center.alerts.lifecycle import Transition
from command_center.alerts.views import AlertView
from command_center.dispatch.dispatcher import Suggestion
from command_center.dispatch.patrol import Roster, Unit
from command_center.dispatch.positions import Position
from command_center.dispatch.records import DUTY_STATUSES, Dispatch
from command_center.security.api.auditing import MAX_REASON, ReasonText
from pipeline.contracts import UNIT_ID_PATTERN
from pipeline.settings import CAMERA_ID_PATTERN
from pipeline.types import fields_of

Note = Annotated[str | None, Field(max_length=MAX_REASON)]
UnitId = Annotated[str, Field(pattern=UNIT_ID_PATTERN)]
DutyStatus = Annotated[str, Field(pattern="^(" + "|".join(DUTY_STATUSES) + ")$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteBody(_Body):
    note: Note = None


class ReasonBody(_Body):
    reason: ReasonText = Field(description="Why (required: recorded with the verdict and in the audit trail)")


class OptionalReasonBody(_Body):
    reason: Note = None


class DispatchBody(_Body):
    unit_id: UnitId
    note: Note = None


class UnitCreate(_Body):
    id: str = Field(pattern=UNIT_ID_PATTERN, description="Call sign, e.g. ISB-MOBILE-07")
    name: str = Field(min_length=1, max_length=200)
    district: str = Field(pattern=r"^[A-Za-z0-9 _-]{1,64}$")
    duty_status: DutyStatus = "available"


class UnitUpdate(_Body):
    name: str | None = Field(None, min_length=1, max_length=200)
    district: str | None = Field(None, pattern=r"^[A-Za-z0-9 _-]{1,64}$")
    duty_status: DutyStatus | None = None


class CrewBody(_Body):
    officer_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(max_length=20)


class DutyBody(_Body):
    duty_status: DutyStatus


class FixBody(_Body):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=100_000)
    recorded_at: datetime | None = Field(None, description="When the fix was taken; now if left out")


class TransitionView(BaseModel):
    id: int
    action: str
    from_status: str
    to_status: str
    actor: str
    role: str | None
    reason: str | None
    unit_id: str | None
    dispatch_id: int | None
    at: datetime

    @classmethod
    def of(cls, t: Transition) -> TransitionView:
        return cls.model_validate({**fields_of(t)})


class DispatchView(BaseModel):
    id: int
    alert_id: int
    unit_id: str
    status: str
    attempt: int
    auto: bool
    distance_m: float | None
    eta_s: float | None
    note: str | None
    dispatched_by: str
    created_at: datetime
    ack_deadline: datetime
    acked_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, d: Dispatch) -> DispatchView:
        return cls.model_validate({**fields_of(d)})


class LifecycleView(BaseModel):
    alert_id: int
    status: str
    allowed_next: list[str]
    escalated_at: datetime | None
    transitions: list[TransitionView]
    dispatches: list[DispatchView]


class StepView(BaseModel):
    alert: AlertView
    transition: TransitionView
    dispatch: DispatchView | None = None


class OfficerView(BaseModel):
    user_id: int
    name: str


class RosterView(BaseModel):
    user_id: int
    name: str
    government_id: str
    districts: list[str]
    unit_id: str | None = Field(description="The unit the officer serves in; null: none yet")

    @classmethod
    def of(cls, r: Roster) -> RosterView:
        return cls.model_validate({**fields_of(r)})


class PositionView(BaseModel):
    latitude: float
    longitude: float
    recorded_at: float = Field(description="Epoch seconds")
    age_s: float

    @classmethod
    def of(cls, p: Position) -> PositionView:
        return cls(
            latitude=p.latitude,
            longitude=p.longitude,
            recorded_at=p.recorded_at,
            age_s=round(p.age_s(time.time()), 1),
        )


class UnitView(BaseModel):
    id: str
    name: str
    district: str
    duty_status: str
    officers: list[OfficerView]
    position: PositionView | None = None

    @classmethod
    def of(cls, unit: Unit, position: Position | None = None) -> UnitView:
        return cls.model_validate(
            {
                **fields_of(unit),
                "officers": [OfficerView(user_id=o.user_id, name=o.name) for o in unit.officers],
                "position": PositionView.of(position) if position else None,
            }
        )


class SuggestionView(BaseModel):
    unit: UnitView
    distance_m: float
    eta_s: float

    @classmethod
    def of(cls, s: Suggestion) -> SuggestionView:
        return cls(
            unit=UnitView.of(s.unit, s.position), distance_m=round(s.distance_m, 1), eta_s=round(s.eta_s, 1)
        )


class SuggestionsView(BaseModel):
    alert_id: int
    camera_id: str = Field(pattern=CAMERA_ID_PATTERN)
    latitude: float
    longitude: float
    radius_m: float
    units: list[SuggestionView]


class OfficerHome(BaseModel):
    unit: UnitView | None
    dispatches: list[DispatchView]


class FixView(BaseModel):
    outcome: str = Field(description="stored, older (a newer fix is kept), stale or future (refused)")
