"""What the watch-list API takes and returns: a list with its calibration, rights and expectation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from command_center.security.api.auditing import ReasonText
from pipeline.calibration import Calibration
from pipeline.types import fields_of
from watchlist.list_types import PURPOSES, Mode, WatchList
from watchlist.tables import MAX_LIST_NAME_LENGTH, MAX_REASON_LENGTH

MAX_GRANTS = 200
MAX_SCOPE = 500
MAX_MEMBERS = 1000

Grant = Annotated[str, Field(max_length=48, pattern=r"^(role:[a-z_]{2,32}|user:[1-9][0-9]{0,9})$")]
CameraIdText = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$")]
DistrictText = Annotated[str, Field(min_length=1, max_length=64)]
Similarity = Annotated[float, Field(gt=0, lt=1)]
Target = Annotated[float, Field(ge=1e-9, le=0.1, description="False alerts per stranger track")]


def list_target(list_id: int) -> str:
    """How the audit trail names a watch list."""
    return f"watch_list:{list_id}"


class CalibrationView(BaseModel):
    gallery: int = Field(description="Enrolled embeddings the threshold was computed for")
    target_fpir: float = Field(description="False alerts per stranger track aimed at")
    threshold: float = Field(description="Similarity at or above which a face matches through this list")
    strong_threshold: float = Field(description="A single frame at or above this decides a track")
    fpir_bound: float = Field(description="Bound on false alerts per stranger track at this threshold")
    genuine_pass: float = Field(description="Share of genuine faces at or above the threshold (measured)")
    feasible: bool = Field(description="Whether the list can be live at this target")
    reason: str = Field(description="Why not, when not feasible")
    stranger_tracks_per_hour: float
    false_alerts_per_camera_hour: float = Field(
        description="Expected false alerts per camera-hour at stranger_tracks_per_hour passers-by"
    )

    @classmethod
    def of(cls, calibration: Calibration, tracks_per_hour: float) -> CalibrationView:
        return cls.model_validate(
            {
                **fields_of(calibration),
                "genuine_pass": round(calibration.genuine_pass, 4),
                "stranger_tracks_per_hour": tracks_per_hour,
                "false_alerts_per_camera_hour": calibration.false_alerts_per_hour(tracks_per_hour),
            }
        )


class WatchListView(BaseModel):
    id: int
    name: str
    purpose: str
    description: str
    mode: Mode
    status: str
    live: bool = Field(description="Raises camera alerts now (mode live and not archived)")
    all_profiles: bool = Field(description="Holds every profile in force (the CRO gallery): search only")
    auto_category: str | None = Field(description="Profiles proposed in this category join it by default")
    priority: int
    cameras: list[str]
    districts: list[str]
    requires_ack: bool
    viewers: list[str]
    editors: list[str]
    members: int
    target_fpir: float
    threshold_floor: float | None
    gallery_size: int
    threshold: float
    strong_threshold: float
    fpir_bound: float
    genuine_pass: float
    calibration_note: str = Field(description="The threshold in words, as shown where the list is edited")
    false_alerts_per_camera_hour: float
    may_edit: bool = Field(description="Whether the caller may change this list")
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime

    @classmethod
    def of(cls, w: WatchList, tracks_per_hour: float, may_edit: bool) -> WatchListView:
        fields: dict[str, Any] = {name: getattr(w, name) for name in WatchList.__slots__}
        fields.update(
            cameras=list(w.cameras),
            districts=list(w.districts),
            viewers=list(w.viewers),
            editors=list(w.editors),
            status=w.status.value,
        )
        return cls(
            **fields,
            live=w.live,
            false_alerts_per_camera_hour=w.fpir_bound * tracks_per_hour,
            may_edit=may_edit,
        )


class NewListBody(BaseModel):
    name: Annotated[str, Field(min_length=3, max_length=MAX_LIST_NAME_LENGTH)]
    purpose: Annotated[str, Field(max_length=32, description=f"One of {', '.join(PURPOSES)}")]
    mode: Mode = Mode.SEARCH
    priority: Annotated[int, Field(ge=1, le=5)] = 3
    description: Annotated[str, Field(max_length=MAX_REASON_LENGTH)] = ""
    cameras: Annotated[list[CameraIdText], Field(max_length=MAX_SCOPE)] = Field(default_factory=list)
    districts: Annotated[list[DistrictText], Field(max_length=MAX_SCOPE)] = Field(default_factory=list)
    requires_ack: bool = True
    viewers: Annotated[list[Grant], Field(max_length=MAX_GRANTS)] = Field(default_factory=list)
    editors: Annotated[list[Grant], Field(max_length=MAX_GRANTS)] = Field(
        default_factory=lambda: ["role:supervisor"]
    )
    target_fpir: Target | None = None
    threshold_floor: Similarity | None = None
    reason: ReasonText


class ListChangeBody(BaseModel):
    """Only the fields given change. ``threshold_floor`` raises the calibrated threshold (null clears)."""

    name: Annotated[str | None, Field(min_length=3, max_length=MAX_LIST_NAME_LENGTH)] = None
    purpose: Annotated[str | None, Field(max_length=32)] = None
    description: Annotated[str | None, Field(max_length=MAX_REASON_LENGTH)] = None
    mode: Mode | None = None
    status: Annotated[str | None, Field(pattern="^(active|archived)$")] = None
    priority: Annotated[int | None, Field(ge=1, le=5)] = None
    cameras: Annotated[list[CameraIdText] | None, Field(max_length=MAX_SCOPE)] = None
    districts: Annotated[list[DistrictText] | None, Field(max_length=MAX_SCOPE)] = None
    requires_ack: bool | None = None
    viewers: Annotated[list[Grant] | None, Field(max_length=MAX_GRANTS)] = None
    editors: Annotated[list[Grant] | None, Field(max_length=MAX_GRANTS)] = None
    target_fpir: Target | None = None
    threshold_floor: Similarity | None = None
    reason: ReasonText

    def changes(self) -> dict[str, Any]:
        given = self.model_dump(exclude_unset=True, exclude={"reason"})
        return {k: v for k, v in given.items() if v is not None or k == "threshold_floor"}


class MembersBody(BaseModel):
    profile_ids: Annotated[
        list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(min_length=1, max_length=MAX_MEMBERS)
    ]
    reason: ReasonText


class CameraVerdicts(BaseModel):
    camera_id: str
    alerts: int
    confirmed: int
    false_positive: int
    open: int
    false_positive_rate: float | None
    expected_false_alerts: float = Field(
        description="False alerts the calibration expects on this camera over the period, at the "
        "assumed passers-by per hour (a camera where the list is live)"
    )
    face_threshold: float | None = Field(description="The camera's own raised threshold, if any")


class ListPerformance(BaseModel):
    list_id: int
    since: datetime
    until: datetime
    hours: float
    threshold: float
    false_alerts_per_camera_hour: float
    cameras: list[CameraVerdicts]
