"""Tracks and votes in the worker: hits per pass, cost per stage, false hits on strangers.

Plays the shared clips through the real per-camera path (YuNet, quality gates, norfair-enough tracker,
MobileFaceNet, FAISS, vote) with Lin-Manuel Miranda and Barack Obama enrolled, in-process (no NATS):

* the Hamilton clip once: FaceHits published now, against the per-frame path it replaced (one hit
  for every face of at least ``min_face_px`` matching at or above the threshold);
* the median and p99 milliseconds of every stage per analysed frame;
* the six-people clip (nobody enrolled) looped for a while: false hits, and per camera-hour.

    python bench/track_vote.py [--fps 5] [--no-match-seconds 300]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.adapters.database import make_engine
from pipeline.contracts import FaceHit
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
from pipeline.types import CameraId, Frame
from tests.services import SHARED
from watchlist.enrol import Enroller
from watchlist.governance import LegalBasis
from watchlist.matcher import WatchlistMatcher
from watchlist.store import WatchlistStore
from workers.analysis import CameraAnalyser
from workers.stats import CameraCounters

FACES = SHARED / "media/faces"
PEOPLE = {
    "Barack Obama": [FACES / "obama" / n for n in ("examples_obama.jpg", "examples_obama2.jpg")]
    + [FACES / "obama/tests_test_images_obama3.jpg"],
    "Lin-Manuel Miranda": [FACES / "lin_manuel_miranda/examples_lin-manuel-miranda.png"],
}
HAMILTON = SHARED / "media/video/hamilton_whitehouse_clip.mp4"
SIX_PEOPLE = SHARED / "media/video/six_people_group.mp4"
STAGES = ("detect", "quality", "track", "embed", "match", "vote")


def sampled(path: Path, fps: float) -> tuple[list[tuple[int, np.ndarray]], float]:
    """The frames the worker would analyse at ``fps`` (every n-th), and the clip's own rate."""
    with av.open(str(path)) as container:
        rate = float(container.streams.video[0].average_rate or 30)
        step = max(1, round(rate / fps))
        frames = [
            (i, f.to_ndarray(format="bgr24"))
            for i, f in enumerate(container.decode(video=0))
            if i % step == 0
        ]
    return frames, rate / step


def enrolled(settings: Settings, analyzer: FaceAnalyzer, workdir: Path) -> WatchlistMatcher:
    store = WatchlistStore(make_engine(f"sqlite:///{workdir / 'watchlist.db'}"))
    store.create_schema()
    basis = LegalBasis("bench", "bench", datetime.now(UTC) + timedelta(days=1))
    enroller = Enroller(settings, analyzer, store)
    for name, photos in PEOPLE.items():
        enroller.enrol(name, "wanted", [(p.name, p.read_bytes()) for p in photos], basis, "staff:1:admin")
    matcher = WatchlistMatcher(settings)
    matcher.load(store)
    return matcher


class Run:
    def __init__(self, settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher) -> None:
        self.hits: list[FaceHit] = []
        self.counters = CameraCounters("bench")
        self.analyser = CameraAnalyser(
            "bench", "bench", settings, analyzer, matcher, self.counters,
            self.hits.append,
        )  # fmt: skip
        self.stages: dict[str, list[float]] = {s: [] for s in STAGES}
        self.total: list[float] = []
        self._t0 = time.time_ns()
        self._n = 0

    def play(self, frames: list[tuple[int, np.ndarray]], fps: float) -> None:
        for seq, image in frames:
            now = self._t0 + int(self._n / fps * 1e9)  # video time, which the age budget reads
            self._n += 1
            start = time.perf_counter()
            self.analyser.process(Frame(CameraId("bench"), image, received_ns=now, seq=seq, sent_ns=now))
            self.total.append((time.perf_counter() - start) * 1e3)
            for stage in STAGES:
                self.stages[stage].append(self.analyser.last_stage_ms.get(stage, 0.0))


def per_frame_hits(
    settings: Settings,
    analyzer: FaceAnalyzer,
    matcher: WatchlistMatcher,
    frames: list[tuple[int, np.ndarray]],
) -> tuple[int, list[float]]:
    """What the per-frame path published: every big-enough face matching at or above the threshold."""
    hits, costs = 0, []
    for _, image in frames:
        start = time.perf_counter()
        detections = analyzer.detect(image)
        detections = detections.filter(detections.sides >= settings.recognition.min_face_px)
        if len(detections):
            matches = matcher.match(analyzer.embed(image, detections), top_k=1)
            hits += sum(1 for m in matches if m and m[0].passes)
        costs.append((time.perf_counter() - start) * 1e3)
    return hits, costs


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=5.0, help="analysis frames per second")
    parser.add_argument(
        "--no-match-seconds", type=float, default=300.0, help="video time of the stranger loop"
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object on stdout (the table goes to stderr)"
    )
    args = parser.parse_args()
    say = functools.partial(print, file=sys.stderr if args.json else sys.stdout)
    settings = parse({})
    analyzer = FaceAnalyzer(settings)
    analyzer.load()
    with tempfile.TemporaryDirectory() as workdir:
        matcher = enrolled(settings, analyzer, Path(workdir))

        frames, fps = sampled(HAMILTON, args.fps)
        before, before_ms = per_frame_hits(settings, analyzer, matcher, frames)
        run = Run(settings, analyzer, matcher)
        run.play(frames, fps)
        run.analyser.finish()
        c = run.counters
        summary: dict[str, object] = {
            "hits_per_frame_path": before,
            "hits_tracks_and_votes": len(run.hits),
            "tracks": c.tracks_started,
            "whole_frame_ms_p50": round(statistics.median(run.total), 2),
            "whole_frame_ms_p99": round(p99(run.total), 2),
        }
        say(f"Hamilton clip once at {fps:.1f} analysed frames/s ({len(frames)} frames):")
        say(f"  FaceHits: per-frame path {before}  ->  tracks and votes {len(run.hits)}")
        for hit in run.hits:
            d = hit.decision
            assert d is not None
            say(
                f"    track {hit.track_id}: {hit.profile_name}, {d.rule}, "
                f"{d.frames_matched}/{d.frames_embedded} embedded frames matched, "
                f"mean {d.mean_similarity:.2f} max {d.max_similarity:.2f}, "
                f"best shot quality {d.best_shot.score:.2f} (frame {hit.frame_seq}), revision {d.revision}"
            )
        say(
            f"  tracks {c.tracks_started} (decided {c.tracks_decided}, undecided {c.tracks_undecided}), "
            f"scene cuts {c.scene_cuts}; faces {c.faces_detected}: embedded {c.faces_embedded}, rejected "
            f"{c.faces_rejected}, after decision {c.faces_after_decision}, over budget {c.faces_over_budget}"
        )
        say("  ms per analysed frame      median      p99")
        for stage, values in run.stages.items():
            say(f"    {stage:<22} {statistics.median(values):8.2f} {p99(values):8.2f}")
        say(f"    {'whole frame (new)':<22} {statistics.median(run.total):8.2f} {p99(run.total):8.2f}")
        say(f"    {'whole frame (per-frame)':<22} {statistics.median(before_ms):8.2f} {p99(before_ms):8.2f}")

        strangers, rate = sampled(SIX_PEOPLE, args.fps)
        loops = max(1, round(args.no_match_seconds * rate / len(strangers)))
        run = Run(settings, analyzer, matcher)
        for _ in range(loops):
            run.play(strangers, rate)
        run.analyser.finish()
        seconds = loops * len(strangers) / rate
        c = run.counters
        say(f"Six strangers (nobody enrolled), looped for {seconds:.0f} s of video at {rate:.1f} frames/s:")
        say(
            f"  false hits {len(run.hits)} ({len(run.hits) / seconds * 3600:.1f} per camera-hour); "
            f"faces embedded {c.faces_embedded}, unknown {c.faces_unknown}, tracks {c.tracks_started} "
            f"(expired by age {c.tracks_expired}), over budget {c.faces_over_budget}"
        )
        summary["stranger_seconds"] = round(seconds)
        summary["false_hits_per_camera_hour"] = round(len(run.hits) / seconds * 3600, 2)
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
