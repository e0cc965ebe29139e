"""Two deployments on one NATS server, told apart only by ``nats.subject_prefix``: a hit published in one
never becomes an alert (or a dead letter) in the other, and their camera catalogues, leases and watchlist
snapshots are their own (real NATS JetStream; a command centre of each, as create_app builds it)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from command_center.admin.deadletters import DeadLetters
from command_center.app import create_app
from pipeline.adapters.fleet import CameraLease, camera_bytes, open_buckets, open_catalogue, snapshot
from pipeline.settings import CameraConfig, Settings
from pipeline.settings.nats import NatsSettings
from pipeline.subjects import Subjects
from tests.command_center.helpers import Served, camera, eventually, hit, serve, settings_for
from tests.workers.test_watchlist_snapshot import enrol, fresh_store, publish, unit
from watchlist import snapshot_store
from watchlist.snapshot_store import SnapshotUnavailable
from workers.publisher import subject_of


@dataclass
class Deployment:
    served: Served
    settings: Settings
    names: Subjects
    letters: DeadLetters

    async def alerts(self, cam: str) -> list[dict[str, Any]]:
        response = await self.served.http.get("/alerts", params={"camera_id": cam})
        assert response.status_code == 200, response.text
        return list(response.json()["alerts"])


async def _forget(nc: Client, prefix: str) -> None:
    """Remove the streams, buckets and object stores a test deployment made (the machine's NATS is shared)."""
    js = nc.jetstream()
    for stream in await js.streams_info():
        name = stream.config.name or ""
        if name.startswith((f"{prefix.upper()}_", f"KV_{prefix}_", f"OBJ_{prefix}_")):
            with contextlib.suppress(Exception):
                await js.delete_stream(name)


@pytest.fixture
async def two(
    nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, nc: Client
) -> AsyncIterator[tuple[Deployment, Deployment, str]]:
    """Deployments a and b on one NATS, each with its own database, both knowing a camera of one id (two
    cities may well both have a "cam-1"); hits from cameras they do not know are dead-lettered."""
    tag, known = uuid.uuid4().hex[:8], camera()
    cameras = [{"id": known, "url": f"rtsp://127.0.0.1/{known}", "district": "Islamabad"}]
    async with contextlib.AsyncExitStack() as stack:
        made = []
        for name in ("a", "b"):
            home = tmp_path / name
            home.mkdir()
            base = settings_for(
                f"sqlite:///{home / 'db.sqlite'}",
                nats_url,
                home,
                models_dir,
                redis_url=redis_url,
                cameras=cameras,
            )
            settings = base.model_copy(update={"nats": NatsSettings(subject_prefix=f"{name}{tag}")})
            stack.push_async_callback(_forget, nc, settings.nats.subject_prefix)
            app = create_app(settings, hits_deliver_policy=DeliverPolicy.ALL)
            served = await stack.enter_async_context(serve(app))
            names = settings.nats.subjects
            made.append(Deployment(served, settings, names, DeadLetters(nc.jetstream(), names)))
        yield made[0], made[1], known


async def test_a_hit_in_one_deployment_is_never_an_alert_or_a_dead_letter_in_the_other(
    two: tuple[Deployment, Deployment, str], nc: Client
) -> None:
    a, b, known = two
    js = nc.jetstream()
    stranger = camera()
    # What a's worker publishes (workers.publisher): a hit from the camera both know, one from a camera
    # a does not know; then b's own hit, which b must show (so b is listening, not merely deaf).
    from_a = hit(known, profile_id=41)
    await js.publish(subject_of(a.names, from_a), from_a.to_bytes())
    await js.publish(a.names.hits("face", stranger), hit(stranger, profile_id=42).to_bytes())
    [alert_a] = await eventually(lambda: a.alerts(known), 20)
    assert alert_a["profile_id"] == 41

    from_b = hit(known, profile_id=43)
    await js.publish(subject_of(b.names, from_b), from_b.to_bytes())
    [alert_b] = await eventually(lambda: b.alerts(known), 20)
    assert alert_b["profile_id"] == 43, "b shows its own hit only, never a's from the same camera id"
    assert [x["profile_id"] for x in await a.alerts(known)] == [41]

    async def a_set_aside() -> list[Any]:
        return await a.letters.list()

    [letter] = await eventually(a_set_aside, 30)
    assert letter.original_subject == a.names.hits("face", stranger)
    assert await b.letters.count() == 0
    assert b.served.app.state.services.consumer.unknown_cameras == 0


async def test_camera_catalogues_leases_and_watchlist_snapshots_are_each_deployments_own(
    two: tuple[Deployment, Deployment, str], nc: Client
) -> None:
    a, b, _ = two
    js = nc.jetstream()
    fleet = a.settings.worker.fleet  # the one its command centre follows (both use the same name)
    # A camera added to a's catalogue: a takes its hits, b (whose catalogue lacks it) dead-letters them.
    added = camera()
    catalogue_a = await open_catalogue(js, a.names, fleet)
    await catalogue_a.put(
        added, camera_bytes(CameraConfig(id=added, url=f"rtsp://x/{added}", district="Lahore"))
    )
    await js.publish(a.names.hits("face", added), hit(added, profile_id=51).to_bytes())
    await js.publish(b.names.hits("face", added), hit(added, profile_id=52).to_bytes())
    [alert] = await eventually(lambda: a.alerts(added), 20)
    assert alert["district"] == "Lahore"
    [letter] = await eventually(b.letters.list, 30)
    assert letter.original_subject == b.names.hits("face", added) and await b.alerts(added) == []

    # A lease held in a is not seen in b: b's workers would analyse the camera too, as they should.
    buckets_a = await open_buckets(js, a.names, fleet, 5.0)
    buckets_b = await open_buckets(js, b.names, fleet, 5.0)
    await buckets_a.leases.create(added, CameraLease(worker_id="worker-a").to_bytes())
    assert list(await snapshot(buckets_a.leases)) == [added]
    assert await snapshot(buckets_b.leases) == {}
    await buckets_b.leases.create(added, CameraLease(worker_id="worker-b").to_bytes())  # not refused

    # A watchlist snapshot published by a is in a's object store only.
    store = fresh_store(f"sqlite:///{a.settings.data_dir / 'watchlist.sqlite'}")
    enrol(store, unit(np.random.default_rng(3), 8))
    name = await publish(nc, store, a.settings)
    bucket_a = a.names.watchlist_snapshots_bucket(a.settings.watchlist.snapshots.bucket)
    bucket_b = b.names.watchlist_snapshots_bucket(b.settings.watchlist.snapshots.bucket)
    assert bucket_a != bucket_b
    assert [s.name for s in await snapshot_store.list_snapshots(js, bucket_a)] == [name]
    with pytest.raises(SnapshotUnavailable):  # b has published none: its store does not even exist
        await snapshot_store.list_snapshots(js, bucket_b)
