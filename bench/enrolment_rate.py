"""Watchlist enrolment: photos per second, per-photo CPU by stage, and which photos are refused, why.

Takes every labelled photo of the shared face set (faces/labels.csv: 58 single-person photos and 7
multi-face or special ones), in one fixed shuffled order repeated to reach ``--photos`` (default 200),
and enrols each as its own profile, through

(a) in-process, one photo after another: ``watchlist.enrol.Enroller.enrol`` (decode, YuNet detect,
    quality checks, ArcFace alignment + MobileFaceNet embed, face crop, store in one transaction), with
    the default (fast) face path and with the full path (``recognition.enrol_detect_side: 0``,
    watchlist/enrol_face.py). The stages are timed in CPU time of the enrolling thread by subclasses of
    the analyzer and the store that only add a clock around ``detect``/``detect_at``/``refine``/``confirm``,
    ``embed`` and ``add_profile`` (the product code is unchanged); "other" is the rest (decode,
    validation, crop and its JPEG encoding). Photos per CPU second (``time.process_time``) is the robust
    figure on a shared machine: other work cannot inflate it much.
(p) in-process, in parallel, as a bulk import does it: ``Enroller.prepare_each`` prepares the photos on
    ``--threads`` threads (``recognition.enrol_threads``; onnxruntime and OpenCV release the GIL) while
    the calling thread stores them ``--group`` profiles per transaction (``Enroller.enrol_many``, as an
    import's batch of ``records.import_batch_photos``, 50). Photos per wall-clock second is the rate on
    the cores this process got; on a machine shared with other work it is a lower bound.
(b) HTTP, as the console does it: the real command centre (a process), a records clerk signed in with
    the SMS code POSTs the photo to /watchlist/profiles (multipart, with the legal basis) and a
    supervisor approves it (four-eyes); ``--http-concurrency`` clerks post at once. The server exposes
    no stage timings, so only propose and approve are split.

each on SQLite (a file) and on PostgreSQL (a fresh database, dropped after). One warm-up photo first,
unmeasured (it loads the models). Photos/s counts every photo handled, refused ones included; a refused
photo stops after detection, so it is cheaper than an enrolled one.

    python bench/enrolment_rate.py [--photos 200] [--threads 2] [--http-concurrency 1,4]
                                   [--db sqlite,postgres] [--json]

``--json`` prints one object, each figure the median over the databases (and ``--rounds``) measured:
``photos_per_s_in_process`` (wall clock, (p), default path), ``photos_per_cpu_s_in_process`` (default
path, (a)), ``photos_per_cpu_s_in_process_parallel`` ((p): the threads' overhead shows against (a)),
``photos_per_cpu_s_in_process_full`` (full path, (a)), ``photos_per_s_http`` (wall clock, one clerk),
``photos_per_server_cpu_s_http`` (one clerk, per CPU second of the command centre: propose and approve),
``threads``, ``cores`` and ``load_average`` (1-minute, at the start and the end).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from live_system import ADMIN_URL, bench_database, live_command_centre, models_dir, percentile

from pipeline.adapters.database import make_engine
from pipeline.detections import FaceDetections
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
from pipeline.types import Image
from tests.services import REPO, SHARED, TEST_SECURITY
from watchlist.enrol import Enroller, Enrolment, EnrolmentError
from watchlist.enrol_pool import cpu_cores
from watchlist.governance import LegalBasis
from watchlist.store import WatchlistStore
from watchlist.types import AddedProfile

DB_NAME = "safecity_bench_enrolment"
FACES = SHARED / "media" / "faces"
STAGES = ("detect", "embed", "store", "other")
LEGAL = {"legal_reference": "FIR 12/2025 PS Saddar", "authorised_by": "SSP Investigation"}
T = TypeVar("T")


@dataclass(frozen=True)
class Photo:
    file: str  # relative to the faces directory
    identity: str
    data: bytes

    @property
    def profile_name(self) -> str:
        return self.identity.split(";")[0].split("(")[0].replace("_", " ").strip().title()


def photo_set(count: int, seed: int) -> list[Photo]:
    """The labelled photos in one shuffled order, repeated to ``count``."""
    with (FACES / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    labelled = [Photo(r["file"], r["identity"], (FACES.parent / r["file"]).read_bytes()) for r in rows]
    random.Random(seed).shuffle(labelled)
    return [labelled[i % len(labelled)] for i in range(count)]


def reason_group(reason: str) -> str:
    """A refusal reason with its numbers masked, so '4 faces found' and '2 faces found' count together."""
    return re.sub(r"[0-9]+", "N", reason)


@dataclass
class Run:
    path: str
    database: str
    concurrency: int = 1
    wall_s: float = 0.0
    cpu_s: float = 0.0  # HTTP: the command centre's CPU
    total_ms: list[float] = field(default_factory=list)
    stage_ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    propose_ms: list[float] = field(default_factory=list)
    approve_ms: list[float] = field(default_factory=list)
    enrolled: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    refused_files: dict[str, str] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)

    def refuse(self, photo: Photo, reason: str) -> None:
        self.refused[reason_group(reason)] += 1
        self.refused_files.setdefault(photo.file, reason)


# -- (a) in-process ----------------------------------------------------------------------------------


class StageClock:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def time(self, stage: str, work: Callable[[], T]) -> T:
        began = time.thread_time()
        try:
            return work()
        finally:
            self.ms[stage] = self.ms.get(stage, 0.0) + (time.thread_time() - began) * 1000


class TimedAnalyzer(FaceAnalyzer):
    def __init__(self, settings: Settings, clock: StageClock) -> None:
        super().__init__(settings, settings.models_dir)
        self.clock = clock

    def detect(self, image: Image, min_face_px: float | None = None) -> FaceDetections:
        return self.clock.time("detect", lambda: super(TimedAnalyzer, self).detect(image, min_face_px))

    def detect_at(self, image: Image, scale: float) -> FaceDetections:
        return self.clock.time("detect", lambda: super(TimedAnalyzer, self).detect_at(image, scale))

    def refine(self, image: Image, detections: FaceDetections, face_px: float) -> FaceDetections:
        return self.clock.time(
            "detect", lambda: super(TimedAnalyzer, self).refine(image, detections, face_px)
        )

    def confirm(self, image: Image, detections: FaceDetections, face_px: float) -> FaceDetections:
        return self.clock.time(
            "detect", lambda: super(TimedAnalyzer, self).confirm(image, detections, face_px)
        )

    def embed(self, image: Image, detections: FaceDetections) -> npt.NDArray[np.float32]:
        return self.clock.time("embed", lambda: super(TimedAnalyzer, self).embed(image, detections))


class TimedStore(WatchlistStore):
    def __init__(self, engine: Engine, clock: StageClock) -> None:
        super().__init__(engine)
        self.clock = clock

    def add_profile(self, *args: Any, **kwargs: Any) -> AddedProfile:
        return self.clock.time("store", lambda: super(TimedStore, self).add_profile(*args, **kwargs))


FULL = {"enrol_detect_side": 0}


def settings_for(database_url: str, recognition: dict[str, Any] | None = None) -> Settings:
    return parse(
        {
            "recognition": recognition or {},
            "environment": "test",
            "database_url": database_url,
            "models_dir": str(models_dir()),
            "models_registry": str(REPO / "configs" / "models.yaml"),
            "security": TEST_SECURITY,
        }
    )


def basis() -> LegalBasis:
    return LegalBasis(expires_at=datetime.now(UTC) + timedelta(days=30), **LEGAL)


def in_process(database_url: str, label: str, photos: list[Photo], full: bool = False) -> Run:
    settings = settings_for(database_url, FULL if full else None)
    clock = StageClock()
    analyzer = TimedAnalyzer(settings, clock)
    store = TimedStore(make_engine(settings.resolved_database_url), clock)
    store.create_schema()
    enroller = Enroller(settings, analyzer, store)
    analyzer.load()
    enroller.enrol("Warm Up", "wanted", [(photos[0].file, photos[0].data)], basis(), "bench")
    run = Run("full" if full else "in-process", label)
    began, began_cpu = time.perf_counter(), time.process_time()
    for photo in photos:
        clock.ms = {}
        t0 = time.thread_time()
        try:
            enroller.enrol(photo.profile_name, "wanted", [(photo.file, photo.data)], basis(), "bench")
            run.enrolled += 1
        except EnrolmentError as exc:
            run.refuse(photo, exc.reason)
        total = (time.thread_time() - t0) * 1000
        run.total_ms.append(total)
        for stage in STAGES[:-1]:
            if stage in clock.ms:
                run.stage_ms[stage].append(clock.ms[stage])
        run.stage_ms["other"].append(total - sum(clock.ms.values()))
    run.wall_s = time.perf_counter() - began
    run.cpu_s = time.process_time() - began_cpu
    store.engine.dispose()
    return run


def in_parallel(database_url: str, label: str, photos: list[Photo], threads: int, group: int) -> Run:
    """(p): photos prepared on ``threads`` threads while this thread stores them, ``group`` profiles per
    transaction (``Enroller.enrol_many``, as a bulk import's batch does)."""
    settings = settings_for(database_url, {"enrol_threads": threads})
    analyzer = FaceAnalyzer(settings, settings.models_dir)
    store = WatchlistStore(make_engine(settings.resolved_database_url))
    store.create_schema()
    enroller = Enroller(settings, analyzer, store)
    analyzer.load()
    enroller.enrol("Warm Up", "wanted", [(photos[0].file, photos[0].data)], basis(), "bench")
    run = Run("parallel", label, concurrency=enroller.pool.threads)
    began, began_cpu = time.perf_counter(), time.process_time()
    prepared = enroller.prepare_each((p.file, p.data) for p in photos)
    pending: list[tuple[Photo, Enrolment]] = []
    for photo, outcome in zip(photos, prepared, strict=True):
        if isinstance(outcome, EnrolmentError):
            run.refuse(photo, outcome.reason)
            run.total_ms.append(0.0)
            continue
        named = [(photo.file, photo.data)]
        pending.append((photo, Enrolment(photo.profile_name, "wanted", named, basis(), prepared=[outcome])))
        if len(pending) >= group:
            store_group(enroller, pending, run)
    store_group(enroller, pending, run)
    run.wall_s = time.perf_counter() - began
    run.cpu_s = time.process_time() - began_cpu
    enroller.pool.close()
    store.engine.dispose()
    return run


def store_group(enroller: Enroller, pending: list[tuple[Photo, Enrolment]], run: Run) -> None:
    """Store the pending enrolments (one transaction), each photo's share of the wait in ``total_ms``."""
    if not pending:
        return
    t0 = time.perf_counter()
    outcomes = enroller.enrol_many([e for _, e in pending], "bench")
    share = (time.perf_counter() - t0) * 1000 / len(pending)
    for (photo, _), outcome in zip(pending, outcomes, strict=True):
        if isinstance(outcome, EnrolmentError):
            run.refuse(photo, outcome.reason)
        else:
            run.enrolled += 1
        run.total_ms.append(share)  # the store's share, as this thread waits
    pending.clear()


# -- (b) HTTP ----------------------------------------------------------------------------------------


def form(photo: Photo) -> dict[str, str]:
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    return {"name": photo.profile_name, "category": "wanted", "expires_at": expires, **LEGAL}


async def enrol_over_http(base: str, clerk: str, supervisor: str, photos: list[Photo], run: Run) -> None:
    queue: asyncio.Queue[Photo] = asyncio.Queue()
    for photo in photos:
        queue.put_nowait(photo)

    async def clerk_loop(proposer: httpx.AsyncClient, approver: httpx.AsyncClient) -> None:
        while not queue.empty():
            photo = queue.get_nowait()
            began = time.perf_counter()
            files = [("photos", (Path(photo.file).name, photo.data, "application/octet-stream"))]
            proposed = await proposer.post("/watchlist/profiles", data=form(photo), files=files)
            run.propose_ms.append((time.perf_counter() - began) * 1000)
            if proposed.status_code == 422:
                run.refuse(photo, str(proposed.json()["detail"]).split(": ", 1)[-1])
            elif proposed.status_code != 201:
                run.errors[f"propose {proposed.status_code} {proposed.text[:80]}"] += 1
            else:
                t0 = time.perf_counter()
                approved = await approver.post(
                    f"/watchlist/profiles/{proposed.json()['id']}/approve", json={}
                )
                run.approve_ms.append((time.perf_counter() - t0) * 1000)
                if approved.status_code == 200 and approved.json()["status"] == "active":
                    run.enrolled += 1
                else:
                    run.errors[f"approve {approved.status_code} {approved.text[:80]}"] += 1
            run.total_ms.append((time.perf_counter() - began) * 1000)

    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300)

    async with client(clerk) as proposer, client(supervisor) as approver:
        began = time.perf_counter()
        await asyncio.gather(*(clerk_loop(proposer, approver) for _ in range(run.concurrency)))
        run.wall_s = time.perf_counter() - began


def over_http(database_url: str, label: str, photos: list[Photo], levels: list[int]) -> list[Run]:
    runs = []
    with live_command_centre(database_url) as system:
        clerk, supervisor = system.staff_token("records_clerk"), system.staff_token("supervisor")
        asyncio.run(enrol_over_http(system.base, clerk, supervisor, photos[:1], Run("warm-up", label)))
        for concurrency in levels:
            run = Run("HTTP", label, concurrency)
            began_cpu = system.server_cpu_s()
            asyncio.run(enrol_over_http(system.base, clerk, supervisor, photos, run))
            run.cpu_s = system.server_cpu_s() - began_cpu
            runs.append(run)
    return runs


# -- the databases and the report --------------------------------------------------------------------


@contextmanager
def database(kind: str, admin_url: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        path = tmp / f"enrol-{time.monotonic_ns()}.db"
        yield f"sqlite:///{path}"
        return
    with bench_database(admin_url, DB_NAME) as url:
        yield url


def report(runs: list[Run], photos: int) -> None:
    print(f"\nenrolment of {photos} photos, one profile each (latencies in ms per photo):")
    head = f"  {'path':<11}{'db':<9}{'conc':>4}{'photos/s':>9}{'/cpu s':>7}{'enrolled/s':>11}"
    head += f"{'p50':>7}{'p99':>7}"
    print(head + f"{'enrolled':>9}{'refused':>8} | per stage p50 (p99)")
    for run in runs:
        if run.path == "HTTP":
            stages = {"propose": run.propose_ms, "approve": run.approve_ms}
        elif run.path == "parallel":
            stages = {"store (wall)": run.total_ms}
        else:
            stages = {s: run.stage_ms[s] for s in STAGES}
        split = "  ".join(f"{s} {percentile(v, 50):.1f} ({percentile(v, 99):.1f})" for s, v in stages.items())
        print(
            f"  {run.path:<11}{run.database:<9}{run.concurrency:>4}{len(run.total_ms) / run.wall_s:>9.2f}"
            f"{(len(run.total_ms) / run.cpu_s if run.cpu_s else 0):>7.1f}"
            f"{run.enrolled / run.wall_s:>11.2f}{percentile(run.total_ms, 50):>7.1f}"
            f"{percentile(run.total_ms, 99):>7.1f}{run.enrolled:>9}{sum(run.refused.values()):>8} | {split}"
        )
    errors = Counter[str]()
    for run in runs:
        errors.update(run.errors)
    if errors:
        print("errors (not refusals): " + "; ".join(f"{n} x {e}" for e, n in errors.items()))
    print("\nrefusals (the quality feedback the clerk gets, numbers masked), per run:")
    labels = [f"{r.path[:4] if r.path != 'HTTP' else f'http{r.concurrency}'}/{r.database[:2]}" for r in runs]
    print("  " + " ".join(f"{label:>8}" for label in labels) + "   reason")
    for reason in sorted({r for run in runs for r in run.refused}):
        counts = " ".join(f"{run.refused[reason]:>8}" for run in runs)
        print(f"  {counts}   {reason}")
    files = {f: r for run in runs for f, r in run.refused_files.items()}
    print(f"refused photos ({len(files)} distinct files):")
    for file, reason in sorted(files.items()):
        print(f"  {file}: {reason}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=200, help="photos per run (the set repeated)")
    parser.add_argument(
        "--http-concurrency",
        type=lambda s: [int(v) for v in s.split(",") if v],
        default=[1, 4],
        help="clerks posting at once over HTTP, e.g. 1,4 (empty: no HTTP runs)",
    )
    parser.add_argument("--db", default="sqlite,postgres", help="databases: sqlite, postgres or both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--admin-url", default=ADMIN_URL, help="PostgreSQL database to create the bench DB from"
    )
    parser.add_argument("--rounds", type=int, default=1, help="in-process runs per path (median)")
    parser.add_argument(
        "--threads", type=int, default=0, help="threads preparing photos in (p) (0: one per core)"
    )
    parser.add_argument(
        "--group", type=int, default=50, help="profiles per transaction in (p) (1: one by one)"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    args = parser.parse_args()
    photos = photo_set(args.photos, args.seed)
    say = (lambda *a, **k: None) if args.json else print
    say(f"{len({p.file for p in photos})} distinct labelled photos, {len(photos)} per run")
    load = [os.getloadavg()[0]]
    runs = measure(args, photos, say)
    load.append(os.getloadavg()[0])
    if not args.json:
        report(runs, len(photos))
    print(json.dumps(summary(runs) | {"load_average": [round(v, 1) for v in load]}))
    return 0


def measure(args: argparse.Namespace, photos: list[Photo], say: Callable[..., None]) -> list[Run]:
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="safecity-enrol-") as tmp:
        for kind in args.db.split(","):
            for _ in range(args.rounds):
                for full in (False, True):
                    with database(kind, args.admin_url, Path(tmp)) as url:
                        runs.append(in_process(url, kind, photos, full))
                    say(f"  {runs[-1].path} on {kind}: {runs[-1].cpu_s:.1f} CPU s", flush=True)
                with database(kind, args.admin_url, Path(tmp)) as url:
                    runs.append(in_parallel(url, kind, photos, args.threads, args.group))
                say(f"  parallel on {kind}: {runs[-1].wall_s:.1f} s, {runs[-1].cpu_s:.1f} CPU s", flush=True)
            if args.http_concurrency:
                with database(kind, args.admin_url, Path(tmp)) as url:
                    runs += over_http(url, kind, photos, args.http_concurrency)
    return runs


def summary(runs: list[Run]) -> dict[str, float | int | None]:
    """The figures of the docstring: medians over the runs and databases."""

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 2) if values else None

    def per_cpu_s(path: str) -> float | None:
        return median([len(r.total_ms) / r.cpu_s for r in runs if r.path == path])

    parallel = [r for r in runs if r.path == "parallel"]
    http = [r for r in runs if r.path == "HTTP" and r.concurrency == 1]
    return {
        "photos_per_s_in_process": median([len(r.total_ms) / r.wall_s for r in parallel]),
        "photos_per_cpu_s_in_process": per_cpu_s("in-process"),
        "photos_per_cpu_s_in_process_parallel": per_cpu_s("parallel"),
        "photos_per_cpu_s_in_process_full": per_cpu_s("full"),
        "photos_per_s_http": median([len(r.total_ms) / r.wall_s for r in http]),
        "photos_per_server_cpu_s_http": median([len(r.total_ms) / r.cpu_s for r in http if r.cpu_s]),
        "threads": parallel[0].concurrency if parallel else None,
        "cores": cpu_cores(),
    }


if __name__ == "__main__":
    sys.exit(main())
