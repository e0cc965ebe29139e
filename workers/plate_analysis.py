"""Per-camera ANPR: detect plates → read them → track → vote over the pass → one PlateRead per vehicle.

One thread owns this state (see workers/runner.py). Every frame's plates are read and tracked; a track's
readings are kept (text and confidence, plus the best crop and its frame, in memory) until the track
ends: the vehicle left the view, a scene cut, the track's age budget, or the end of the stream. Then the
pass is voted (workers/plate_vote.py) and, if the frames agree, published once. Hotlist matching happens
in the command centre, so a hotlist change applies to every camera at once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from pipeline.contracts import Box, PlateCandidate, PlateRead, StageTimings
from pipeline.plate_detections import PlateDetections
from pipeline.plates.formats import PlateRules
from pipeline.plates.motion import MotionGate, Region
from pipeline.settings import Settings
from pipeline.types import Frame, Image
from workers.cpu import StageClock
from workers.evidence import downscale, encode_jpeg
from workers.plate_vote import PassVoter, PlateVoteRules, ProbMatrix, Reading
from workers.stats import CameraCounters
from workers.tracking import NO_TRACK, BoxTracker, NorfairTracker, SceneCut, first_track_id

log = logging.getLogger(__name__)

ReadSink = Callable[[PlateRead], None]
Box4 = tuple[float, float, float, float]  # x, y, w, h
# Reads in a row without text after which a plate is read again only once it moved or grew.
_IDLE_READS = 3


class PlateObservation(Protocol):
    """What the plate reader says about one plate in one frame."""

    @property
    def text(self) -> str: ...  # canonical A-Z0-9, "" when unreadable or not a plate

    @property
    def display(self) -> str: ...

    @property
    def country(self) -> str | None: ...

    @property
    def plate_format(self) -> str | None: ...

    @property
    def confidence(self) -> float: ...

    @property
    def box(self) -> tuple[float, float, float, float]: ...

    @property
    def detector_score(self) -> float: ...

    @property
    def crop(self) -> Image: ...

    @property
    def char_conf(self) -> tuple[float, ...]: ...

    @property
    def candidates(self) -> tuple[tuple[str, float], ...]: ...

    @property
    def evidence(self) -> tuple[ProbMatrix, ...]: ...  # the OCR's (T, 37) matrices behind the reading


class PlateReading(Protocol):
    def detect(
        self, image: Image, regions: Sequence[Region] | None = None, *, known: Sequence[Box4] = ()
    ) -> PlateDetections:
        """The plates in the whole image, or only in ``regions``; ``known`` are plates already followed,
        which need no close look to be believed."""
        ...

    def recognise(self, image: Image, detections: PlateDetections) -> Sequence[PlateObservation]:
        """One observation per detection, in order."""
        ...


def _new_view(last: tuple[float, ...], now: tuple[float, ...]) -> bool:
    """Whether a plate moved by half its height or more, or its width changed by a fifth, since ``last``."""
    (x0, y0, w0, h0), (x1, y1, w1, h1) = last, now
    shift = np.hypot((x1 + w1 / 2) - (x0 + w0 / 2), (y1 + h1 / 2) - (y0 + h0 / 2))
    return bool(shift >= 0.5 * max(h0, 1.0) or not 0.8 <= w1 / max(w0, 1.0) <= 1.25)


def _touches(box: tuple[float, float, float, float], region: Region) -> bool:
    x, y, w, h = box
    return x < region[0] + region[2] and region[0] < x + w and y < region[1] + region[3] and region[1] < y + h


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


@dataclass(slots=True)
class _Best:
    score: float
    crop: Image
    scene: Image
    box: tuple[float, float, float, float]
    detector_score: float
    frame_seq: int | None
    sent_ns: int | None
    received_ns: int


@dataclass(slots=True)
class PlateTrack:
    track_id: int
    first_seen_ns: int
    last_seen_ns: int
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # where it was last seen
    score: float = 0.0
    read_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # where it was last read
    idle_reads: int = 0  # reads in a row that gave no text
    readings: list[Reading] = field(default_factory=list)
    best: _Best | None = None


class PlateAnalyser:
    """``process(frame)`` per analysed frame; ``finish()`` at the end. Publishes PlateReads to ``sink``."""

    def __init__(
        self,
        camera_id: str,
        worker_id: str,
        settings: Settings,
        reader: PlateReading,
        counters: CameraCounters,
        sink: ReadSink,
        tracker: BoxTracker | None = None,
        rules: PlateVoteRules | None = None,
        formats: PlateRules | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._worker_id = worker_id
        self._wopt = settings.worker
        self._reader = reader
        self._counters = counters
        self._sink = sink
        self._tracker = tracker or NorfairTracker(settings.tracking, first_track_id(time.time_ns()))
        self._scene_cut = SceneCut(settings.tracking.scene_cut_correlation)
        self._gate = MotionGate(settings.plates.motion)
        self._settled_reads = settings.plates.settled_reads
        self._settle_confidence = settings.plates.ocr_settle_confidence
        self.gate_counts: Counter[str] = Counter()  # frames by the gate's reason (still: not looked at)
        self._rules = rules or PlateVoteRules()
        self._voter = PassVoter(self._rules, formats)
        self._max_age_ns = int(settings.vote.max_track_age_s * 1e9)
        self._tracks: dict[int, PlateTrack] = {}
        # plate text → (start, last sighting) of its latest published pass, in received_ns
        self._recent: dict[str, tuple[int, int]] = {}
        self.last_stage_ms: dict[str, float] = {}  # wall time of the last frame's parts
        self.last_stage_cpu_ms: dict[str, float] = {}  # this thread's CPU time in them

    @property
    def open_tracks(self) -> int:
        return len(self._tracks)

    def process(self, frame: Frame) -> list[PlateRead]:
        clock = StageClock()
        decision = self._gate.decide(frame.image, frame.received_ns)
        self.gate_counts[decision.reason] += 1
        if not decision.detect:
            # Nothing moved since the last look: what it found still stands; tracks keep as they are.
            expired = self._expire(frame.received_ns)
            clock.lap("plate_gate")
            self.last_stage_ms, self.last_stage_cpu_ms = clock.wall_ms, clock.cpu_ms
            return expired
        published: list[PlateRead] = []
        if self._scene_cut(frame.image):
            published += self._end_all()
        settled = {t.track_id for t in self._tracks.values() if self._settled(t)}
        # Plates not to be read (settled, or idle) need no close look to be followed.
        known = [t.box for t in self._tracks.values() if t.track_id in settled or t.idle_reads >= _IDLE_READS]
        clock.lap("plate_gate")
        detections = self._reader.detect(frame.image, decision.regions, known=known)
        clock.lap("plate_detect")
        self._counters.plates_detected += len(detections)
        kept = self._unlooked(decision.regions)
        boxes = np.concatenate([detections.boxes, np.array([t.box for t in kept], np.float32).reshape(-1, 4)])
        scores = np.concatenate([detections.scores, np.array([t.score for t in kept], np.float32)])
        update = self._tracker.update(boxes, scores)
        for track_id in update.started:
            self._tracks[track_id] = PlateTrack(track_id, frame.received_ns, frame.received_ns)
        ids = update.ids.tolist()[: len(detections)]
        # Plates of settled tracks, and idle plates that did not move, are followed, not read again.
        to_read = [
            i for i, track_id in enumerate(ids) if self._worth_reading(track_id, settled, detections, i)
        ]
        clock.lap("track_vote")
        observations = self._reader.recognise(frame.image, detections.filter(np.asarray(to_read, np.intp)))
        clock.lap("read")
        for i, track_id in enumerate(ids):
            if track_id in self._tracks and i not in to_read:
                self._follow(self._tracks[track_id], detections, i, frame)
        for i, seen in zip(to_read, observations, strict=True):
            if ids[i] != NO_TRACK and ids[i] in self._tracks:
                self._observe(self._tracks[ids[i]], seen, frame)
        for track_id in update.ended:
            published += self._close(track_id)
        published += self._expire(frame.received_ns)
        clock.lap("track_vote")
        self.last_stage_ms, self.last_stage_cpu_ms = clock.wall_ms, clock.cpu_ms
        return published

    def _settled(self, track: PlateTrack) -> bool:
        """Whether enough of the track's frames read one text confidently that reading more would not
        change its vote (``plates.settled_reads``)."""
        need = self._settled_reads
        sure = [r.text for r in track.readings if r.confidence >= self._settle_confidence]
        return len(sure) >= need and Counter(sure).most_common(1)[0][1] >= need

    def _worth_reading(
        self, track_id: int, settled: set[int], detections: PlateDetections, index: int
    ) -> bool:
        """Whether the OCR may tell something new about this plate: not when its track is settled, nor
        when it gave no text in its last reads and has neither moved nor grown since (a clock overlay,
        a sign: the same pixels read the same; a far plate coming closer is read again as it grows)."""
        track = self._tracks.get(track_id)
        if track is None:
            return True
        if track_id in settled:
            return False
        if track.idle_reads < _IDLE_READS:
            return True
        return _new_view(track.read_box, tuple(float(v) for v in detections.boxes[index]))

    def _follow(self, track: PlateTrack, detections: PlateDetections, index: int, frame: Frame) -> None:
        """A plate seen again but not read: where it is, not what it says."""
        track.last_seen_ns = frame.received_ns
        x, y, w, h = (float(v) for v in detections.boxes[index])
        track.box, track.score = (x, y, w, h), float(detections.scores[index])

    def _unlooked(self, regions: Sequence[Region] | None) -> list[PlateTrack]:
        """Tracks whose plate lies outside every region the detector looked at: they stand where they
        were (nothing moved there), so they are given to the tracker as seen again, not as missed."""
        if regions is None:
            return []
        return [
            t for t in self._tracks.values() if t.score > 0 and not any(_touches(t.box, r) for r in regions)
        ]

    def finish(self) -> None:
        self._end_all()

    def _end_all(self) -> list[PlateRead]:
        published: list[PlateRead] = []
        for track_id in self._tracker.close():
            published += self._close(track_id)
        for track_id in list(self._tracks):  # tracks the tracker had already forgotten
            published += self._close(track_id)
        return published

    def _expire(self, now_ns: int) -> list[PlateRead]:
        """A vehicle that stays in view (parked, queued) is reported every max_track_age_s."""
        published: list[PlateRead] = []
        for track in list(self._tracks.values()):
            if now_ns - track.first_seen_ns >= self._max_age_ns:
                self._tracker.end(track.track_id)
                published += self._close(track.track_id)
        return published

    def _observe(self, track: PlateTrack, seen: PlateObservation, frame: Frame) -> None:
        track.last_seen_ns = frame.received_ns
        track.box, track.score = seen.box, float(seen.detector_score)
        track.read_box = seen.box
        track.idle_reads = 0 if seen.text else track.idle_reads + 1
        if not seen.text:
            return
        track.readings.append(
            Reading(
                seen.text,
                float(seen.confidence),
                seen.display,
                seen.country,
                seen.plate_format,
                tuple(seen.char_conf),
                tuple(seen.candidates),
                tuple(seen.evidence),
            )
        )
        self._bound_evidence(track)
        _, _, w, h = seen.box
        score = float(seen.confidence) * min(1.0, (w * h) / (160.0 * 40.0))
        if track.best is None or score > track.best.score:
            track.best = _Best(
                score=score,
                crop=seen.crop,
                scene=frame.image,
                box=seen.box,
                detector_score=float(seen.detector_score),
                frame_seq=frame.seq,
                sent_ns=frame.sent_ns,
                received_ns=frame.received_ns,
            )

    def _bound_evidence(self, track: PlateTrack) -> None:
        """Keep the OCR matrices of the most confident frames only (a vehicle queued in view for a
        minute gives hundreds); the others count by their text and character confidences."""
        kept = [i for i, r in enumerate(track.readings) if r.evidence]
        if len(kept) > self._rules.evidence_frames:
            weakest = min(kept, key=lambda i: track.readings[i].confidence)
            track.readings[weakest] = replace(track.readings[weakest], evidence=())

    def _rejoins(self, text: str, track: PlateTrack) -> bool:
        """Whether this track re-acquired a plate whose pass was just published (see rejoin_s). A pass
        still ends at max_track_age_s, so a vehicle queued in view is reported again then."""
        window_ns = int(self._rules.rejoin_s * 1e9)
        for stale in [t for t, (_, last) in self._recent.items() if track.first_seen_ns - last > window_ns]:
            del self._recent[stale]
        start, last = self._recent.get(text, (track.first_seen_ns, 0))
        rejoined = text in self._recent and track.last_seen_ns - start < self._max_age_ns
        if not rejoined:
            start = track.first_seen_ns
        self._recent[text] = (start, max(last, track.last_seen_ns))
        return rejoined

    def _close(self, track_id: int) -> list[PlateRead]:
        track = self._tracks.pop(track_id, None)
        if track is None or track.best is None:
            return []
        decision = self._voter.decide(track.readings)
        if decision is None or not 2 <= len(decision.text) <= 12:
            self._counters.plate_passes_undecided += 1
            return []
        if self._rejoins(decision.text, track):
            self._counters.plate_passes_rejoined += 1
            return []
        best = track.best
        x, y, w, h = best.box
        read = PlateRead(
            camera_id=self.camera_id,
            worker_id=self._worker_id,
            track_id=track.track_id,
            text=decision.text,
            display=decision.display[:24],
            country=decision.country,
            plate_format=decision.plate_format,
            confidence=decision.confidence,
            candidates=[
                PlateCandidate(text=t, score=s, frames=n)
                for t, s, n in decision.candidates
                if 2 <= len(t) <= 12
            ],
            frames_read=decision.frames,
            first_seen_at=_utc(track.first_seen_ns),
            last_seen_at=_utc(track.last_seen_ns),
            frame_seq=best.frame_seq,
            frame_sent_at=_utc(best.sent_ns) if best.sent_ns is not None else None,
            captured_at=_utc(best.received_ns),
            box=Box(x=x, y=y, w=w, h=h),
            detector_score=min(1.0, max(0.0, best.detector_score)),
            crop_jpeg=encode_jpeg(best.crop, self._wopt.jpeg_quality),
            scene_jpeg=encode_jpeg(downscale(best.scene, self._wopt.scene_max_side), self._wopt.jpeg_quality),
            timings=StageTimings(),
        )
        self._sink(read)
        self._counters.plate_reads_published += 1
        return [read]
