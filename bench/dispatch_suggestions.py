"""How long choosing the nearest units takes, with N units around a city, on real Redis and SQLite.

Prints p50/p95 of ``Dispatcher.suggest`` (Redis GEOSEARCH + staleness check + one SQL query for the
units' duty status and crews) and of a position update, for 100 and 1000 units within 15 km.

    .venv/bin/python bench/dispatch_suggestions.py [--units 100 1000] [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from command_center.alerts.lifecycle import LifecycleStore
from command_center.alerts.store import Alert
from command_center.dispatch.dispatcher import Dispatcher
from command_center.dispatch.patrol import PatrolStore
from command_center.dispatch.positions import PatrolPositions
from command_center.dispatch.store import DispatchStore
from command_center.security.users import UserStore
from pipeline.adapters.database import make_engine
from pipeline.settings import parse

CAMERA = (33.70, 73.05)
RUNS = 200


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def bench(units: int, runs: int = RUNS) -> dict[str, float]:
    tag = uuid.uuid4().hex[:8]
    folder = Path(tempfile.mkdtemp())
    settings = parse(
        {
            "data_dir": str(folder),
            "cameras": [
                {
                    "id": "cam",
                    "url": "rtsp://x/cam",
                    "district": "D",
                    "latitude": CAMERA[0],
                    "longitude": CAMERA[1],
                }
            ],
            "dispatch": {"redis_prefix": f"bench:{tag}"},
        }
    )
    engine = make_engine(settings.resolved_database_url)
    users = UserStore(engine)
    users.create_schema()
    patrol = PatrolStore(engine)
    patrol.create_schema()
    redis = Redis.from_url(settings.redis_url)
    positions = PatrolPositions(redis, settings.patrol_redis_prefix, settings.dispatch.position_stale_s)
    rng = random.Random(1)
    now = time.time()
    for n in range(units):
        unit_id = f"U{n}"
        patrol.add_unit(unit_id, unit_id, "D")
        officer = users.add(
            government_id=f"B-{tag}-{n}", mobile="+923001234567", name="Bench", role="patrol_officer"
        )
        patrol.assign(unit_id, [officer.id])
        lat = CAMERA[0] + rng.uniform(-0.12, 0.12)
        lon = CAMERA[1] + rng.uniform(-0.12, 0.12)
        await positions.update(unit_id, lat, lon, now)
    dispatcher = Dispatcher(
        settings,
        alerts=None,  # type: ignore[arg-type]
        lifecycle=LifecycleStore(engine),
        store=DispatchStore(engine),
        patrol=patrol,
        positions=positions,
        channels=None,  # type: ignore[arg-type]
        announcer=None,  # type: ignore[arg-type]
    )
    alert = Alert(
        id=1, status="new", kind="face", priority=1, camera_id="cam", district="D", profile_id=1,
        profile_name="x", category="wanted", best_similarity=0.6, first_seen=datetime.now(UTC),
        last_seen=datetime.now(UTC), hit_count=1, first_hit_id=uuid.uuid4(), details=None,
        created_at=datetime.now(UTC), updated_at=datetime.now(UTC),
    )  # fmt: skip
    suggest, moves = [], []
    for _ in range(runs):
        started = time.perf_counter()
        found = await dispatcher.suggest(alert, lambda _d: True)
        suggest.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await positions.update("U0", CAMERA[0], CAMERA[1], time.time())
        moves.append((time.perf_counter() - started) * 1000)
    assert found
    await redis.delete(f"{settings.patrol_redis_prefix}:geo", f"{settings.patrol_redis_prefix}:seen")
    await redis.aclose()
    engine.dispose()
    return {
        "units": units,
        "suggest_p50_ms": round(statistics.median(suggest), 3),
        "suggest_p95_ms": round(percentile(suggest, 95), 3),
        "position_update_p50_ms": round(statistics.median(moves), 3),
        "suggested": len(found),
    }


async def main(units: list[int], runs: int, as_json: bool) -> None:
    for count in units:
        r = await bench(count, runs)
        if as_json:
            print(json.dumps(r))
            continue
        print(
            f"{count:5d} units: suggest p50 {r['suggest_p50_ms']:.2f} ms, p95 {r['suggest_p95_ms']:.2f} ms; "
            f"position update p50 {r['position_update_p50_ms']:.2f} ms ({r['suggested']} suggested)"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[100, 1000], help="units around the city")
    parser.add_argument("--runs", type=int, default=RUNS, help="suggestions timed per size")
    parser.add_argument("--json", action="store_true", help="one JSON object per size instead of a line")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    asyncio.run(main(args.units, args.runs, args.json))
