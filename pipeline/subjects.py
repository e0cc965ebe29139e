"""NATS subject and stream names. Every subject is built here; nothing else spells one out."""

from __future__ import annotations

from pipeline.kinds import HitKind, hit_kind
from pipeline.settings.camera import CAMERA_ID_RE

PREFIX = "safecity"

# JetStream streams: anything that must not be lost.
HITS_STREAM = "SAFECITY_HITS"
HITS_STREAM_SUBJECTS = [f"{PREFIX}.hits.>"]
PLATES_STREAM = "SAFECITY_PLATES"
PLATES_STREAM_SUBJECTS = [f"{PREFIX}.plates.>"]
WATCHLIST_STREAM = "SAFECITY_WATCHLIST"
WATCHLIST_STREAM_SUBJECTS = [f"{PREFIX}.watchlist.>"]
DISPATCH_STREAM = "SAFECITY_DISPATCH"
DISPATCH_STREAM_SUBJECTS = [f"{PREFIX}.dispatch.>"]
RECORDS_STREAM = "SAFECITY_RECORDS"
RECORDS_STREAM_SUBJECTS = [f"{PREFIX}.records.>"]
AUDIT_ANCHOR_STREAM = "SAFECITY_AUDIT_ANCHORS"
AUDIT_ANCHOR_STREAM_SUBJECTS = [f"{PREFIX}.audit.anchors.>"]
CHECKINS_STREAM = "SAFECITY_CHECKINS"
CHECKINS_STREAM_SUBJECTS = [f"{PREFIX}.checkins.>"]
DEADLETTER_STREAM = "SAFECITY_DEADLETTERS"
DEADLETTER_STREAM_SUBJECTS = [f"{PREFIX}.deadletters.>"]


def _token(camera_id: str) -> str:
    if not CAMERA_ID_RE.match(camera_id):
        raise ValueError(f"not a valid camera id for a subject: {camera_id!r}")
    return camera_id


def hits(kind: HitKind, camera_id: str) -> str:
    """A hit of one kind on one camera (JetStream): a face that matched a watch list, a plate read that
    matched the vehicle hotlist."""
    return f"{PREFIX}.hits.{hit_kind(kind)}.{_token(camera_id)}"


def parse_hit(subject: str) -> tuple[HitKind, str]:
    """The kind and camera of a hit's subject; ValueError for a subject that is not one."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] != "hits":
        raise ValueError(f"not a hit subject: {subject!r}")
    return hit_kind(parts[2]), _token(parts[3])


def hits_all() -> str:
    """Every kind of hit (what turns into alerts)."""
    return f"{PREFIX}.hits.>"


def plates_read(camera_id: str) -> str:
    """One vehicle pass read on an ANPR camera, matched or not: the read log (JetStream)."""
    return f"{PREFIX}.plates.read.{_token(camera_id)}"


def plates_read_all() -> str:
    return f"{PREFIX}.plates.read.*"


def watchlist_changes() -> str:
    """Enrolments and removals, so running workers update their index (JetStream)."""
    return f"{PREFIX}.watchlist.changes"


def sim_frames(camera_id: str) -> str:
    """When camera_sim sent each frame of a camera (core NATS, for latency measurement)."""
    return f"{PREFIX}.sim.frames.{_token(camera_id)}"


def checkin_screening(deployment: str) -> str:
    """Hotel check-ins waiting to be screened, of one deployment (a token of its database) (JetStream)."""
    if not deployment.isalnum():
        raise ValueError(f"not a valid deployment token: {deployment!r}")
    return f"{PREFIX}.checkins.screen.{deployment}"


def alert_events() -> str:
    """Alert created/updated, fanned out to every command-centre replica's WebSockets (core NATS)."""
    return f"{PREFIX}.alerts.events"


def sessions_revoked() -> str:
    """Staff sessions that ended, so every replica cuts their WebSockets at once (core NATS)."""
    return f"{PREFIX}.auth.revoked"


def camera_health(camera_id: str) -> str:
    """A camera's health as its worker sees it (login refused, recovered): core NATS, repeated while bad."""
    return f"{PREFIX}.cameras.health.{_token(camera_id)}"


def camera_health_all() -> str:
    return f"{PREFIX}.cameras.health.*"


def worker_heartbeat(worker_id: str) -> str:
    return f"{PREFIX}.workers.heartbeat.{_token(worker_id)}"


def worker_heartbeat_all() -> str:
    return f"{PREFIX}.workers.heartbeat.*"


def dispatch_officer(officer_key: str) -> str:
    """Dispatch notifications for one officer (JetStream; a durable consumer per officer reads it)."""
    return f"{PREFIX}.dispatch.officer.{_token(officer_key)}"


def patrol_position(unit_id: str) -> str:
    """GPS fixes of one patrol unit from trusted in-cluster gateways (core NATS; the app uses HTTP)."""
    return f"{PREFIX}.patrol.position.{_token(unit_id)}"


def patrol_position_all() -> str:
    return f"{PREFIX}.patrol.position.*"


def alert_escalations() -> str:
    """Alerts left unacknowledged too long, for supervisors' notification channels (core NATS)."""
    return f"{PREFIX}.alerts.escalations"


def records_officer(officer_key: str) -> str:
    """Personal-watchlist notices for one officer (JetStream; a durable consumer per officer reads it)."""
    return f"{PREFIX}.records.officer.{_token(officer_key)}"


def records_broadcast() -> str:
    """Bulletins for every officer (an arrest, a missing person, an unidentified body): one message on
    JetStream, read by each officer's own durable consumer, so an officer who was offline still gets it."""
    return f"{PREFIX}.records.broadcast"


def records_casework(officer_key: str) -> str:
    """Coordination notices for one officer about their cases (JetStream; a durable consumer per officer)."""
    return f"{PREFIX}.records.casework.{_token(officer_key)}"


# NATS KV buckets of the worker fleet (one set per fleet, so separate deployments or tests never mix).
def _fleet_bucket(base: str, fleet: str) -> str:
    if not CAMERA_ID_RE.match(fleet) or len(fleet) > 32:
        raise ValueError(f"not a valid fleet name: {fleet!r}")
    return base if fleet == "default" else f"{base}_{fleet}"


def cameras_bucket(fleet: str = "default") -> str:
    """The camera catalogue: key = camera id, value = CameraConfig JSON (no expiry)."""
    return _fleet_bucket("safecity_cameras", fleet)


def camera_leases_bucket(fleet: str = "default") -> str:
    """Who analyses each camera: key = camera id, value = CameraLease JSON (expires unless renewed)."""
    return _fleet_bucket("safecity_camera_leases", fleet)


def workers_bucket(fleet: str = "default") -> str:
    """Live workers: key = worker id, value = WorkerPresence JSON (expires unless renewed)."""
    return _fleet_bucket("safecity_workers", fleet)


def deadletter(origin: str) -> str:
    """A message a consumer could never handle, with its error (JetStream; ``safecity deadletters``)."""
    return f"{PREFIX}.deadletters.{_token(origin)}"


def audit_anchors(chain: str) -> str:
    """Heads of one audit chain (JetStream, never deleted; ``command_center.security.audit_anchor``)."""
    return f"{PREFIX}.audit.anchors.{_token(chain)}"
