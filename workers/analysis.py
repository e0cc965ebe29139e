"""Per-camera analysis: detect → gate → track → embed (within budget) → match → vote → decide → hit.

Frames are detected at the size the camera's smallest face needs (``min_face_px``), and not at all
when nothing moved since the last detection (``workers.motion``; at least once a second): the faces are
then where they were, so tracks and votes wait. One thread per camera owns all of this state, so
nothing here needs a lock; the face models it calls are shared by every camera and keep no state.

A hit is published once per (track, decided profile), with the track's best shot as evidence, plus at
most a few updates when a clearly better shot of the same person arrives; not once per frame.

Privacy: a face is embedded only if it passes the quality gates and its track still has budget; the
embedding is dropped as soon as it is matched, leaving only its share of the track's template (the
quality-weighted sum of the track's embeddings, in memory until the track ends). A crop is kept only
for a face that voted for a watchlist profile (or at which the template did), only in memory, and only
until its track ends. Unknown faces leave only counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from pipeline.contracts import FaceHit
from pipeline.detections import FaceDetections
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from pipeline.types import Frame
from watchlist.matcher import Scope, WatchlistMatcher
from watchlist.policies import CameraScope
from workers.cpu import StageClock
from workers.face_hits import FaceTrack, HitMaker
from workers.motion import MotionGate
from workers.quality import FaceQuality, QualityGate
from workers.stats import CameraCounters
from workers.track_regions import TrackRegions
from workers.tracking import NO_TRACK, BoxTracker, NorfairTracker, SceneCut, TrackUpdate, first_track_id
from workers.vote import Candidate, Decision, FrameVote, TrackVote, VoteRules

log = logging.getLogger(__name__)

HitSink = Callable[[FaceHit], None]
Observer = Callable[[int, npt.NDArray[np.float32], float, int | None], None]
"""Sees every embedding the analysis makes: (track id, embedding, shot quality, frame number). For
benchmarks that replay a camera's faces against other galleries (bench/false_alerts.py); a camera's
own analysis has none, and keeps no embedding past its match."""
_RUNNER_UP = 2  # profiles fetched per face: the best and the one it must lead by a margin


class CameraAnalyser:
    """One camera's face stage: ``process`` each analysed frame (from the camera's runner thread, which
    alone touches this state); decided tracks go to ``sink`` as FaceHits."""

    def __init__(
        self,
        camera_id: str,
        worker_id: str,
        settings: Settings,
        analyzer: FaceAnalyzer,
        matcher: WatchlistMatcher,
        counters: CameraCounters,
        sink: HitSink,
        tracker: BoxTracker | None = None,
        scope: CameraScope | None = None,
        observer: Observer | None = None,
        min_face_px: float | None = None,
    ) -> None:
        """``scope``: the live watch lists of this camera and their thresholds (None: every profile the
        matcher holds, at the global threshold). ``min_face_px``: the smallest face this camera must
        find (None: ``recognition.min_face_px``), which sets the size frames are detected at."""
        self.camera_id = camera_id
        self._scope = scope
        self._observer = observer
        self._hits = HitMaker(camera_id, worker_id, settings, scope)
        self._min_face_px = min_face_px or settings.recognition.min_face_px
        self._motion = MotionGate(settings.motion, self._min_face_px)
        self._regions = TrackRegions(settings.motion)
        self._max_age_ns = int(settings.vote.max_track_age_s * 1e9)
        self._rules = VoteRules.of(settings)
        self._gate = QualityGate(settings.quality, settings.recognition.min_face_px)
        self._tracker = tracker or NorfairTracker(settings.tracking, first_track_id(time.time_ns()))
        self._scene_cut = SceneCut(settings.tracking.scene_cut_correlation)
        self._tracks: dict[int, FaceTrack] = {}
        self.last_stage_ms: dict[str, float] = {}  # wall time of the last frame's stages
        self.last_stage_cpu_ms: dict[str, float] = {}  # this thread's CPU time in them
        self._analyzer = analyzer
        self._matcher = matcher
        self._counters = counters
        self._sink = sink

    @property
    def open_tracks(self) -> int:
        return len(self._tracks)

    @property
    def held_shots(self) -> int:
        """Face crops held in memory: only of faces that voted for a profile, until their track ends."""
        return sum(len(track.best) for track in self._tracks.values())

    def finish(self) -> None:
        """End every track (end of stream or shutdown) and free what they held."""
        for track_id in self._tracker.close():
            self._close(track_id)

    def process(self, frame: Frame) -> list[FaceHit]:
        """Analyse one frame; publish and return the hits it decided."""
        queue_ms = (time.perf_counter_ns() - frame.enqueued_ns) / 1e6 if frame.enqueued_ns else 0.0
        clock = StageClock()
        if not self._motion.should_detect(frame.image, frame.received_ns):
            # Nothing moved: the faces, tracks and votes of the last detection still hold.
            self._counters.frames_still += 1
            self._regions.still()
            self._expire(frame.received_ns)
            clock.lap("motion")
            self.last_stage_ms, self.last_stage_cpu_ms = clock.wall_ms, clock.cpu_ms
            return []
        clock.lap("motion")
        height, width = frame.image.shape[:2]
        regions = self._regions.plan(width, height, self._tracks.keys())
        if regions is None:
            detections = self._analyzer.detect(frame.image, self._min_face_px)
            self._motion.detected(frame.received_ns)
        else:  # between whole-frame detections: only where the tracks are (nowhere if there are none)
            self._counters.frames_tracks_only += 1
            detections = (
                self._analyzer.detect_regions(frame.image, self._min_face_px, regions)
                if regions
                else FaceDetections.empty()
            )
        self._regions.detected(whole=regions is None)
        clock.lap("detect")
        hits = self._analyse(frame, detections, clock, queue_ms)
        self._expire(frame.received_ns)
        self.last_stage_ms, self.last_stage_cpu_ms = clock.wall_ms, clock.cpu_ms
        for hit in hits:
            self._sink(hit)
            if hit.decision is not None and hit.decision.revision > 0:
                self._counters.hit_updates_published += 1
            else:
                self._counters.hits_published += 1
        return hits

    def _analyse(
        self, frame: Frame, detections: FaceDetections, clock: StageClock, queue_ms: float
    ) -> list[FaceHit]:
        """Gate, track, embed, match and vote on the faces detected in a frame: the hits it decides."""
        self._counters.faces_detected += len(detections)
        qualities = self._gate.assess(frame.image, detections)
        clock.lap("quality")
        if self._scene_cut(frame.image):
            self._counters.scene_cuts += 1
            self.finish()  # nobody inherits a track from the previous scene
        update = self._tracker.update(detections.boxes, detections.scores)
        self._follow(update, frame)
        self._regions.observe(update.ids, detections.boxes)
        clock.lap("track")
        chosen = self._choose(update, qualities)
        touched = self._embed_and_vote(frame, detections, qualities, update, chosen, clock)
        decided = [(track, d) for track in touched if (d := track.vote.decide()) is not None]
        clock.lap("vote")
        hits = [hit for track, d in decided if (hit := self._publishable(frame, track, d, clock, queue_ms))]
        clock.lap("evidence")
        for track in touched:
            if track.vote.budget_left == 0 and not track.vote.published and not track.exhausted:
                track.exhausted = True  # undecided, and it will not be embedded again
                self._counters.budget_exhausted += 1
        return hits

    def _follow(self, update: TrackUpdate, frame: Frame) -> None:
        """Track lifecycle: open state for started tracks, free it for ended ones."""
        for track_id in update.started:
            self._tracks[track_id] = FaceTrack(track_id, frame.received_ns, TrackVote(self._rules))
            self._counters.tracks_started += 1
        for track_id in update.ended:
            self._close(track_id)
        for track_id in (int(t) for t in update.ids if t != NO_TRACK):
            track = self._tracks[track_id]
            track.frames += 1
            track.last_seen_ns = frame.received_ns

    def _choose(self, update: TrackUpdate, qualities: list[FaceQuality]) -> list[int]:
        """Indices of the faces worth an embedding: past the gates, on a track with budget left."""
        chosen = []
        for i, quality in enumerate(qualities):
            if quality.rejection is not None:
                self._counters.reject(quality.rejection)
                continue
            track_id = int(update.ids[i])
            if track_id == NO_TRACK:
                continue  # a new object the tracker is still confirming
            vote = self._tracks[track_id].vote
            if not vote.wants_embedding(quality.score):
                if vote.budget_left == 0:
                    self._counters.faces_over_budget += 1
                else:
                    self._counters.faces_after_decision += 1
                continue
            chosen.append(i)
        return chosen

    def _embed_and_vote(
        self,
        frame: Frame,
        detections: FaceDetections,
        qualities: list[FaceQuality],
        update: TrackUpdate,
        chosen: list[int],
        clock: StageClock,
    ) -> list[FaceTrack]:
        if not chosen:
            clock.lap("embed")
            clock.lap("match")
            return []
        embeddings = self._analyzer.embed(frame.image, detections.filter(np.asarray(chosen, np.intp)))
        clock.lap("embed")
        scope = self._scope() if self._scope is not None else None
        matches = self._matcher.match(embeddings, top_k=_RUNNER_UP, scope=scope)
        if self._observer is not None:
            for i, embedding in zip(chosen, embeddings, strict=True):
                self._observer(int(update.ids[i]), embedding.copy(), qualities[i].score, frame.seq)
        for i, embedding in zip(chosen, embeddings, strict=True):
            track = self._tracks[int(update.ids[i])]
            weighted = embedding * np.float32(max(qualities[i].score, 1e-3))
            track.template = weighted if track.template is None else track.template + weighted
        del embeddings  # nobody's embedding outlives the match (only its share of the track's template)
        clock.lap("match")
        touched: dict[int, FaceTrack] = {}
        latest: dict[int, int] = {}  # track id -> its best face embedded in this frame
        for i, candidates in zip(chosen, matches, strict=True):
            track = self._tracks[int(update.ids[i])]
            best_here = latest.get(track.track_id)
            if best_here is None or qualities[i].score > qualities[best_here].score:
                latest[track.track_id] = i
            self._counters.faces_embedded += 1
            verdict, best = track.vote.observe(
                [Candidate(m.profile_id, m.similarity, m.threshold, m.strong) for m in candidates],
                qualities[i].score,
            )
            if verdict is FrameVote.UNKNOWN:
                self._counters.faces_unknown += 1
            elif verdict is FrameVote.AMBIGUOUS:
                self._counters.faces_ambiguous += 1
            else:
                assert best is not None
                track.profiles[best.profile_id] = candidates[0]
                self._hits.keep_if_best(track, best, frame, detections, qualities[i], i)
            touched[track.track_id] = track
        self._vote_templates(list(touched.values()), latest, frame, detections, qualities, scope)
        return list(touched.values())

    def _vote_templates(
        self,
        tracks: list[FaceTrack],
        latest: dict[int, int],
        frame: Frame,
        detections: FaceDetections,
        qualities: list[FaceQuality],
        scope: Scope | None,
    ) -> None:
        """Each touched track's template votes; where it votes for a profile, the face just embedded
        is kept as that profile's shot (if better), at the template's similarity."""
        ready = [
            t for t in tracks if t.template is not None and t.vote.embedded >= self._rules.template_min_faces
        ]
        if not ready:
            return
        templates = np.stack([t.template for t in ready if t.template is not None])
        templates /= np.linalg.norm(templates, axis=1, keepdims=True)
        for track, candidates in zip(
            ready, self._matcher.match(templates, top_k=_RUNNER_UP, scope=scope), strict=True
        ):
            verdict, best = track.vote.observe_template(
                [Candidate(m.profile_id, m.similarity, m.threshold, m.strong) for m in candidates]
            )
            if verdict is FrameVote.VOTED and best is not None:
                track.profiles.setdefault(best.profile_id, candidates[0])
                i = latest[track.track_id]
                self._hits.keep_if_best(track, best, frame, detections, qualities[i], i)

    def _publishable(
        self, frame: Frame, track: FaceTrack, decision: Decision, clock: StageClock, queue_ms: float
    ) -> FaceHit | None:
        shot = track.best[decision.profile_id]
        first_decision = not track.vote.published
        revision = track.vote.publication(decision, shot.quality.score, shot.similarity)
        if revision is None:
            return None
        if revision == 0:
            self._counters.tracks_decided += int(first_decision)
            log.info(
                "camera %s: track %d is profile %d (%s, %d/%d frames, max %.2f)",
                self.camera_id,
                track.track_id,
                decision.profile_id,
                decision.rule,
                decision.frames_matched,
                decision.frames_embedded,
                decision.max_similarity,
            )
        return self._hits.hit(frame, track, decision, revision, clock.wall_ms, queue_ms)

    def _expire(self, now_ns: int) -> None:
        """Age budget: close tracks older than the limit; their object, if still there, starts anew."""
        old = [t.track_id for t in self._tracks.values() if now_ns - t.first_seen_ns > self._max_age_ns]
        for track_id in old:
            self._tracker.end(track_id)
            self._counters.tracks_expired += 1
            self._close(track_id)

    def _close(self, track_id: int) -> None:
        track = self._tracks.pop(track_id, None)  # its shots (crops, scenes) go with it
        if track is not None and not track.vote.published:
            self._counters.tracks_undecided += 1
