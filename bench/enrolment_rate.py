"""Watchlist enrolment: photos per second, per-photo latency by stage, and which photos are refused, why.

Takes every labelled photo of the shared face set (faces/labels.csv: 58 single-person photos and 7
multi-face or special ones), in one fixed shuffled order repeated to reach ``--photos`` (default 200),
and enrols each as its own profile, through

(a) in-process: ``watchlist.enrol.Enroller.enrol`` (decode, YuNet detect, quality checks, ArcFace
    alignment + MobileFaceNet embed, face crop, store in one transaction). The stages are timed by
    subclasses of the analyzer, the store and the enroller that only add a clock around ``_decode``,
    ``detect``, ``embed`` and ``add_profile`` (the product code is unchanged); "other" is the rest
    (validation, crop and its JPEG encoding).
(b) HTTP, as the console does it: the real command centre (a process), a records clerk signed in with
    the SMS code POSTs the photo to /watchlist/profiles (multipart, with the legal basis) and a
    supervisor approves it (four-eyes); ``--http-concurrency`` clerks post at once. The server exposes
    no stage timings, so only propose and approve are split.

each on SQLite (a file) and on PostgreSQL (a fresh database, dropped after). One warm-up photo first,
unmeasured (it loads the models). Photos/s counts every photo handled, refused ones included; a refused
photo stops after detection, so it is cheaper than an enrolled one.

    python bench/enrolment_rate.py [--photos 200] [--http-concurrency 1,4] [--db sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import re
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
from watchlist.enrol import Enroller, EnrolmentError
from watchlist.governance import LegalBasis
from watchlist.store import WatchlistStore
from watchlist.types import AddedProfile

DB_NAME = "safecity_bench_enrolment"
FACES = SHARED / "media" / "faces"
STAGES = ("decode", "detect", "embed", "store", "other")
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
        began = time.perf_counter()
        try:
            return work()
        finally:
            self.ms[stage] = self.ms.get(stage, 0.0) + (time.perf_counter() - began) * 1000


class TimedAnalyzer(FaceAnalyzer):
    def __init__(self, settings: Settings, clock: StageClock) -> None:
        super().__init__(settings, settings.models_dir)
        self.clock = clock

    def detect(self, image: Image) -> FaceDetections:
        return self.clock.time("detect", lambda: super(TimedAnalyzer, self).detect(image))

    def embed(self, image: Image, detections: FaceDetections) -> npt.NDArray[np.float32]:
        return self.clock.time("embed", lambda: super(TimedAnalyzer, self).embed(image, detections))


class TimedStore(WatchlistStore):
    def __init__(self, engine: Engine, clock: StageClock) -> None:
        super().__init__(engine)
        self.clock = clock

    def add_profile(self, *args: Any, **kwargs: Any) -> AddedProfile:
        return self.clock.time("store", lambda: super(TimedStore, self).add_profile(*args, **kwargs))


class TimedEnroller(Enroller):
    def __init__(self, settings: Settings, analyzer: FaceAnalyzer, store: WatchlistStore, clock: StageClock):
        super().__init__(settings, analyzer, store)
        self.clock = clock

    def _decode(self, name: str, data: bytes) -> npt.NDArray[np.uint8]:
        return self.clock.time("decode", lambda: super(TimedEnroller, self)._decode(name, data))


def settings_for(database_url: str) -> Settings:
    return parse(
        {
            "environment": "test",
            "database_url": database_url,
            "models_dir": str(models_dir()),
            "models_registry": str(REPO / "configs" / "models.yaml"),
            "security": TEST_SECURITY,
        }
    )


def basis() -> LegalBasis:
    return LegalBasis(expires_at=datetime.now(UTC) + timedelta(days=30), **LEGAL)


def in_process(database_url: str, label: str, photos: list[Photo]) -> Run:
    settings = settings_for(database_url)
    clock = StageClock()
    analyzer = TimedAnalyzer(settings, clock)
    store = TimedStore(make_engine(settings.resolved_database_url), clock)
    store.create_schema()
    enroller = TimedEnroller(settings, analyzer, store, clock)
    analyzer.load()
    enroller.enrol("Warm Up", "wanted", [(photos[0].file, photos[0].data)], basis(), "bench")
    run = Run("in-process", label)
    began = time.perf_counter()
    for photo in photos:
        clock.ms = {}
        t0 = time.perf_counter()
        try:
            enroller.enrol(photo.profile_name, "wanted", [(photo.file, photo.data)], basis(), "bench")
            run.enrolled += 1
        except EnrolmentError as exc:
            run.refuse(photo, exc.reason)
        total = (time.perf_counter() - t0) * 1000
        run.total_ms.append(total)
        for stage in STAGES[:-1]:
            if stage in clock.ms:
                run.stage_ms[stage].append(clock.ms[stage])
        run.stage_ms["other"].append(total - sum(clock.ms.values()))
    run.wall_s = time.perf_counter() - began
    store.engine.dispose()
    return run


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
            asyncio.run(enrol_over_http(system.base, clerk, supervisor, photos, run))
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
    head = f"  {'path':<11}{'db':<9}{'conc':>4}{'photos/s':>9}{'enrolled/s':>11}{'p50':>7}{'p99':>7}"
    print(head + f"{'enrolled':>9}{'refused':>8} | per stage p50 (p99)")
    for run in runs:
        if run.path == "HTTP":
            stages = {"propose": run.propose_ms, "approve": run.approve_ms}
        else:
            stages = {s: run.stage_ms[s] for s in STAGES}
        split = "  ".join(f"{s} {percentile(v, 50):.1f} ({percentile(v, 99):.1f})" for s, v in stages.items())
        print(
            f"  {run.path:<11}{run.database:<9}{run.concurrency:>4}{len(run.total_ms) / run.wall_s:>9.2f}"
            f"{run.enrolled / run.wall_s:>11.2f}{percentile(run.total_ms, 50):>7.1f}"
            f"{percentile(run.total_ms, 99):>7.1f}{run.enrolled:>9}{sum(run.refused.values()):>8} | {split}"
        )
    errors = Counter[str]()
    for run in runs:
        errors.update(run.errors)
    if errors:
        print("errors (not refusals): " + "; ".join(f"{n} x {e}" for e, n in errors.items()))
    print("\nrefusals (the quality feedback the clerk gets, numbers masked), per run:")
    labels = [
        f"{'proc' if r.path == 'in-process' else f'http{r.concurrency}'}/{r.database[:2]}" for r in runs
    ]
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
        type=lambda s: [int(v) for v in s.split(",")],
        default=[1, 4],
        help="clerks posting at once over HTTP, e.g. 1,4",
    )
    parser.add_argument("--db", default="sqlite,postgres", help="databases: sqlite, postgres or both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--admin-url", default=ADMIN_URL, help="PostgreSQL database to create the bench DB from"
    )
    args = parser.parse_args()
    photos = photo_set(args.photos, args.seed)
    print(f"{len({p.file for p in photos})} distinct labelled photos, {len(photos)} per run")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="safecity-enrol-") as tmp:
        for kind in args.db.split(","):
            with database(kind, args.admin_url, Path(tmp)) as url:
                runs.append(in_process(url, kind, photos))
                print(f"  in-process on {kind}: {runs[-1].wall_s:.1f}s", flush=True)
            with database(kind, args.admin_url, Path(tmp)) as url:
                runs += over_http(url, kind, photos, args.http_concurrency)
                print(f"  HTTP on {kind}: {sum(r.wall_s for r in runs[-len(args.http_concurrency) :]):.1f}s")
    report(runs, len(photos))
    return 0


if __name__ == "__main__":
    sys.exit(main())
