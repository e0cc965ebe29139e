"""Camera leases and the catalogue watch against the real NATS KV (a fleet of its own per test)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client

from pipeline.adapters.catalogue_watch import CatalogueWatch
from pipeline.adapters.fleet import (
    CameraLease,
    FleetBuckets,
    camera_bytes,
    import_cameras,
    open_buckets,
    read_catalogue,
    seed_if_empty,
    snapshot,
)
from pipeline.settings import CameraConfig
from tests.names import subjects
from workers.leases import SAFETY_MARGIN_S, LeaseKeeper

TTL_S = 1.5


def camera(i: int) -> CameraConfig:
    return CameraConfig(id=f"cam-{i}", url=f"rtsp://127.0.0.1:1/cam-{i}")


@dataclass
class Member:
    keeper: LeaseKeeper
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    changes: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def halt(self) -> None:
        """Stop without releasing anything (a crash, as far as the others can tell)."""
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@dataclass
class Fleet:
    nc: Client
    name: str
    buckets: FleetBuckets
    members: list[Member] = field(default_factory=list)

    def join(self, worker_id: str) -> Member:
        member = Member(LeaseKeeper(self.buckets, worker_id, lambda: None))

        def changed() -> None:
            member.changes += 1

        member.keeper._on_change = changed
        watch = CatalogueWatch(self.buckets.catalogue, member.keeper.set_catalogue, resync_s=30)
        member.tasks = [
            asyncio.create_task(watch.run(member.stop)),
            asyncio.create_task(member.keeper.run(member.stop)),
        ]
        self.members.append(member)
        return member

    async def owners(self) -> dict[str, str]:
        return {
            k: CameraLease.from_bytes(e.value or b"").worker_id
            for k, e in (await snapshot(self.buckets.leases)).items()
        }


@pytest.fixture
async def fleet(nats_url: str) -> AsyncIterator[Fleet]:
    nc = await nats.connect(nats_url)
    name = f"t{uuid.uuid4().hex[:10]}"
    buckets = await open_buckets(nc.jetstream(), subjects, name, TTL_S)
    f = Fleet(nc, name, buckets)
    try:
        yield f
    finally:
        for member in f.members:
            await member.halt()
        js = nc.jetstream()
        for bucket in (
            subjects.cameras_bucket(name),
            subjects.camera_leases_bucket(name),
            subjects.workers_bucket(name),
        ):
            with contextlib.suppress(Exception):
                await js.delete_key_value(bucket)
        await nc.close()


async def until(check: Callable[[], object], within_s: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not check():
        if loop.time() - start > within_s:
            raise AssertionError(f"not within {within_s}s")
        await asyncio.sleep(0.05)
    return loop.time() - start


def never_shared(members: list[Member]) -> bool:
    held = [c for m in members for c in m.keeper.held]
    return len(held) == len(set(held))


async def test_two_workers_share_fairly_and_a_dead_ones_cameras_move(fleet: Fleet) -> None:
    await import_cameras(fleet.buckets.catalogue, [camera(i) for i in range(4)], replace=False)
    a = fleet.join("worker-a")
    await until(lambda: len(a.keeper.held) == 4, 5)
    b = fleet.join("worker-b")
    took = await until(lambda: len(a.keeper.held) == len(b.keeper.held) == 2, 4 * TTL_S)
    assert never_shared([a, b])
    assert await fleet.owners() == {
        c: ("worker-a" if c in a.keeper.held else "worker-b") for c in fleet_cams(4)
    }
    print(f"newcomer had its fair share after {took:.2f}s")

    await a.halt()  # no release: its leases must lapse
    # Each of its leases is valid (for a) until a TTL after its last renewal was sent, less a margin;
    # the server keeps it at least that long, so nobody may hold the camera sooner.
    lapse = min(lease.valid_until for lease in a.keeper.held.values()) + SAFETY_MARGIN_S
    halted = time.monotonic()
    moved = await until(lambda: len(b.keeper.held) == 4, TTL_S * 2 + 1)
    print(f"a dead worker's cameras moved {moved:.2f}s after it stopped (TTL {TTL_S}s)")
    assert halted + moved >= lapse - 0.05  # they waited for the leases to lapse, not less


def fleet_cams(n: int) -> set[str]:
    return {f"cam-{i}" for i in range(n)}


async def test_a_lease_taken_over_is_dropped_at_once(fleet: Fleet) -> None:
    await import_cameras(fleet.buckets.catalogue, [camera(0)], replace=False)
    a = fleet.join("worker-a")
    await until(lambda: "cam-0" in a.keeper.held, 5)
    changes = a.changes
    # An intruder (say, a worker that believed the lease lapsed) overwrites the lease.
    await fleet.buckets.leases.put("cam-0", CameraLease(worker_id="intruder").to_bytes())
    await until(lambda: "cam-0" not in a.keeper.held, TTL_S)
    assert a.changes > changes and a.keeper.lost_by_reason == {"taken over": 1}
    assert "cam-0" not in a.keeper.desired


async def test_catalogue_edits_take_effect_without_restart(fleet: Fleet) -> None:
    catalogue = fleet.buckets.catalogue
    assert await seed_if_empty(catalogue, [camera(0)]) == 1
    assert await seed_if_empty(catalogue, [camera(1)]) == 0  # seeded once: afterwards the catalogue rules
    a = fleet.join("worker-a")
    await until(lambda: set(a.keeper.desired) == {"cam-0"}, 5)
    await catalogue.put("cam-1", camera_bytes(camera(1)))
    await until(lambda: set(a.keeper.desired) == {"cam-0", "cam-1"}, 2)
    edited = camera(1).model_copy(update={"analysis_fps": 2.0})
    await catalogue.put("cam-1", camera_bytes(edited))
    await until(lambda: a.keeper.desired.get("cam-1") == edited, 2)
    await catalogue.delete("cam-0")
    await until(lambda: set(a.keeper.desired) == {"cam-1"}, 2)
    assert "cam-0" not in await fleet.owners()  # released, not left to lapse
    await catalogue.put("cam-2", b'{"id": "cam-2", "url": "http://not-rtsp"}')
    found = await read_catalogue(catalogue)
    assert "cam-2" in found.invalid and "rtsp" in found.invalid["cam-2"]
    await asyncio.sleep(0.5)
    assert set(a.keeper.desired) == {"cam-1"}  # an invalid camera is never started


def test_a_catalogue_value_names_only_what_differs_from_the_defaults() -> None:
    """An older worker refuses fields it does not know: a camera using no newer feature must not carry
    them (null analysis_url, face_threshold, ...), or a rolling upgrade would drop it from that worker."""
    plain = CameraConfig(id="cam-1", url="rtsp://127.0.0.1:8554/cam-1", district="south")
    value = json.loads(camera_bytes(plain))
    assert value == {"id": "cam-1", "url": "rtsp://127.0.0.1:8554/cam-1", "district": "south"}
    assert CameraConfig.model_validate_json(camera_bytes(plain)) == plain
    tuned = plain.model_copy(update={"face_threshold": 0.7, "analytics": ["face", "plate"]})
    assert json.loads(camera_bytes(tuned))["face_threshold"] == 0.7
    assert CameraConfig.model_validate_json(camera_bytes(tuned)) == tuned
