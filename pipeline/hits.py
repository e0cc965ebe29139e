"""Hits: what workers (and, for plates, the command centre's hotlist matcher) publish on
``safecity.hits.<kind>.<camera>``, one contract per kind of hit, each naming its ``KIND``; and the plate reads
ANPR cameras log. A new kind's contract goes here (README, "Adding an analytic")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from pipeline.kinds import HitKind
from pipeline.messages import Box, Message, StageTimings
from pipeline.storable import CAMERA_ID, MAX_DB_ID, Storable


class ShotQuality(BaseModel):
    """How good a face image is for recognition, as the worker's quality gates measured it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: float = Field(ge=0, le=1, description="Size x sharpness x frontalness, each capped at 1")
    side_px: float = Field(ge=0, description="Shorter side of the face box in pixels")
    sharpness: float = Field(ge=0, description="Variance of the Laplacian of the grey face crop")
    yaw: float = Field(description="Sideways turn from the landmarks; 0 is frontal")
    pitch: float = Field(description="Nod from the landmarks; 0 is frontal")


class TrackDecision(BaseModel):
    """Why the worker decided that a track is this profile: the votes of the track's frames."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["consensus", "strong", "template"] = Field(
        description="consensus: enough frames agreed; strong: one frame was very similar; template: the "
        "track's faces together (their quality-weighted mean) matched"
    )
    revision: int = Field(
        0, ge=0, description="0 for the decision, 1, 2, ... for updates with better evidence"
    )
    frames_embedded: int = Field(
        ge=1, description="Frames of the track that passed the gates and were embedded"
    )
    frames_matched: int = Field(ge=0, description="Embedded frames whose best match was this profile")
    mean_similarity: float = Field(ge=-1, le=1, description="Mean similarity over the matching frames")
    max_similarity: float = Field(ge=-1, le=1)
    runner_up_support: float = Field(
        0.0, ge=0, description="Quality-weighted support of the second profile relative to this one's"
    )
    first_seen_at: datetime
    last_seen_at: datetime
    best_shot: ShotQuality


class EvidenceSource(BaseModel):
    """Where a hit's crop and scene were taken when not from the analysed frame itself."""

    stream: Literal["main"] = Field(
        description="The camera's main stream (the analysed one was a sub-stream)"
    )
    width: int = Field(ge=1, le=16384, description="The main stream frame's size")
    height: int = Field(ge=1, le=16384)
    offset_ms: float = Field(
        ge=0, le=60_000, description="How far apart the two frames were, by camera clock"
    )
    correlation: float = Field(ge=-1, le=1, description="Likeness of the two crops (greyscale correlation)")


class FaceHit(Message, Storable):
    """A face in a camera frame that matched a watchlist profile at or above the threshold."""

    KIND: ClassVar[HitKind] = "face"

    camera_id: str = Field(pattern=CAMERA_ID)
    worker_id: str = Field(max_length=128)
    frame_seq: int | None = Field(None, description="camera_sim frame number, when the stream carries it")
    frame_sent_at: datetime | None = Field(None, description="When the camera sent the frame, if known")
    captured_at: datetime = Field(description="When the worker received the frame")
    box: Box
    landmarks: list[tuple[float, float]] = Field(min_length=5, max_length=5)
    detector_score: float = Field(ge=0, le=1)
    similarity: float = Field(ge=-1, le=1)
    threshold: float = Field(ge=0, le=1)
    profile_id: int = Field(ge=1, le=MAX_DB_ID)
    profile_name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=64)
    embedder_model: str = Field(max_length=64)
    crop_jpeg: bytes
    scene_jpeg: bytes
    timings: StageTimings = Field(default_factory=StageTimings)
    track_id: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="The worker's track of this face on this camera (unique per camera, fits a 32-bit "
        "column); None from workers without tracking. The evidence fields describe the track's best shot.",
    )
    track_frames: int | None = Field(None, ge=1, description="Frames the track had been seen in")
    decision: TrackDecision | None = Field(None, description="How the track was decided")
    watch_list_id: int | None = Field(
        None, ge=1, le=2**31 - 1, description="The live watch list the face matched through"
    )
    watch_list_name: str = Field("", max_length=100)
    priority: int | None = Field(None, ge=1, le=5, description="The watch list's priority (1 most urgent)")
    requires_ack: bool = Field(
        True, description="False: the watch list asks for no acknowledgement, so the alert never escalates"
    )
    evidence: EvidenceSource | None = Field(
        None, description="None: crop and scene are of the analysed frame; else where they were taken"
    )

    @property
    def hit_id(self) -> uuid.UUID:
        return self.event_id


class FaceEvidence(Message, Storable):
    """Sharper images for a face hit already published: the main stream's crop and scene of the hit's instant.

    A camera analysed on its sub-stream publishes its hit at once with the sub-stream's images, then this,
    once the main stream's frame of the same instant is decoded (``workers.evidence_upgrade``), on
    ``subjects.face_evidence(camera)``. The command centre puts the images on the alert that stored
    ``hit_id``, if the alert still shows that hit's images; it never opens an alert of its own.
    """

    camera_id: str = Field(pattern=CAMERA_ID)
    worker_id: str = Field(max_length=128)
    hit_id: uuid.UUID = Field(description="The FaceHit's event_id: the sighting these images are of")
    crop_jpeg: bytes
    scene_jpeg: bytes
    evidence: EvidenceSource


class PlateCandidate(BaseModel):
    """One reading of a plate that the frames of a vehicle pass voted for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(pattern=r"^[A-Z0-9]{2,12}$", description="Normalised: A-Z and 0-9 only")
    score: float = Field(ge=0, description="Confidence-weighted votes for this reading")
    frames: int = Field(ge=1, description="Frames that read it")


class PlateRead(Message, Storable):
    """One vehicle pass on an ANPR camera: the plate text the frames of one track agreed on.

    Published for every pass (the read log investigators search), whether or not it is on a hotlist;
    the command centre matches it against the hotlist and turns a match into a PlateHit.
    """

    camera_id: str = Field(pattern=CAMERA_ID)
    worker_id: str = Field(max_length=128)
    track_id: int | None = Field(
        None, ge=1, le=MAX_DB_ID, description="The worker's track of this plate (unique per camera)"
    )
    text: str = Field(pattern=r"^[A-Z0-9]{2,12}$", description="Normalised plate text: A-Z and 0-9")
    display: str = Field(max_length=24, description="As printed, with the format's separators")
    country: str | None = Field(None, max_length=8, description="The plate format's country, if known")
    plate_format: str | None = Field(None, max_length=32, description="The format that matched")
    confidence: float = Field(ge=0, le=1, description="Share of the pass's votes for this text x OCR score")
    candidates: list[PlateCandidate] = Field(default_factory=list, max_length=8)
    frames_read: int = Field(ge=1, description="Frames of the pass whose plate was read")
    first_seen_at: datetime
    last_seen_at: datetime
    frame_seq: int | None = None
    frame_sent_at: datetime | None = Field(None, description="When the camera sent the best frame, if known")
    captured_at: datetime = Field(description="When the worker received the best frame")
    box: Box = Field(description="The plate in the best frame")
    detector_score: float = Field(ge=0, le=1)
    crop_jpeg: bytes = Field(description="The best plate crop (rectified)")
    scene_jpeg: bytes = Field(description="The best frame, downscaled")
    timings: StageTimings = Field(default_factory=StageTimings)


class PlateHit(Message, Storable):
    """A plate read that matched a vehicle hotlist entry (published by the command centre's matcher)."""

    KIND: ClassVar[HitKind] = "plate"

    camera_id: str = Field(pattern=CAMERA_ID)
    read_id: uuid.UUID = Field(description="event_id of the PlateRead")
    worker_id: str = Field(max_length=128)
    track_id: int | None = Field(None, ge=1, le=MAX_DB_ID)
    read_text: str = Field(pattern=r"^[A-Z0-9]{2,12}$")
    read_display: str = Field(max_length=24)
    read_confidence: float = Field(ge=0, le=1)
    entry_id: int = Field(ge=1, le=MAX_DB_ID, description="The hotlist entry")
    plate: str = Field(description="The entry's registration number (normalised)")
    plate_display: str
    status: str = Field(description="stolen, crime_involved, wanted, ...")
    priority: int = Field(ge=1, le=5, description="1 is the most urgent")
    reason: str
    case_reference: str | None = None
    match_kind: Literal["exact", "confusion", "partial"]
    match_score: float = Field(ge=0, le=1, description="1 for an exact match")
    frame_sent_at: datetime | None = None
    captured_at: datetime
    box: Box
    detector_score: float = Field(ge=0, le=1)
    crop_jpeg: bytes
    scene_jpeg: bytes
    timings: StageTimings = Field(default_factory=StageTimings)

    @property
    def hit_id(self) -> uuid.UUID:
        return self.event_id


TamperCondition = Literal["covered", "defocused", "moved"]


class TamperHit(Message, Storable):
    """A camera that no longer shows its scene: its lens covered, blinded or sprayed (covered), out of focus
    (defocused), or turned away (moved), for longer than the worker's hold time."""

    KIND: ClassVar[HitKind] = "tamper"

    camera_id: str = Field(pattern=CAMERA_ID)
    worker_id: str = Field(max_length=128)
    condition: TamperCondition
    score: float = Field(ge=0, le=1, description="How far the view is from the camera's usual one")
    measures: dict[str, float] = Field(
        default_factory=dict,
        description="What was measured now and in the usual view (contrast, sharpness, ...)",
    )
    since: datetime = Field(description="When the view first changed")
    frame_sent_at: datetime | None = None
    captured_at: datetime
    box: Box = Field(description="The whole frame")
    detector_score: float = Field(1.0, ge=0, le=1)
    crop_jpeg: bytes = Field(description="The view now")
    scene_jpeg: bytes = Field(description="The camera's usual view, as learned before the change")
    timings: StageTimings = Field(default_factory=StageTimings)
    track_id: None = None
    priority: int | None = Field(None, ge=1, le=5, description="None: the camera_tamper category's priority")

    @property
    def hit_id(self) -> uuid.UUID:
        return self.event_id


# Every kind of hit, each contract naming its kind (KIND, one of pipeline.kinds.HitKind).
Hit = FaceHit | PlateHit | TamperHit
# The contract of each kind of hit, by the kind its subject names (``subjects.hits(kind, camera)``).
HIT_CONTRACTS: dict[str, type[Hit]] = {contract.KIND: contract for contract in get_args(Hit)}
