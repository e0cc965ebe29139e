"""NATS subject and stream names. Every subject is built here; nothing else spells one out."""

from __future__ import annotations

from pipeline.settings import _CAMERA_ID_RE

PREFIX = "safecity"

# JetStream streams: anything that must not be lost.
HITS_STREAM = "SAFECITY_HITS"
HITS_STREAM_SUBJECTS = [f"{PREFIX}.hits.>"]
WATCHLIST_STREAM = "SAFECITY_WATCHLIST"
WATCHLIST_STREAM_SUBJECTS = [f"{PREFIX}.watchlist.>"]


def _token(camera_id: str) -> str:
    if not _CAMERA_ID_RE.match(camera_id):
        raise ValueError(f"not a valid camera id for a subject: {camera_id!r}")
    return camera_id


def hits_face(camera_id: str) -> str:
    """A face that matched the watchlist on one camera (JetStream)."""
    return f"{PREFIX}.hits.face.{_token(camera_id)}"


def hits_face_all() -> str:
    return f"{PREFIX}.hits.face.*"


def watchlist_changes() -> str:
    """Enrolments and removals, so running workers update their index (JetStream)."""
    return f"{PREFIX}.watchlist.changes"


def sim_frames(camera_id: str) -> str:
    """When camera_sim sent each frame of a camera (core NATS, for latency measurement)."""
    return f"{PREFIX}.sim.frames.{_token(camera_id)}"


def sim_frames_all() -> str:
    return f"{PREFIX}.sim.frames.*"


def alert_events() -> str:
    """Alert created/updated, fanned out to every command-centre replica's WebSockets (core NATS)."""
    return f"{PREFIX}.alerts.events"


def sessions_revoked() -> str:
    """Staff sessions that ended, so every replica cuts their WebSockets at once (core NATS)."""
    return f"{PREFIX}.auth.revoked"


def worker_heartbeat(worker_id: str) -> str:
    return f"{PREFIX}.workers.heartbeat.{_token(worker_id)}"


def worker_heartbeat_all() -> str:
    return f"{PREFIX}.workers.heartbeat.*"
