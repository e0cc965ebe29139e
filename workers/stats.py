"""Per-camera counters, written by the camera's own threads and read by the heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.contracts import CameraStats


@dataclass
class CameraCounters:
    camera_id: str
    connected: bool = False
    frames_decoded: int = 0
    frames_analysed: int = 0
    frames_dropped: int = 0
    reconnects: int = 0
    faces_detected: int = 0
    faces_too_small: int = 0
    faces_unknown: int = 0
    hits_published: int = 0
    last_frame_ns: int | None = None

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
        )
