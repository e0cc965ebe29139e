"""NATS subject, stream, bucket and object-store names. Every name is built here; nothing else spells one.

Every name derives from one deployment prefix (``nats.subject_prefix``), so two deployments sharing a NATS
server (or cluster) never see each other's messages or state: subjects are ``<prefix>.hits.face.<camera>``,
streams ``<PREFIX>_HITS``, KV buckets and object stores ``<prefix>_cameras``. The default prefix
``safecity`` gives the names every deployment had before the prefix existed, so nothing moves on upgrade.

Durable consumers need no prefix of their own: a durable lives inside its stream, and streams are
per-deployment. A ``Subjects`` is a value built from settings (``settings.nats.subjects``) and handed to
whatever publishes, subscribes or opens a bucket; there is no module-wide prefix to configure.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.kinds import HitKind, hit_kind
from pipeline.settings.camera import CAMERA_ID_RE
from pipeline.settings.nats import DEFAULT_PREFIX, check_prefix


def _token(camera_id: str) -> str:
    if not CAMERA_ID_RE.match(camera_id):
        raise ValueError(f"not a valid camera id for a subject: {camera_id!r}")
    return camera_id


def _fleet(fleet: str) -> str:
    if not CAMERA_ID_RE.match(fleet) or len(fleet) > 32:
        raise ValueError(f"not a valid fleet name: {fleet!r}")
    return fleet


@dataclass(frozen=True, slots=True)
class Subjects:
    """The names of one deployment."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        check_prefix(self.prefix)

    # JetStream streams: anything that must not be lost.
    def _stream(self, name: str) -> str:
        return f"{self.prefix.upper()}_{name}"

    @property
    def hits_stream(self) -> str:
        return self._stream("HITS")

    @property
    def plates_stream(self) -> str:
        return self._stream("PLATES")

    @property
    def watchlist_stream(self) -> str:
        return self._stream("WATCHLIST")

    @property
    def dispatch_stream(self) -> str:
        return self._stream("DISPATCH")

    @property
    def records_stream(self) -> str:
        return self._stream("RECORDS")

    @property
    def audit_anchors_stream(self) -> str:
        return self._stream("AUDIT_ANCHORS")

    @property
    def checkins_stream(self) -> str:
        return self._stream("CHECKINS")

    @property
    def deadletters_stream(self) -> str:
        return self._stream("DEADLETTERS")

    def stream_subjects(self, area: str) -> list[str]:
        """What the stream of one area (``hits``, ``plates``, ``audit.anchors``, ...) captures."""
        return [f"{self.prefix}.{area}.>"]

    def hits(self, kind: HitKind, camera_id: str) -> str:
        """A hit of one kind on one camera (JetStream): a face that matched a watch list, a plate read that
        matched the vehicle hotlist."""
        return f"{self.prefix}.hits.{hit_kind(kind)}.{_token(camera_id)}"

    def parse_hit(self, subject: str) -> tuple[HitKind, str]:
        """The kind and camera of a hit's subject; ValueError for a subject that is not one."""
        parts = subject.split(".")
        if len(parts) != 4 or parts[0] != self.prefix or parts[1] != "hits":
            raise ValueError(f"not a hit subject: {subject!r}")
        return hit_kind(parts[2]), _token(parts[3])

    def face_evidence(self, camera_id: str) -> str:
        """Sharper images for a face hit of this camera already published (JetStream, the hits' stream,
        after the hit): ``<prefix>.hits.face.<camera>.evidence``."""
        return f"{self.hits('face', camera_id)}.evidence"

    def parse_face_evidence(self, subject: str) -> str | None:
        """The camera of a face-evidence subject; None for any other subject."""
        parts = subject.split(".")
        if len(parts) != 5 or parts[:3] != [self.prefix, "hits", "face"] or parts[4] != "evidence":
            return None
        return _token(parts[3])

    def hits_all(self) -> str:
        """Every kind of hit (what turns into alerts)."""
        return f"{self.prefix}.hits.>"

    def plates_read(self, camera_id: str) -> str:
        """One vehicle pass read on an ANPR camera, matched or not: the read log (JetStream)."""
        return f"{self.prefix}.plates.read.{_token(camera_id)}"

    def plates_read_all(self) -> str:
        return f"{self.prefix}.plates.read.*"

    def watchlist_changes(self) -> str:
        """Enrolments and removals, so running workers update their index (JetStream)."""
        return f"{self.prefix}.watchlist.changes"

    def sim_frames(self, camera_id: str) -> str:
        """When camera_sim sent each frame of a camera (core NATS, for latency measurement)."""
        return f"{self.prefix}.sim.frames.{_token(camera_id)}"

    def alert_events(self) -> str:
        """Alert created/updated, fanned out to every command-centre replica's WebSockets (core NATS)."""
        return f"{self.prefix}.alerts.events"

    def sessions_revoked(self) -> str:
        """Staff sessions that ended, so every replica cuts their WebSockets at once (core NATS)."""
        return f"{self.prefix}.auth.revoked"

    def checkin_screening(self, deployment: str) -> str:
        """Hotel check-ins waiting to be screened, of one deployment (a token of its database) (JetStream)."""
        if not deployment.isalnum():
            raise ValueError(f"not a valid deployment token: {deployment!r}")
        return f"{self.prefix}.checkins.screen.{deployment}"

    def import_progress(self) -> str:
        """Bulk import jobs' progress, relayed by every command-centre replica to its consoles (core NATS)."""
        return f"{self.prefix}.imports.progress"

    def camera_health(self, camera_id: str) -> str:
        """A camera's health as its worker sees it (login refused, recovered): core NATS, repeated while
        bad."""
        return f"{self.prefix}.cameras.health.{_token(camera_id)}"

    def camera_health_all(self) -> str:
        return f"{self.prefix}.cameras.health.*"

    def worker_heartbeat(self, worker_id: str) -> str:
        return f"{self.prefix}.workers.heartbeat.{_token(worker_id)}"

    def worker_heartbeat_all(self) -> str:
        return f"{self.prefix}.workers.heartbeat.*"

    def dispatch_officer(self, officer_key: str) -> str:
        """Dispatch notifications for one officer (JetStream; a durable consumer per officer reads it)."""
        return f"{self.prefix}.dispatch.officer.{_token(officer_key)}"

    def patrol_position(self, unit_id: str) -> str:
        """GPS fixes of one patrol unit from trusted in-cluster gateways (core NATS; the app uses HTTP)."""
        return f"{self.prefix}.patrol.position.{_token(unit_id)}"

    def patrol_position_all(self) -> str:
        return f"{self.prefix}.patrol.position.*"

    def alert_escalations(self) -> str:
        """Alerts left unacknowledged too long, for supervisors' notification channels (core NATS)."""
        return f"{self.prefix}.alerts.escalations"

    def records_officer(self, officer_key: str) -> str:
        """Personal-watchlist notices for one officer (JetStream; a durable consumer per officer reads it)."""
        return f"{self.prefix}.records.officer.{_token(officer_key)}"

    def records_broadcast(self) -> str:
        """Bulletins for every officer (an arrest, a missing person, an unidentified body): one message
        on JetStream, read by each officer's own durable consumer, so an officer who was offline still gets
        it."""
        return f"{self.prefix}.records.broadcast"

    def records_casework(self, officer_key: str) -> str:
        """Coordination notices for one officer about their cases (JetStream; a durable consumer per
        officer)."""
        return f"{self.prefix}.records.casework.{_token(officer_key)}"

    def deadletter(self, origin: str) -> str:
        """A message a consumer could never handle, with its error (JetStream; ``safecity deadletters``)."""
        return f"{self.prefix}.deadletters.{_token(origin)}"

    def audit_anchors(self, chain: str) -> str:
        """Heads of one audit chain (JetStream, never deleted; ``command_center.security.audit_anchor``)."""
        return f"{self.prefix}.audit.anchors.{_token(chain)}"

    # NATS KV buckets of the worker fleet (one set per fleet within the deployment).
    def _fleet_bucket(self, base: str, fleet: str) -> str:
        name = f"{self.prefix}_{base}"
        return name if _fleet(fleet) == "default" else f"{name}_{fleet}"

    def cameras_bucket(self, fleet: str = "default") -> str:
        """The camera catalogue: key = camera id, value = CameraConfig JSON (no expiry)."""
        return self._fleet_bucket("cameras", fleet)

    def camera_leases_bucket(self, fleet: str = "default") -> str:
        """Who analyses each camera: key = camera id, value = CameraLease JSON (expires unless renewed)."""
        return self._fleet_bucket("camera_leases", fleet)

    def workers_bucket(self, fleet: str = "default") -> str:
        """Live workers: key = worker id, value = WorkerPresence JSON (expires unless renewed)."""
        return self._fleet_bucket("workers", fleet)

    def watchlist_snapshots_bucket(self, configured: str = "") -> str:
        """The object store of watchlist index snapshots: ``configured`` (``watchlist.snapshots.bucket``)
        if set, else the deployment's own."""
        return configured or f"{self.prefix}_watchlist"
