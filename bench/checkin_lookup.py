"""Hotel check-ins against a national CRO on PostgreSQL: check-ins/s, the hotel's latency, screening time.

Loads ``--size`` CRO persons (default 1.5M; names, fathers' names and addresses from the generator of
bench/person_search.py) with unique valid CNICs stored dashed (``#####-#######-#``) as the product stores
them, ``--wanted`` of them (default 1 %) in the ``wanted`` category, the rest in the other categories,
with COPY into a fresh database. Then:

1. Raw lookup, in-process: ``PersonStore.by_cnic`` for ``--lookups`` random CNICs on the record and as
   many not on it (the query behind screening), after ANALYZE.
2. Over HTTP, the real command centre (a process, as bench/glass_to_alert.py runs it) on that database.
   Per concurrency level a new hotel is registered with ``safecity integrations add-hotel`` and keyed with
   ``issue-key``; ``--count`` check-ins are POSTed to /checkins exactly as a hotel system would
   (``X-API-Key``, JSON body, CNIC sent dashed or as 13 bare digits), from N concurrent httpx clients.
   ``--wanted-share`` of guests are wanted persons (each one a different person), the others are not on
   the record; ``--repeat-share`` of check-ins are posted a second time as soon as the first is answered
   (a retry), which must get 200 with the first acknowledgement and raise no second alert.
   A supervisor listens on /ws/alerts meanwhile.

Reported per level: check-ins/s (new check-ins over the wall time, repeats included in the load), the
hotel's HTTP latency p50/p99 (first posts; repeats apart), screening latency of the wanted guests (POST
sent → the alert arriving on the supervisor's WebSocket), received → screened for every check-in (the
server's own timestamps in ``hotel_checkins``), and whether the alerts stored are exactly one per wanted
guest. Check-ins carry no guest photo, so face screening is not exercised. The load generator runs in
the same process as the WebSocket listener, on the same machine as the server.

    python bench/checkin_lookup.py [--size 1500000] [--count 2000] [--concurrency 1,4,16]
                                   [--keep | --reuse]       # small run: --size 50000 --count 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import websockets
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cro_load import cnic_of, describe, generate, load
from live_system import ADMIN_URL, LiveSystem, bench_database, live_command_centre, percentile

from command_center.records.checkins import CheckinStore, NewCheckin
from command_center.records.store import PersonStore
from command_center.security.apikeys import ApiKeyStore
from command_center.security.audit import AuditTrail
from pipeline.adapters.database import make_engine
from pipeline.adapters.migrations import upgrade
from pipeline.validators import normalise_cnic
from tests.services import TEST_SECURITY

DB_NAME = "safecity_bench_checkins"
TARGET_P99_MS = 50.0
T = TypeVar("T")


def raw_lookups(url: str, size: int, count: int, seed: int) -> None:
    """``PersonStore.by_cnic`` latency for CNICs on the record and not on it."""
    engine = make_engine(url)
    store = PersonStore(engine)
    rng = random.Random(seed + 11)
    on_record = [cnic_of(rng.randint(1, size)) for _ in range(count)]
    absent = [cnic_of(size + 1 + rng.randrange(10**9)) for _ in range(count)]
    for cnic in on_record[:200]:  # warm the connection pool and the code path
        store.by_cnic(cnic)
    print(f"\nraw CNIC lookup in-process (PersonStore.by_cnic), {count:,} random CNICs each, {size:,} rows:")
    print(f"  {'CNICs':<16}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'found':>8}{'lookups/s':>11}")
    for label, cnics, expect in (("on the record", on_record, True), ("not on it", absent, False)):
        latencies, found = [], 0
        began = time.perf_counter()
        for cnic in cnics:
            t0 = time.perf_counter()
            person = store.by_cnic(cnic)
            latencies.append((time.perf_counter() - t0) * 1000)
            found += person is not None
        rate = len(cnics) / (time.perf_counter() - began)
        assert found == (len(cnics) if expect else 0), f"{label}: {found} found"
        print(
            f"  {label:<16}{percentile(latencies, 50):8.2f}{percentile(latencies, 99):8.2f}"
            f"{max(latencies):8.2f}{found:8,}{rate:11,.0f}"
        )
    engine.dispose()


def server_steps(url: str, size: int, count: int, seed: int) -> None:
    """What the server does for one check-in, step by step, in-process and sequential: where the time of
    a POST (key, insert, audit) and of its screening (lookup, mark screened) goes, without HTTP."""
    engine = make_engine(url)
    keys, audit = (
        ApiKeyStore(engine, TEST_SECURITY["api_key_pepper"]),
        AuditTrail(engine, TEST_SECURITY["audit_key"].encode()),
    )
    checkins, persons = CheckinStore(engine), PersonStore(engine)
    tag = uuid.uuid4().hex[:6]
    hotel = keys.create_hotel(f"Steps Inn {tag}", f"STEPS-{tag}", "1 Mall Road", "Lahore")
    raw = keys.issue_key(hotel.id, ["checkins:post"], "bench", "bench").raw_key
    rng = random.Random(seed + 13)
    steps: dict[str, list[float]] = {}

    def timed(step: str, work: Callable[[], T]) -> T:
        began = time.perf_counter()
        result = work()
        steps.setdefault(step, []).append((time.perf_counter() - began) * 1000)
        return result

    for i in range(count + 20):
        body = checkin_body(f"STEP-{tag}-{i}", cnic_of(rng.randint(1, size * 2)), rng)
        new = NewCheckin(
            booking_ref=body["booking_ref"],
            guest_name=body["guest_name"],
            cnic=normalise_cnic(body["cnic"]),
            phone=None,
            room=body["room"],
            guests=body["guests"],
            checked_in_at=datetime.fromisoformat(body["checked_in_at"]),
            expected_checkout_at=None,
            photo_jpeg=None,
        )
        timed("key check", lambda: keys.verify(raw))
        ack, _ = timed("insert check-in", lambda: checkins.record(hotel.id, new, "bench"))  # noqa: B023
        timed("audit entry", lambda: audit.record("bench", "checkins.post", f"checkin:{ack.id}"))  # noqa: B023
        timed("CNIC lookup", lambda: persons.by_cnic(new.cnic))  # noqa: B023
        timed("mark screened", lambda: checkins.mark_screened(ack.id, {"subjects": []}))  # noqa: B023
        if i == 19:
            steps.clear()  # the first 20 warm up
    engine.dispose()
    print(f"\nserver-side steps of one check-in, in-process, sequential, {count} check-ins (ms):")
    print(f"  {'step':<18}{'p50':>7}{'p99':>7}")
    for step, values in steps.items():
        print(f"  {step:<18}{percentile(values, 50):>7.2f}{percentile(values, 99):>7.2f}")
    total = [sum(v) for v in zip(*steps.values(), strict=True)]
    print(f"  {'all five':<18}{percentile(total, 50):>7.2f}{percentile(total, 99):>7.2f}")


@dataclass
class Post:
    body: dict[str, Any]
    person_id: int | None  # the wanted person checking in, or None for a guest not on the record
    repeat: bool


@dataclass
class Level:
    concurrency: int
    hotel_id: int
    posts: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0  # the command centre's CPU time while posting and screening
    client_cpu_s: float = 0.0  # this process's (load generator and WebSocket listener)
    http_ms: list[float] = field(default_factory=list)
    repeat_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    repeat_wrong: int = 0
    sent_at: dict[int, float] = field(default_factory=dict)
    alert_at: dict[int, float] = field(default_factory=dict)
    updated_events: int = 0
    screened_ms: list[float] = field(default_factory=list)
    unscreened: int = 0
    alerts_stored: int = 0
    alerts_wrong: int = 0

    @property
    def alert_ms(self) -> list[float]:
        return [(self.alert_at[p] - s) * 1000 for p, s in self.sent_at.items() if p in self.alert_at]


def checkin_body(booking: str, cnic: str, rng: random.Random) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(minutes=rng.randint(1, 120))
    return {
        "booking_ref": booking,
        "guest_name": str(generate(rng, 0)["name"]),
        "cnic": cnic if rng.random() < 0.5 else cnic.replace("-", ""),
        "phone": f"03{rng.randrange(10**9):09d}",
        "room": str(rng.randint(101, 940)),
        "guests": rng.choice((1, 1, 2, 2, 3)),
        "checked_in_at": at.isoformat(),
        "expected_checkout_at": (at + timedelta(days=rng.randint(1, 5))).isoformat(),
    }


def plan(
    tag: str, count: int, wanted_pool: list[int], size: int, args: argparse.Namespace, rng: random.Random
) -> list[Post]:
    posts = []
    for i in range(count):
        person = wanted_pool.pop() if wanted_pool and rng.random() < args.wanted_share else None
        cnic = cnic_of(person) if person is not None else cnic_of(size + 1 + rng.randrange(10**9))
        body = checkin_body(f"BK-{tag}-{i}", cnic, rng)
        posts.append(Post(body, person, rng.random() < args.repeat_share))
    return posts


async def read_alerts(ws: Any, camera: str, level: Level) -> None:
    async for raw in ws:
        arrived = time.perf_counter()
        event = json.loads(raw)
        if event.get("camera_id") != camera:
            continue  # other systems on the shared NATS
        if event.get("kind") == "created":
            level.alert_at.setdefault(int(event["alert"]["profile_id"]), arrived)
        else:
            level.updated_events += 1


async def post_all(base: str, key: str, posts: list[Post], level: Level) -> None:
    queue: asyncio.Queue[Post] = asyncio.Queue()
    for post in posts:
        queue.put_nowait(post)

    async def client_loop(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            post = queue.get_nowait()
            began = time.perf_counter()
            if post.person_id is not None:
                level.sent_at[post.person_id] = began
            first = await http.post("/checkins", json=post.body)
            level.http_ms.append((time.perf_counter() - began) * 1000)
            level.posts += 1
            if first.status_code != 201:
                level.errors[f"{first.status_code} {first.text[:80]}"] += 1
                continue
            if post.repeat:
                began = time.perf_counter()
                again = await http.post("/checkins", json=post.body)
                level.repeat_ms.append((time.perf_counter() - began) * 1000)
                level.posts += 1
                level.repeat_wrong += again.status_code != 200 or again.json() != first.json()

    limits = httpx.Limits(max_connections=level.concurrency, max_keepalive_connections=level.concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": key}, timeout=60, limits=limits
    ) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client_loop(http) for _ in range(level.concurrency)))
        level.wall_s = time.perf_counter() - began


async def run_level(
    system: LiveSystem, token: str, key: str, level: Level, warmup: list[Post], posts: list[Post]
) -> None:
    camera = f"hotel-{level.hotel_id}"
    offered = [Subprotocol("bearer"), Subprotocol(token)]
    async with websockets.connect(f"{system.ws_base}/ws/alerts", subprotocols=offered) as ws:
        reader = asyncio.create_task(read_alerts(ws, camera, level))
        await post_all(system.base, key, warmup, Level(level.concurrency, level.hotel_id))
        await asyncio.sleep(1.0)  # let the warm-up's screening finish
        server, client = system.server_cpu_s(), time.process_time()
        await post_all(system.base, key, posts, level)
        deadline = time.monotonic() + 60
        while len(level.alert_at) < len(level.sent_at) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        level.server_cpu_s = system.server_cpu_s() - server
        level.client_cpu_s = time.process_time() - client
        await asyncio.sleep(1.0)  # would a repeat raise a second alert?
        reader.cancel()


def screened(url: str, level: Level) -> None:
    """Wait for screening of the hotel's check-ins to finish; received → screened, server's clock."""
    query = (
        "SELECT extract(epoch FROM screened_at - received_at) * 1000 FROM hotel_checkins "
        "WHERE hotel_id = %s AND booking_ref NOT LIKE 'WARM-%%'"
    )
    deadline = time.monotonic() + 120
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            values = [r[0] for r in conn.execute(query, (level.hotel_id,))]
            level.unscreened = sum(v is None for v in values)
            if not level.unscreened or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    level.screened_ms = [float(v) for v in values if v is not None]


def stored_alerts(system: LiveSystem, token: str, level: Level) -> None:
    """Check-in alerts stored for the hotel, read as the supervisor reads them (GET /alerts)."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"camera_id": f"hotel-{level.hotel_id}", "kind": "checkin", "limit": 200}
    with httpx.Client(base_url=system.base, headers={"Authorization": f"Bearer {token}"}) as http:
        while True:
            page = http.get("/alerts", params=params).raise_for_status().json()["alerts"]
            found += page
            if len(page) < params["limit"]:
                break
            params["before_id"] = page[-1]["id"]
    people = Counter(a["profile_id"] for a in found)
    level.alerts_stored = len(found)
    level.alerts_wrong = sum(
        a["hit_count"] != 1 or people[a["profile_id"]] != 1 or a["profile_id"] not in level.sent_at
        for a in found
    ) + len(set(level.sent_at) - set(people))


def report(levels: list[Level]) -> None:
    print("\nhotel check-ins over HTTP (the real command centre, one process; PostgreSQL):")
    print(
        f"  {'conc':>4}{'posts':>7}{'new/s':>8}{'req/s':>8} | {'HTTP p50':>8}{'p99':>7}{'repeat p50':>11}"
        f"{'p99':>7} | {'wanted':>6}{'POST→alert p50':>15}{'p99':>7} | {'recv→screened p50':>18}{'p99':>7}"
    )
    for lv in levels:
        new = len(lv.http_ms)
        print(
            f"  {lv.concurrency:>4}{lv.posts:>7}{new / lv.wall_s:>8.1f}{lv.posts / lv.wall_s:>8.1f} | "
            f"{percentile(lv.http_ms, 50):>8.1f}{percentile(lv.http_ms, 99):>7.1f}"
            f"{percentile(lv.repeat_ms, 50):>11.1f}{percentile(lv.repeat_ms, 99):>7.1f} | "
            f"{len(lv.sent_at):>6}{percentile(lv.alert_ms, 50):>15.1f}{percentile(lv.alert_ms, 99):>7.1f} | "
            f"{percentile(lv.screened_ms, 50):>18.1f}{percentile(lv.screened_ms, 99):>7.1f}"
        )
    print("  (latencies in ms; new/s = first posts per second, req/s counts the repeats too)")
    print("\nCPU per check-in (posting + screening; the machine has 2 cores, shared):")
    for lv in levels:
        new = len(lv.http_ms)
        print(
            f"  conc {lv.concurrency:>2}: command centre {lv.server_cpu_s / new * 1000:5.1f} ms "
            f"({lv.server_cpu_s / lv.wall_s:4.0%} of a core), load generator "
            f"{lv.client_cpu_s / new * 1000:5.1f} ms ({lv.client_cpu_s / lv.wall_s:4.0%} of a core)"
        )
    print("\nchecks per level:")
    for lv in levels:
        p99 = percentile(lv.http_ms, 99)
        verdict = "holds" if p99 <= TARGET_P99_MS else "FAILS"
        errors = ", ".join(f"{n} x {what}" for what, n in lv.errors.items()) or "none"
        print(
            f"  conc {lv.concurrency:>2}: HTTP p99 {p99:.1f} ms → p99 ≤ {TARGET_P99_MS:.0f} ms {verdict}; "
            f"errors {errors}; repeats {len(lv.repeat_ms)}, answered wrongly {lv.repeat_wrong}; "
            f"alerts {lv.alerts_stored} for {len(lv.sent_at)} wanted guests "
            f"({len(lv.alert_at)} seen live, {lv.alerts_wrong} wrong, {lv.updated_events} updates); "
            f"unscreened {lv.unscreened}"
        )
    best = [lv for lv in levels if percentile(lv.http_ms, 99) <= TARGET_P99_MS]
    if best:
        top = max(best, key=lambda lv: len(lv.http_ms) / lv.wall_s)
        print(
            f"\nhighest rate with HTTP p99 ≤ {TARGET_P99_MS:.0f} ms: {len(top.http_ms) / top.wall_s:.0f} "
            f"check-ins/s at concurrency {top.concurrency}"
        )
    else:
        print(f"\nno level kept HTTP p99 ≤ {TARGET_P99_MS:.0f} ms")


def run_http(url: str, size: int, wanted: list[int], args: argparse.Namespace) -> list[Level]:
    rng = random.Random(args.seed + 5)
    pool = list(wanted)
    rng.shuffle(pool)
    levels = []
    with live_command_centre(url, own_nats=args.own_nats) as system:
        token = system.staff_token("supervisor")
        for concurrency in args.concurrency:
            tag = uuid.uuid4().hex[:6]
            hotel = system.cli_json(
                "integrations", "add-hotel", "--name", f"Bench Inn {tag}", "--licence", f"BENCH-{tag}",
                "--address", "12 Mall Road", "--district", "Lahore", "--lat", "31.55", "--lon", "74.34",
            )  # fmt: skip
            key = system.cli_json("integrations", "issue-key", str(hotel["id"]), "--label", "bench PMS")
            level = Level(concurrency, int(hotel["id"]))
            needed = round(args.count * args.wanted_share * 1.5) + 10
            if len(pool) < needed:
                raise SystemExit(f"only {len(pool)} wanted persons left; lower --wanted-share or --count")
            warmup = [
                Post(
                    checkin_body(f"WARM-{tag}-{i}", cnic_of(size + 1 + rng.randrange(10**9)), rng),
                    None,
                    False,
                )
                for i in range(args.warmup)
            ]
            posts = plan(tag, args.count, pool, size, args, rng)
            print(f"  concurrency {concurrency}: {len(posts)} check-ins to hotel {hotel['id']}", flush=True)
            asyncio.run(run_level(system, token, key["api_key"], level, warmup, posts))
            screened(url, level)
            stored_alerts(system, token, level)
            levels.append(level)
    with psycopg.connect(url) as conn:
        foreign = conn.execute("SELECT count(*) FROM alerts WHERE camera_id NOT LIKE 'hotel-%%'").fetchone()
    print(f"  alerts from other systems' hits stored by the bench's command centre meanwhile: {foreign[0]}")  # type: ignore[index]
    return levels


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_500_000, help="CRO persons to load")
    parser.add_argument("--wanted", type=float, default=0.01, help="share of CRO persons in 'wanted'")
    parser.add_argument("--lookups", type=int, default=10_000, help="raw lookups, on and off the record")
    parser.add_argument("--count", type=int, default=2000, help="check-ins per concurrency level")
    parser.add_argument(
        "--concurrency", type=lambda s: [int(v) for v in s.split(",")], default=[1, 4, 16], help="e.g. 1,4,16"
    )
    parser.add_argument("--wanted-share", type=float, default=0.02, help="share of guests who are wanted")
    parser.add_argument("--repeat-share", type=float, default=0.05, help="share of check-ins posted twice")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured check-ins before each level")
    parser.add_argument("--steps", type=int, default=500, help="check-ins for the in-process step split")
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument(
        "--admin-url", default=ADMIN_URL, help="PostgreSQL database to create the bench DB from"
    )
    parser.add_argument(
        "--own-nats",
        action="store_true",
        help="a private NATS server instead of the machine's, whose other users' hits would reach the bench",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (rerun with --reuse)")
    parser.add_argument("--reuse", action="store_true", help="use the kept database without loading")
    args = parser.parse_args()
    with bench_database(args.admin_url, DB_NAME, create=not args.reuse, keep=args.keep or args.reuse) as url:
        if not args.reuse:
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            print(f"loading {args.size:,} CRO persons with CNICs into {DB_NAME}")
            load_s = load(url, args.size, args.wanted, args.seed)
            print(f"load (COPY, unique CNIC index maintained) {load_s:.0f}s")
        size, wanted = describe(url)
        assert normalise_cnic(cnic_of(size).replace("-", "")) == cnic_of(size)
        raw_lookups(url, size, args.lookups, args.seed)
        print(
            f"\nposting: {args.count} check-ins per level, {args.wanted_share:.0%} wanted guests, "
            f"{args.repeat_share:.0%} posted twice, {args.warmup} warm-up check-ins first"
        )
        report(run_http(url, size, wanted, args))
        server_steps(url, size, args.steps, args.seed)


if __name__ == "__main__":
    main()
