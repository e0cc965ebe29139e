"""Message contracts: one pydantic model per NATS subject (the hits, one per kind, in ``pipeline.hits``).

Every message carries ``schema_version``, ``event_id`` and ``emitted_at``; camera-scoped messages carry
``camera_id``. Binary evidence (JPEG crops) travels base64-encoded inside JSON; frames never do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The hits (pipeline/hits.py) and the message envelope (pipeline/messages.py) are defined beside this
# module and named here too, so that every contract can be imported from one place.
from pipeline.hits import HIT_CONTRACTS as HIT_CONTRACTS
from pipeline.hits import EvidenceSource as EvidenceSource
from pipeline.hits import FaceEvidence as FaceEvidence
from pipeline.hits import FaceHit as FaceHit
from pipeline.hits import Hit as Hit
from pipeline.hits import PlateCandidate as PlateCandidate
from pipeline.hits import PlateHit as PlateHit
from pipeline.hits import PlateRead as PlateRead
from pipeline.hits import ShotQuality as ShotQuality
from pipeline.hits import TrackDecision as TrackDecision
from pipeline.kinds import AlertKind
from pipeline.messages import SCHEMA_VERSION as SCHEMA_VERSION
from pipeline.messages import Box as Box
from pipeline.messages import Message as Message
from pipeline.messages import StageTimings as StageTimings
from pipeline.messages import utcnow as utcnow


class FrameSent(Message):
    """camera_sim sent a frame to its RTSP clients (published for latency measurement)."""

    camera_id: str
    seq: int = Field(ge=0, description="Frame number since the simulator started, across loops")
    loop: int = Field(ge=0)
    sent_at_ns: int = Field(description="Unix time in nanoseconds when the frame was handed to RTSP")


class WatchlistChange(Message):
    """A profile was enrolled, changed or removed (workers update their FAISS index), or ``lists``: the
    watch lists changed (thresholds, where they are live), so workers reload them."""

    action: Literal["upsert", "remove", "lists"]
    profile_id: int
    name: str = ""
    category: str = ""
    embedding_ids: list[int] = Field(default_factory=list)
    embeddings: list[list[float]] = Field(default_factory=list)
    revision: int = Field(0, ge=0, description="Watchlist revision after this change")
    expires_at: datetime | None = Field(
        None, description="When the entry's legal basis lapses; workers stop matching it from then on"
    )
    lists: list[int] = Field(
        default_factory=list, description="The watch lists the profile is on (ids); an upsert only"
    )


class AlertChange(BaseModel):
    """One step of an alert's lifecycle: a transition, an escalation, a dispatch passed on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str = Field(max_length=32, description="acknowledge, dispatch, dismiss, escalate, ...")
    from_status: str = Field(max_length=16)
    to_status: str = Field(max_length=16)
    actor: str = Field(max_length=200, description="Who: a staff member, or system:<what> for policy")
    at: datetime
    reason: str | None = None
    unit_id: str | None = None
    dispatch_id: int | None = None


class EscalationInfo(BaseModel):
    """Why an alert was escalated: how long it waited for an acknowledgement against its limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: int = Field(ge=1, le=5)
    waited_s: float = Field(ge=0, description="Seconds it had waited unacknowledged when it escalated")
    limit_s: float = Field(ge=0, description="The configured limit of its priority (escalate_after_s)")
    escalated_at: datetime


class EvidenceLinks(BaseModel):
    model_config = ConfigDict(frozen=True)

    crop: str
    scene: str


class ListedSubject(BaseModel):
    """What an alert's sighting was matched against, as the console shows it beside the evidence (each kind
    of alert says it in its own module: ``command_center/alerts/kinds``)."""

    model_config = ConfigDict(frozen=True)

    caption: str = Field(description="What this is: 'Enrolled', 'Hotlist entry', ...")
    photo: str | None = Field(None, description="A photo to show (URL), e.g. the enrolled face")
    headline: str | None = Field(None, description="One line in large type, e.g. the plate as registered")
    lines: list[str] = Field(default_factory=list, description="Further lines, in order")


class AlertSummary(BaseModel):
    """An alert as GET /alerts/{id} returns it and as alert events carry it (one shape for both).

    Unknown fields are ignored rather than refused: a newer command-centre replica may add one during a
    rolling upgrade, and the older replicas still relay and read the rest."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    status: str
    kind: AlertKind = Field(
        description="face: a watchlist profile was seen; plate: a hotlisted vehicle; checkin: a listed "
        "person checked into a hotel; fusion: a record person's face and known vehicle seen together"
    )
    priority: int = Field(description="1 is the most urgent")
    camera_id: str
    district: str
    profile_id: int = Field(description="The watchlist profile, hotlist entry or record person (by kind)")
    profile_name: str = Field(description="The person's name, or the plate as registered")
    category: str
    best_similarity: float
    first_seen: datetime
    last_seen: datetime
    hit_count: int
    created_at: datetime
    updated_at: datetime
    evidence: EvidenceLinks
    profile_photo: str | None = Field(None, description="The enrolled photo (face alerts)")
    vehicle: str | None = Field(None, description="The hotlist entry (plate alerts)")
    person: str | None = Field(None, description="The criminal-record person (check-in and fusion alerts)")
    details: dict[str, Any] | None = Field(
        description="Per kind: the plate read and how it matched; the face track's vote"
    )
    instruction: str | None = Field(
        None, description="What to do on the ground, by category: a missing person is a welfare check"
    )
    listed: ListedSubject | None = Field(None, description="What the sighting was matched against")


class AlertEvent(Message):
    """An alert was created or updated; fanned out to every operator's WebSocket.

    ``escalated``: left unacknowledged too long (supervisors act); ``dispatch_timeout``: a unit did not
    acknowledge its dispatch (the next one was sent, or none was left). ``change`` says what happened.
    ``audience`` says whom the event asks to act: ``supervisors`` for an escalation (everyone who reads
    the alert still receives it, so that operators see the change too).
    """

    kind: Literal["created", "updated", "escalated", "dispatch_timeout"]
    alert_id: int
    camera_id: str
    alert: AlertSummary = Field(description="The alert as GET /alerts/{id} returns it")
    change: AlertChange | None = Field(None, description="The lifecycle step, for lifecycle events")
    audience: Literal["all", "supervisors"] = Field(
        "all", description="supervisors: an escalation for supervisors and admins (GET /alerts/escalations)"
    )
    escalation: EscalationInfo | None = Field(None, description="For an escalated event: why")


class AlertEscalated(Message):
    """An alert stayed unacknowledged past its priority's limit: for supervisors' notification channels."""

    alert_id: int
    camera_id: str
    district: str
    category: str
    priority: int = Field(ge=1, le=5)
    waited_s: float = Field(ge=0, description="How long it had been waiting for an acknowledgement")
    alert: AlertSummary = Field(description="The alert as GET /alerts/{id} returns it")


UNIT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class PatrolPosition(Message):
    """A GPS fix of a patrol unit: over NATS only from a trusted gateway (``officer_id`` is believed)."""

    unit_id: str = Field(pattern=UNIT_ID_PATTERN)
    officer_id: int = Field(ge=1, le=2**31 - 1, description="The staff account of the reporting officer")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=100_000)
    recorded_at: datetime = Field(description="When the fix was taken (the phone's clock)")


class LinkedSubject(BaseModel):
    """Whom or what the officer is sent to: a watchlist profile, a hotlisted vehicle or a record person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["profile", "vehicle", "person", "camera"]
    id: int | None = None
    name: str = Field(description="The person's name, or the vehicle's plate")
    photo_url: str | None = Field(None, description="The enrolled photo (for staff allowed to see it)")
    # A vehicle's hotlist entry as it stood when the plate was matched: what the officer stops it for.
    status: str | None = Field(None, description="Vehicle: hotlist status (stolen, wanted, ...)")
    reason: str | None = Field(None, description="Vehicle: why it is on the hotlist")
    case_reference: str | None = Field(None, description="Vehicle: the FIR or case it belongs to")


class DispatchNotice(Message):
    """What an officer's app shows for a dispatch (or its cancellation), on the officer's own channel."""

    kind: Literal["dispatch", "cancelled"]
    dispatch_id: int = Field(ge=1)
    alert_id: int = Field(ge=1)
    unit_id: str
    officer_id: int = Field(ge=1)
    attempt: int = Field(ge=1, description="1 for the first unit sent to this alert, 2 for the next, ...")
    camera_id: str
    camera_name: str = ""
    district: str = ""
    latitude: float | None = Field(None, description="Where to go: the camera's position")
    longitude: float | None = None
    category: str
    priority: int = Field(ge=1, le=5)
    subject: LinkedSubject
    reason: str = Field(description="Why the unit is sent, in one line")
    note: str | None = Field(None, description="The dispatching operator's note")
    photo_jpeg: bytes | None = Field(None, description="The alert's best crop (what the camera saw)")
    evidence_url: str
    distance_m: float | None = None
    eta_s: float | None = None
    ack_deadline: datetime
    dispatched_by: str
    auto: bool = False
    cancel_reason: str | None = Field(None, description="For a cancellation: why the unit is stood down")


class PersonNotice(Message):
    """Something happened to a person on an officer's personal watchlist: seen by a camera, one of
    their known vehicles read by a hotlist camera (``vehicle_seen``), checked into a hotel, arrested.
    Published on the officer's own subject (``subjects.records_officer``)."""

    kind: Literal["seen", "vehicle_seen", "checkin", "arrested", "case_reminder"] = Field(
        description="case_reminder: one of the officer's own cases (as investigating officer) needs an "
        "update or its challan falls due (records.case_reminder_days, challan_due_days)"
    )
    officer_id: int = Field(ge=1, description="The staff account of the officer told")
    person_id: int = Field(ge=1, description="The CRO record")
    person_name: str
    category: str
    at: datetime = Field(description="When it happened (the sighting, the check-in, the arrest)")
    summary: str = Field(max_length=500, description="One line: what, where")
    place: str = Field("", max_length=500, description="Camera name, or hotel name and address")
    district: str = ""
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    alert_id: int | None = Field(None, ge=1, description="The alert raised, if any")
    camera_id: str | None = None
    person_url: str = Field(description="The record (viewing it needs a stated reason)")


class BulletinLink(BaseModel):
    """A case the bulletin is about, or that it matched: where to look and how sure the match is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["person", "arrest", "missing", "udr", "crime", "profile"]
    id: int = Field(ge=1)
    name: str = Field("", max_length=200)
    how: Literal["cnic", "name", "face", "features", "fir", "record"] = Field(
        "record", description="How it was linked: same CNIC, name search, face, physical features, FIR"
    )
    score: float = Field(1.0, ge=0, le=1, description="1 for a CNIC or FIR match")
    detail: str = Field("", max_length=500, description="e.g. the FIR and police station of a case")
    url: str = Field("", max_length=200)


class OfficerBulletin(Message):
    """Casework news for officers: on ``subjects.records_broadcast()`` for every officer (an arrest, a
    missing person, an unidentified dead body), or on ``subjects.records_casework(<officer key>)`` for
    one officer (someone in their case was arrested elsewhere, a missing person and a body may match)."""

    kind: Literal["arrest", "missing", "udr", "wanted_elsewhere", "missing_match", "missing_seen"]
    officer_id: int | None = Field(None, ge=1, description="The addressee; None on the broadcast")
    title: str = Field(max_length=200, description="One line for the notification")
    summary: str = Field(max_length=1000, description="What happened, where, which case")
    at: datetime = Field(description="When it happened (the arrest, last seen, found)")
    subject: BulletinLink = Field(description="The arrest or case this bulletin is about")
    matches: list[BulletinLink] = Field(default_factory=list, max_length=50)
    fir_number: str | None = None
    police_station: str | None = None
    sections: list[str] = Field(default_factory=list)
    district: str = ""
    place: str = Field("", max_length=500)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    instruction: str | None = Field(None, description="What an officer who meets the person should do")
    photo_jpeg: bytes | None = Field(None, description="The arrest or case photo (a small JPEG)")


class AuditAnchor(Message):
    """The head of the audit chain at a moment, kept where the database's administrator cannot rewrite
    it (a JetStream stream that denies delete and purge)."""

    seq: int = Field(ge=0, description="The chain's last entry")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="Its hash")
    replica: str = Field("", max_length=128, description="Which command centre published it")


class SessionRevoked(Message):
    """Staff credentials stopped being valid (logout, disabled account, changed role or districts).

    Every command-centre replica closes the live connections (WebSockets) that were opened with them.
    ``session_id`` names one session; ``user_id`` alone means every session of that account.
    """

    user_id: int | None = Field(None, ge=1)
    session_id: str | None = Field(None, min_length=1, max_length=64)
    reason: Literal["logout", "disabled", "role_changed", "districts_changed", "refresh_reused"]

    @model_validator(mode="after")
    def _names_someone(self) -> Self:
        if self.user_id is None and self.session_id is None:
            raise ValueError("a revocation names a user_id, a session_id or both")
        return self


class CameraStats(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: str
    connected: bool
    frames_decoded: int
    frames_analysed: int
    frames_dropped: int
    reconnects: int
    faces_detected: int
    hits_published: int
    last_frame_at: datetime | None
    faces_rejected: dict[str, int] = Field(
        default_factory=dict, description="Faces not embedded, by the quality gate that refused them"
    )
    faces_embedded: int = 0
    faces_unknown: int = Field(0, description="Embedded faces that matched no profile (nothing kept)")
    faces_ambiguous: int = Field(0, description="Embedded faces whose two best profiles were too close")
    faces_over_budget: int = Field(0, description="Faces not embedded: their track's budget was spent")
    faces_after_decision: int = Field(
        0, description="Faces not embedded: their track was decided and the shot was no better"
    )
    tracks_started: int = 0
    tracks_decided: int = 0
    tracks_undecided: int = Field(0, description="Tracks that ended without a decision")
    tracks_expired: int = Field(0, description="Tracks closed by the age budget")
    scene_cuts: int = Field(0, description="Frames that started a new scene and so ended every track")
    budget_exhausted: int = Field(0, description="Tracks whose embedding budget ran out undecided")
    hit_updates_published: int = 0
    plates_detected: int = 0
    plate_reads_published: int = Field(0, description="Vehicle passes read and published")
    plate_passes_undecided: int = Field(0, description="Passes whose frames did not agree on a plate")
    plate_passes_rejoined: int = Field(
        0, description="Tracks that re-acquired a plate just read on this camera (same pass, not published)"
    )


class WorkerHeartbeat(Message):
    worker_id: str
    cameras: list[CameraStats]
