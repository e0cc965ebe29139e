"""A face track's state and what it publishes: the shots kept as evidence and the FaceHit made of them.

A shot (crop and scene) is kept only for a face that voted for a watch-list profile, in memory, until
its track ends; nothing of a face that matched nobody is kept.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from pipeline.contracts import Box, FaceHit, StageTimings, TrackDecision
from pipeline.detections import FaceDetections
from pipeline.settings import Settings
from pipeline.types import Frame, Image
from watchlist.matcher import Match
from watchlist.policies import CameraScope
from workers.evidence import downscale, encode_jpeg, face_crop
from workers.quality import FaceQuality
from workers.vote import Candidate, Decision, TrackVote


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


@dataclass(slots=True)
class Shot:
    """A face that voted for a profile, kept (in memory, until its track ends) as possible evidence."""

    quality: FaceQuality
    similarity: float
    box: tuple[float, float, float, float]
    landmarks: list[tuple[float, float]]
    detector_score: float
    crop: Image
    scene: Image
    frame_seq: int | None
    sent_ns: int | None
    received_ns: int


@dataclass(slots=True)
class FaceTrack:
    track_id: int
    first_seen_ns: int
    vote: TrackVote
    last_seen_ns: int = 0
    frames: int = 0
    best: dict[int, Shot] = field(default_factory=dict)  # profile id -> best shot voting for it
    profiles: dict[int, Match] = field(default_factory=dict)  # profile id -> name and category
    exhausted: bool = False
    template: npt.NDArray[np.float32] | None = None  # quality-weighted sum of the faces embedded


class HitMaker:
    """Keeps a camera's tracks' best shots and turns a decision into a FaceHit."""

    def __init__(self, camera_id: str, worker_id: str, settings: Settings, scope: CameraScope | None) -> None:
        self._camera_id = camera_id
        self._worker_id = worker_id
        self._rec = settings.recognition
        self._wopt = settings.worker
        self._scope = scope

    def keep_if_best(
        self,
        track: FaceTrack,
        best: Candidate,
        frame: Frame,
        detections: FaceDetections,
        quality: FaceQuality,
        i: int,
    ) -> None:
        """Face ``i`` of the frame voted for ``best``: keep it as that profile's shot if it is the best."""
        current = track.best.get(best.profile_id)
        if current is not None and current.quality.score >= quality.score:
            return
        x, y, w, h = (float(v) for v in detections.boxes[i])
        track.best[best.profile_id] = Shot(
            quality=quality,
            similarity=best.similarity,
            box=(x, y, w, h),
            landmarks=[(float(px), float(py)) for px, py in detections.landmarks[i]],
            detector_score=float(detections.scores[i]),
            crop=face_crop(frame.image, (x, y, w, h), self._wopt.crop_margin).copy(),
            scene=downscale(frame.image, self._wopt.scene_max_side).copy(),
            frame_seq=frame.seq,
            sent_ns=frame.sent_ns,
            received_ns=frame.received_ns,
        )

    def hit(
        self,
        frame: Frame,
        track: FaceTrack,
        decision: Decision,
        revision: int,
        marks: Mapping[str, float],
        queue_ms: float,
    ) -> FaceHit:
        """The FaceHit of a decision, with the track's best shot for that profile as evidence."""
        shot = track.best[decision.profile_id]
        profile = track.profiles[decision.profile_id]
        watch_list = self._scope.list_of(profile.list_id) if self._scope is not None else None
        t0 = time.perf_counter()
        crop = encode_jpeg(shot.crop, self._wopt.jpeg_quality)
        scene = encode_jpeg(shot.scene, self._wopt.jpeg_quality)
        encode_ms = (time.perf_counter() - t0) * 1e3
        x, y, w, h = shot.box
        return FaceHit(
            camera_id=self._camera_id,
            worker_id=self._worker_id,
            frame_seq=shot.frame_seq,
            frame_sent_at=_utc(shot.sent_ns) if shot.sent_ns is not None else None,
            captured_at=_utc(shot.received_ns),
            box=Box(x=x, y=y, w=w, h=h),
            landmarks=shot.landmarks,
            detector_score=min(1.0, max(0.0, shot.detector_score)),
            similarity=shot.similarity,
            threshold=profile.threshold if profile.list_id is not None else self._rec.threshold,
            profile_id=decision.profile_id,
            profile_name=profile.name,
            category=profile.category,
            embedder_model=self._rec.embedder_model,
            crop_jpeg=crop,
            scene_jpeg=scene,
            timings=_timings(frame, marks, queue_ms, encode_ms),
            track_id=track.track_id,
            track_frames=max(1, track.frames),
            decision=_decision(decision, revision, track, frame, shot),
            watch_list_id=profile.list_id,
            watch_list_name=watch_list.name if watch_list is not None else "",
            priority=watch_list.priority if watch_list is not None else None,
            requires_ack=watch_list.requires_ack if watch_list is not None else True,
        )


def _timings(frame: Frame, marks: Mapping[str, float], queue_ms: float, encode_ms: float) -> StageTimings:
    """Where a hit's time went, stage by stage (``marks`` by stage name, absent ones 0)."""
    return StageTimings(
        decode_ms=frame.decode_ms,
        queue_ms=queue_ms,
        detect_ms=marks.get("detect", 0.0),
        quality_ms=marks.get("quality", 0.0),
        track_ms=marks.get("track", 0.0),
        embed_ms=marks.get("embed", 0.0),
        match_ms=marks.get("match", 0.0),
        vote_ms=marks.get("vote", 0.0),
        encode_ms=encode_ms,
    )


def _decision(decision: Decision, revision: int, track: FaceTrack, frame: Frame, shot: Shot) -> TrackDecision:
    """Why the track's vote named this profile, as the hit carries it."""
    return TrackDecision(
        rule=decision.rule,
        revision=revision,
        frames_embedded=decision.frames_embedded,
        frames_matched=decision.frames_matched,
        mean_similarity=decision.mean_similarity,
        max_similarity=decision.max_similarity,
        runner_up_support=decision.runner_up_support,
        first_seen_at=_utc(track.first_seen_ns),
        last_seen_at=_utc(track.last_seen_ns or frame.received_ns),
        best_shot=shot.quality.to_contract(),
    )
