"""False alerts per camera-hour of a live watch list of N profiles, at the list's calibrated threshold.

    python bench/false_alerts.py --gallery 1000 --json [--camera-hours 30] [--seed 0]

The gallery: the people of ``media/faces`` (every distinct photo of the 13, enrolled as in production)
plus N minus those synthetic identities drawn from the face space fitted to MobileFaceNet's real genuine
and impostor scores (``bench/watchlist_synth.py``). The threshold: what ``pipeline.calibration`` gives a
list of that size at the default target (false alerts per stranger track), from the registry's measured
score distributions.

The cameras: the shared videos through the worker's real per-camera analysis (YuNet, quality gates,
tracker, MobileFaceNet, the attempt budget), recording every face it embeds with its track and shot
quality. Each *trial* then replays those tracks through the worker's real vote against a fresh draw of
the synthetic gallery, so that every trial is another camera pass of the same length by the same people
before a different set of N strangers' records. A fresh draw costs no regeneration: the fitted face space
is symmetric under a sign flip of any of its principal axes but the first (the direction all faces
share), so flipping those axes of the queries is exactly a new gallery drawn from the same space
(``q . Dg = Dq . g``). The enrolled real people are compared as they are.

A publication for anyone but the person on the track is a false alert; Lin-Manuel Miranda's close-up
(and Obama's pass in the audience) found or not are the true alerts and misses. Prints JSON:
``{"gallery", "camera_hours", "false_alerts_per_camera_hour", "false_alerts", "true_alerts", "missed",
"threshold", ...}``. The rate is counted, not predicted; at 0 false alerts its 95 % upper bound is
3 / camera_hours.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from track_vote import sampled
from watchlist_synth import DIM, FaceSpace, fit, pair_stats

from pipeline.calibration import fpir_bound
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
from pipeline.settings.watchlist import FaceIndexFlat, FaceIndexIvfPq
from pipeline.types import CameraId, Frame
from tests.services import SHARED
from watchlist.index import build_index
from watchlist.index_base import FaceIndex
from watchlist.list_calibration import Calibrator
from watchlist.matcher import WatchlistMatcher
from workers.analysis import CameraAnalyser
from workers.stats import CameraCounters
from workers.vote import Candidate, TrackVote, VoteRules

MEDIA = SHARED / "media"
VIDEOS = ("hamilton_whitehouse_clip.mp4", "six_people_group.mp4", "car_plate_KA22P3368.mp4")
# Who is there, from the media MANIFEST: (video, person, frame range). Lin-Manuel Miranda's close-up is
# the pass a camera should catch; Obama laughs in near-profile in a dark audience.
PRESENT = (
    ("hamilton_whitehouse_clip.mp4", "lin_manuel_miranda", range(84, 211)),
    ("hamilton_whitehouse_clip.mp4", "obama", range(213, 274)),
)
SYNTHETIC = 1_000_000  # synthetic profile ids start here; real people are 1..13
FloatArray = npt.NDArray[np.float32]


@dataclass
class Face:
    embedding: FloatArray
    quality: float
    seq: int


@dataclass
class Track:
    video: str
    track_id: int
    faces: list[Face] = field(default_factory=list)

    def person(self) -> str | None:
        """Who is on the track by the MANIFEST, if anyone enrolled (most of its faces in the range)."""
        for video, person, frames in PRESENT:
            inside = sum(f.seq in frames for f in self.faces)
            if video == self.video and inside * 2 > len(self.faces):
                return person
        return None


def real_people(analyzer: FaceAnalyzer) -> tuple[FloatArray, list[str]]:
    """Every distinct single-face photo of the shared faces, embedded as enrolment does."""
    import cv2

    vectors, names = [], []
    with (MEDIA / "faces/labels.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            identity, note = row["identity"], row.get("note") or ""
            if "_multi" in row["file"] or ";" in identity or "SAME PHOTO" in note or "partial" in row["file"]:
                continue
            image = cv2.imread(str(MEDIA / row["file"]))
            if image is None:
                continue
            _, embedding = analyzer.analyse(image)
            if len(embedding) == 1:
                vectors.append(embedding[0])
                names.append(identity)
    return np.stack(vectors).astype(np.float32), names


def record_tracks(settings: Settings, analyzer: FaceAnalyzer, fps: float) -> tuple[list[Track], float]:
    """Every face the worker's analysis embeds in the shared videos, by track; and the videos' seconds."""
    tracks: dict[tuple[str, int], Track] = {}
    seconds = 0.0
    empty = WatchlistMatcher(settings)  # nobody matches: each track is embedded to its budget
    for video in VIDEOS:
        frames, rate = sampled(MEDIA / "video" / video, fps)
        seconds += len(frames) / rate

        def observe(
            track_id: int, embedding: FloatArray, quality: float, seq: int | None, v: str = video
        ) -> None:
            track = tracks.setdefault((v, track_id), Track(v, track_id))
            track.faces.append(Face(embedding, quality, seq or 0))

        analyser = CameraAnalyser(
            "bench", "bench", settings, analyzer, empty, CameraCounters("bench"),
            lambda hit: None, observer=observe,
        )  # fmt: skip
        t0 = time.time_ns()
        for n, (seq, image) in enumerate(frames):
            now = t0 + int(n / rate * 1e9)
            analyser.process(Frame(CameraId("bench"), image, received_ns=now, seq=seq, sent_ns=now))
        analyser.finish()
    return list(tracks.values()), seconds


def prefix_templates(track: Track) -> FloatArray:
    """After each face of the track: the quality-weighted mean of its faces so far, unit length."""
    weighted = np.stack([f.embedding * max(f.quality, 1e-3) for f in track.faces]).astype(np.float32)
    sums = np.cumsum(weighted, axis=0)
    return (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(np.float32)


def synthetic_gallery(space: FaceSpace, n: int, seed: int) -> tuple[FaceIndex, str]:
    """The synthetic part of the list in the index production uses at that size: exact search up to
    ``exact_below`` entries, ``faiss_ivf_pq`` (re-ranked exactly) beyond, as a national list is set."""
    config = FaceIndexIvfPq(type="faiss_ivf_pq")
    kind = "faiss_flat" if n <= config.exact_below else "faiss_ivf_pq"
    index = build_index(config if kind == "faiss_ivf_pq" else FaceIndexFlat(), DIM)
    if n:
        vectors = np.concatenate([photos for _, photos in space.gallery(n, seed)])
        index.add(np.arange(n, dtype=np.int64), vectors)
    return index, kind


class Trials:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        settings = parse({})
        self.analyzer = FaceAnalyzer(settings)
        self.analyzer.load()
        self.real, self.names = real_people(self.analyzer)
        self.identities = sorted(set(self.names))
        self.real_ids = np.array([self.identities.index(n) + 1 for n in self.names])
        labels = np.array([self.identities.index(n) for n in self.names])
        self.space = fit(pair_stats(self.real, labels))
        calibrator = Calibrator.of(settings)
        target = args.target_fpir or calibrator.default_target
        self.calibration = calibrator.calibrate(args.gallery, target)
        if args.threshold is not None:  # a fixed threshold instead (the old global 0.42, say)
            shape = calibrator.shape
            self.calibration = dataclasses.replace(
                self.calibration,
                threshold=args.threshold,
                strong_threshold=args.threshold + shape.strong_margin,
                fpir_bound=fpir_bound(calibrator.model, shape, args.gallery, args.threshold),
            )
        self.rules = VoteRules.of(settings)
        self.tracks, self.seconds = record_tracks(settings, self.analyzer, args.fps)
        synthetic = max(0, args.gallery - len(self.real))
        started = time.perf_counter()
        self.index, self.index_kind = synthetic_gallery(self.space, synthetic, args.seed)
        self.build_s = time.perf_counter() - started
        self.basis = self.space.axes()
        faces = np.stack([f.embedding for t in self.tracks for f in t.faces]).astype(np.float32)
        # Each face, then each track's template as it stands after that face (the quality-weighted mean
        # of the faces so far: what the worker matches once min_frames faces are in it).
        self.queries = np.concatenate([faces, np.concatenate([prefix_templates(t) for t in self.tracks])])
        self.enrolled = self._enrolled_candidates()

    def _enrolled_candidates(self) -> list[list[Candidate]]:
        """Per recorded face, the two closest real people (each at their best photo): the same in every
        trial, since only the synthetic part of the gallery is drawn again."""
        t, strong = self.calibration.threshold, self.calibration.strong_threshold
        sims = self.queries @ self.real.T
        found = []
        for row in sims:
            best: dict[int, float] = {}
            for pid, sim in zip(self.real_ids.tolist(), row.tolist(), strict=True):
                best[pid] = max(best.get(pid, -1.0), sim)
            top = sorted(best.items(), key=lambda item: item[1], reverse=True)[:2]
            found.append([Candidate(pid, sim, t, strong) for pid, sim in top])
        return found

    def candidates(self, flips: FloatArray) -> list[list[Candidate]]:
        """Top two per recorded face and template against this draw of the gallery (synthetic ids
        offset): the faces first, then the templates, in the same order."""
        t, strong = self.calibration.threshold, self.calibration.strong_threshold
        drawn = ((self.queries @ self.basis) * flips) @ self.basis.T
        found: list[list[Candidate]] = [[] for _ in range(len(self.queries))]
        if len(self.index):
            sims, ids = self.index.search(np.ascontiguousarray(drawn, dtype=np.float32), 2)
            for row, (s, i) in enumerate(zip(sims, ids, strict=True)):
                found[row] = [
                    Candidate(SYNTHETIC + int(j), float(v), t, strong)
                    for v, j in zip(s, i, strict=True)
                    if j >= 0
                ]
        return [
            sorted(drawn_row + real_row, key=lambda c: c.similarity, reverse=True)[:2]
            for drawn_row, real_row in zip(found, self.enrolled, strict=True)
        ]

    def trial(self, rng: np.random.Generator) -> tuple[int, set[str]]:
        """One camera pass before a fresh gallery draw: false alerts, and the enrolled people found."""
        flips = np.where(rng.random(DIM) < 0.5, -1.0, 1.0).astype(np.float32)
        flips[0] = 1.0  # the axis every face shares is not symmetric
        every = self.candidates(flips)
        half = len(every) // 2
        candidates, templates = iter(every[:half]), iter(every[half:])
        false_alerts, found = 0, set[str]()
        for track in self.tracks:
            vote, person = TrackVote(self.rules), track.person()
            for face in track.faces:
                options, template = next(candidates), next(templates)
                if not vote.wants_embedding(face.quality):
                    continue
                vote.observe(options, face.quality)
                vote.observe_template(template)
                decision = vote.decide()
                if decision is None or vote.publication(decision, face.quality, 0.0) is None:
                    continue
                who = self.identities[decision.profile_id - 1] if decision.profile_id < SYNTHETIC else None
                if who is not None and who == person:
                    found.add(who)
                else:
                    false_alerts += 1
        return false_alerts, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=int, required=True, help="profiles on the live list (N)")
    parser.add_argument("--camera-hours", type=float, default=30.0, help="camera time to replay")
    parser.add_argument("--target-fpir", type=float, default=None, help="default: the settings' target")
    parser.add_argument(
        "--threshold", type=float, default=None, help="a fixed threshold instead of the calibrated one"
    )
    parser.add_argument("--fps", type=float, default=5.0, help="frames analysed per second")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    started = time.perf_counter()
    trials = Trials(args)
    rounds = max(1, round(args.camera_hours * 3600 / trials.seconds))
    rng = np.random.default_rng(args.seed + 1)
    false_alerts, passes = 0, dict.fromkeys((p for _, p, _ in PRESENT), 0)
    present = {t.person() for t in trials.tracks} - {None}
    replay = time.perf_counter()
    for _ in range(rounds):
        wrong, found = trials.trial(rng)
        false_alerts += wrong
        for person in found:
            passes[person] += 1
    hours = rounds * trials.seconds / 3600
    true_alerts = sum(passes.values())
    result = {
        "gallery": args.gallery,
        "camera_hours": round(hours, 2),
        "false_alerts_per_camera_hour": false_alerts / hours,
        "false_alerts": false_alerts,
        "false_alerts_upper_95_per_camera_hour": 3.0 / hours if false_alerts == 0 else None,
        "true_alerts": true_alerts,
        "missed": rounds * len(PRESENT) - true_alerts,
        "found_per_person": {p: n / rounds for p, n in passes.items()},
        "tracked_person_present": sorted(p for p in present if p),
        "threshold": trials.calibration.threshold,
        "strong_threshold": trials.calibration.strong_threshold,
        "target_fpir": trials.calibration.target_fpir,
        "fpir_bound": trials.calibration.fpir_bound,
        "trials": rounds,
        "tracks_per_trial": len(trials.tracks),
        "faces_per_trial": len(trials.queries) // 2,
        "index": trials.index_kind,
        "index_build_s": round(trials.build_s, 1),
        "replay_s": round(time.perf_counter() - replay, 1),
        "total_s": round(time.perf_counter() - started, 1),
    }
    if not args.json:
        print(
            f"gallery {args.gallery:,}: threshold {result['threshold']:.3f}, {result['trials']} trials "
            f"({hours:.1f} camera-hours): {false_alerts} false alerts, found {result['found_per_person']}",
            file=sys.stderr,
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
