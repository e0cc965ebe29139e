"""Worker start-to-ready at national scale: rebuilding the index from the database vs loading a snapshot.

Loads the benchmark's gallery (``bench/watchlist_scale.py --startup``) into a fresh PostgreSQL database
as watchlist profiles (COPY; one photo and one embedding each, last changed a day ago), starts a private
nats-server, then runs two fresh worker processes through the production ``WatchlistSync.start``:

1. snapshots disabled: the index is built from the database rows (``WatchlistMatcher.load``), which is
   what every worker did before; the same process then publishes a snapshot to the object store;
2. snapshots enabled, after 100 enrolments and 10 removals made since the snapshot: the worker loads the
   snapshot, checks it against the database, catches up with the 110 changed profiles, and is ready.

Each reports seconds to ready, peak RSS, and whether known faces match.

    nice -n 10 python bench/watchlist_scale.py --startup [--n 1500000]
    python bench/watchlist_startup.py --phase db|snapshot --database-url URL --nats-url URL  (internal)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.settings import Settings, parse
from tests.services import POSTGRES_ADMIN_URL, free_port, nats_server_binary, port_open

DB_NAME = "safecity_bench_watchlist"
BUCKET = "safecity_watchlist_bench"
LATER_ENROLMENTS, LATER_REMOVALS = 100, 10
JPEG = b"\xff\xd8\xff\xd9"
PROFILE_TYPES = [
    *("int4", "varchar", "varchar", "bool", "varchar", "varchar", "varchar"),  # id .. authorised_by
    *("timestamptz", "varchar", "timestamptz", "varchar", "timestamptz"),  # expires_at .. approved_at
    *("timestamptz", "timestamptz"),  # created_at, updated_at
]


def bench_settings(database_url: str, nats_url: str, snapshots: bool) -> Settings:
    return parse(
        {
            "database_url": database_url,
            "nats_url": nats_url,
            "watchlist": {
                "index": {"type": "faiss_ivf_pq"},
                "snapshots": {"enabled": snapshots, "bucket": BUCKET},
            },
        }
    )


# -- the parent ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def private_nats() -> Iterator[str]:
    port, store = free_port(), tempfile.mkdtemp(prefix="watchlist-bench-nats-")
    proc = subprocess.Popen(
        [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("private nats-server did not start")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(store, ignore_errors=True)


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def load_profiles(database_url: str, gallery: np.ndarray) -> float:
    """COPY one profile, photo and embedding per gallery row (ids 1..n); returns seconds."""
    from pipeline.adapters.database import make_engine
    from watchlist.store import WatchlistStore

    engine = make_engine(database_url)
    WatchlistStore(engine).create_schema()
    engine.dispose()
    started = time.perf_counter()
    changed = datetime.now(UTC) - timedelta(days=1)
    expires = changed + timedelta(days=365)
    chunk = 100_000
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn, conn.cursor() as cur:
        for start in range(0, len(gallery), chunk):
            stop = min(start + chunk, len(gallery))
            with cur.copy(
                "COPY profiles (id, name, category, active, status, legal_reference, authorised_by, "
                "expires_at, proposed_by, proposed_at, approved_by, approved_at, created_at, updated_at) "
                "FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(PROFILE_TYPES)
                for i in range(start + 1, stop + 1):
                    copy.write_row(
                        (
                            i,
                            f"Person {i}",
                            "wanted",
                            True,
                            "active",
                            "FIR bench",
                            "SSP bench",
                            expires,
                            "bench",
                            changed,
                            "bench",
                            changed,
                            changed,
                            changed,
                        )
                    )
            with cur.copy(
                "COPY profile_photos (id, profile_id, original, crop_jpeg, width, height, created_at) "
                "FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int4", "int4", "bytea", "bytea", "int4", "int4", "timestamptz"])
                for i in range(start + 1, stop + 1):
                    copy.write_row((i, i, JPEG, JPEG, 112, 112, changed))
            with cur.copy(
                "COPY face_embeddings (id, profile_id, photo_id, model, vector) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int4", "int4", "int4", "varchar", "bytea"])
                block = np.ascontiguousarray(gallery[start:stop], dtype="<f4")
                for offset, i in enumerate(range(start + 1, stop + 1)):
                    copy.write_row((i, i, i, "mobilefacenet", block[offset].tobytes()))
            conn.commit()
            print(f"  loaded {stop:>9,} profiles  {time.perf_counter() - started:6.0f} s", flush=True)
        n = len(gallery)
        for table in ("profiles", "profile_photos", "face_embeddings"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
        cur.execute("UPDATE watchlist_meta SET revision = %s WHERE id = 1", (n,))
        cur.execute("ANALYZE")
        conn.commit()
    return time.perf_counter() - started


def later_changes(database_url: str, gallery: np.ndarray, seed: int) -> tuple[list[int], list[int]]:
    """Enrolments and removals made after the snapshot, through the store (like the command centre)."""
    from pipeline.adapters.database import make_engine
    from watchlist.governance import LegalBasis
    from watchlist.store import NewPhoto, WatchlistStore

    store = WatchlistStore(make_engine(database_url))
    rng = np.random.default_rng(seed)
    basis = LegalBasis("FIR later", "SSP bench", datetime.now(UTC) + timedelta(days=30))
    fresh = rng.standard_normal((LATER_ENROLMENTS, gallery.shape[1])).astype(np.float32)
    fresh /= np.linalg.norm(fresh, axis=1, keepdims=True)
    added = [
        store.add_profile(
            f"Later {i}",
            "wanted",
            [NewPhoto(JPEG, JPEG, 112, 112, v)],
            "mobilefacenet",
            basis=basis,
            proposed_by="bench",
            approved_by="bench",
        ).profile_id
        for i, v in enumerate(fresh)
    ]
    removed = [int(p) for p in rng.choice(len(gallery), LATER_REMOVALS, replace=False) + 1]
    for profile_id in removed:
        store.remove_profile(profile_id, "bench", "bench removal")
    np.save(Path(tempfile.gettempdir()) / "watchlist-bench-later.npy", fresh)
    store.engine.dispose()
    return added, removed


def _phase(phase: str, database_url: str, nats_url: str, gallery: Path, extra: dict[str, object]) -> dict:
    argv = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--database-url",
        database_url,
        "--nats-url",
        nats_url,
        "--gallery",
        str(gallery),
        "--extra",
        json.dumps(extra),
    ]
    started = time.perf_counter()
    env = os.environ | {"OMP_WAIT_POLICY": "PASSIVE"}  # see bench/watchlist_scale.py
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - started
    for line in done.stderr.splitlines():
        if "watchlist" in line and ("snapshot" in line or "ready" in line or "trained" in line):
            print(f"    {line.strip()[24:330]}")
    if done.returncode != 0:
        print(done.stderr[-3000:])
        raise RuntimeError(f"phase {phase} failed")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = wall
    return result


def run_startup(gallery_path: Path, args: argparse.Namespace) -> None:
    gallery = np.load(gallery_path, mmap_mode="r")
    print(f"\nworker start-to-ready with {len(gallery):,} profiles (PostgreSQL, private nats-server)")
    with bench_database() as database_url, private_nats() as nats_url:
        print(f"COPY into PostgreSQL: {load_profiles(database_url, gallery):.0f} s", flush=True)
        from_db = _phase("db", database_url, nats_url, gallery_path, {})
        added, removed = later_changes(database_url, gallery, args.seed)
        from_snapshot = _phase(
            "snapshot", database_url, nats_url, gallery_path, {"added": added, "removed": removed}
        )
    print(f"\n{'start':<30}{'ready s':>9}{'process s':>11}{'peak RSS MB':>13}  matches")
    for label, r in (("rebuild from database rows", from_db), ("snapshot + catch-up", from_snapshot)):
        print(
            f"{label:<30}{r['ready_s']:>9.1f}{r['process_s']:>11.1f}{r['peak_rss_mb']:>13.0f}  {r['check']}"
        )
    print(
        f"snapshot: {from_db['snapshot_mb']:.0f} MB, written and uploaded in {from_db['publish_s']:.1f} s; "
        f"the snapshot start re-read {from_snapshot['caught_up']} profiles changed since"
    )


# -- the worker processes ------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _worker(phase: str, database_url: str, nats_url: str, gallery: Path, extra: dict) -> dict:
    from pipeline.adapters.bus import connect
    from pipeline.adapters.database import make_engine
    from watchlist.matcher import WatchlistMatcher
    from watchlist.store import WatchlistStore
    from workers.watchlist_sync import WatchlistSync

    settings = bench_settings(database_url, nats_url, snapshots=phase == "snapshot")
    nc = await connect(nats_url, f"bench-{phase}")
    store = WatchlistStore(make_engine(database_url))
    matcher = WatchlistMatcher(settings)
    sync = WatchlistSync(nc.jetstream(), matcher, store, settings)
    started = time.perf_counter()
    await sync.start()
    ready = time.perf_counter() - started
    result: dict[str, object] = {"ready_s": ready, "source": sync.source, "caught_up": sync.last_catch_up}
    vectors = np.load(gallery, mmap_mode="r")
    probe = np.random.default_rng(5).choice(len(vectors), 50, replace=False)
    removed = set(extra.get("removed", []))
    wanted = [int(i) + 1 for i in probe if int(i) + 1 not in removed]
    got = [
        m[0].profile_id if m else None for m in matcher.match(np.asarray(vectors[[w - 1 for w in wanted]]), 1)
    ]
    checks = [f"{sum(g == w for g, w in zip(got, wanted, strict=True))}/{len(wanted)} enrolled"]
    if extra:
        later = np.load(Path(tempfile.gettempdir()) / "watchlist-bench-later.npy")
        new = [m[0].profile_id if m else None for m in matcher.match(later, 1)]
        gone = [
            m[0].profile_id if m else None
            for m in matcher.match(np.asarray(vectors[[r - 1 for r in removed]]), 1)
        ]
        checks.append(f"{sum(a == b for a, b in zip(new, extra['added'], strict=True))}/{len(new)} later")
        checks.append(f"{sum(g not in removed for g in gone)}/{len(gone)} removed gone")
    result["check"] = ", ".join(checks)
    if phase == "db":
        published_at = time.perf_counter()
        await sync.publish(force=True)
        result["publish_s"] = time.perf_counter() - published_at
        from watchlist.snapshot_store import list_snapshots

        (newest,) = (await list_snapshots(nc.jetstream(), BUCKET))[:1]
        result["snapshot_mb"] = newest.size / 2**20
    await sync.stop()
    await nc.drain()
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phase", choices=["db", "snapshot"], required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--gallery", type=Path, required=True)
    parser.add_argument("--extra", default="{}")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    result = asyncio.run(
        _worker(args.phase, args.database_url, args.nats_url, args.gallery, json.loads(args.extra))
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
