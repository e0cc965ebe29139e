"""Per-camera counters, written by the camera's own threads and read by the heartbeat.

Unknown faces leave nothing but these counts: no crop, no embedding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline.contracts import CameraStats
from workers.quality import Rejection


def _no_rejections() -> dict[str, int]:
    return {reason.value: 0 for reason in Rejection}


@dataclass
class CameraCounters:
    camera_id: str
    connected: bool = False
    frames_decoded: int = 0
    frames_analysed: int = 0
    frames_still: int = 0  # analysed frames in which nothing had moved: no detection needed
    frames_tracks_only: int = 0  # analysed frames detected only around their tracks (or, with none, not)
    frames_dropped: int = 0
    reconnects: int = 0
    logins_refused: int = 0  # by the camera (401/403), or its password reference unreadable
    decoder_resets: int = 0  # decoders flushed at a keyframe after a GOP that decoded to nothing
    faces_detected: int = 0
    faces_rejected: dict[str, int] = field(default_factory=_no_rejections)  # by quality gate
    faces_embedded: int = 0
    faces_unknown: int = 0
    faces_ambiguous: int = 0
    faces_over_budget: int = 0
    faces_after_decision: int = 0
    tracks_started: int = 0
    tracks_decided: int = 0
    tracks_undecided: int = 0
    tracks_expired: int = 0
    scene_cuts: int = 0
    budget_exhausted: int = 0
    hits_published: int = 0
    hit_updates_published: int = 0
    plates_detected: int = 0
    plate_reads_published: int = 0
    plate_passes_undecided: int = 0
    plate_passes_rejoined: int = 0
    last_frame_ns: int | None = None
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by stage, on the camera's threads

    def add_cpu(self, stage: str, seconds: float) -> None:
        self.cpu_seconds[stage] = self.cpu_seconds.get(stage, 0.0) + seconds

    def reject(self, reason: Rejection) -> None:
        self.faces_rejected[reason.value] = self.faces_rejected.get(reason.value, 0) + 1

    @property
    def faces_too_small(self) -> int:
        return self.faces_rejected.get(Rejection.TOO_SMALL.value, 0)

    def snapshot(self) -> CameraStats:
        last = None
        if self.last_frame_ns is not None:
            last = datetime.fromtimestamp(self.last_frame_ns / 1e9, UTC)
        return CameraStats(
            camera_id=self.camera_id,
            connected=self.connected,
            frames_decoded=self.frames_decoded,
            frames_analysed=self.frames_analysed,
            frames_dropped=self.frames_dropped,
            reconnects=self.reconnects,
            faces_detected=self.faces_detected,
            hits_published=self.hits_published,
            last_frame_at=last,
            faces_rejected=dict(self.faces_rejected),
            faces_embedded=self.faces_embedded,
            faces_unknown=self.faces_unknown,
            faces_ambiguous=self.faces_ambiguous,
            faces_over_budget=self.faces_over_budget,
            faces_after_decision=self.faces_after_decision,
            tracks_started=self.tracks_started,
            tracks_decided=self.tracks_decided,
            tracks_undecided=self.tracks_undecided,
            tracks_expired=self.tracks_expired,
            scene_cuts=self.scene_cuts,
            budget_exhausted=self.budget_exhausted,
            hit_updates_published=self.hit_updates_published,
            plates_detected=self.plates_detected,
            plate_reads_published=self.plate_reads_published,
            plate_passes_undecided=self.plate_passes_undecided,
            plate_passes_rejoined=self.plate_passes_rejoined,
        )
