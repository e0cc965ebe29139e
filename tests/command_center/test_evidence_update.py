"""A face hit's sharper images after the hit, end to end on real NATS: the worker's publisher sends the hit
and then its main-stream images; the command centre puts them on the one alert, in place, audited, and
tells the console; images for a hit it does not have are dropped with a log line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy
from websockets.asyncio.client import ClientConnection, connect

from command_center.app import create_app
from pipeline.settings import Settings
from tests.command_center.helpers import (
    Served,
    camera,
    eventually,
    hit,
    jpeg,
    main_stream_images,
    serve,
    settings_for,
    ws_auth,
)
from tests.names import subjects
from workers.publisher import HitPublisher, Outgoing


@pytest.fixture
async def served(
    database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, nc: Client
) -> AsyncIterator[Served]:
    """The command centre, retrying what it cannot store yet every 0.1 s (not 5 s), so that images for an
    unknown hit are given up within a test's time."""
    settings: Settings = settings_for(
        database_url, nats_url, tmp_path, models_dir, redis_url=redis_url, hits_retry_delay_s=0.1
    )
    async with serve(create_app(settings, hits_deliver_policy=DeliverPolicy.NEW)) as running:
        yield running
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(subjects.hits_stream, settings.command_center.consumer_name)


@contextlib.asynccontextmanager
async def worker_publisher(nc: Client) -> AsyncIterator[HitPublisher]:
    """The worker's own publisher (JetStream, message ids, in submission order), running until the end."""
    publisher = HitPublisher(nc.jetstream(), subjects, asyncio.get_running_loop())
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        yield publisher
    finally:
        stop.set()
        await task


async def next_event(ws: ClientConnection, alert_id: int | None = None) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if alert_id is None or event.get("alert_id") == alert_id:
            return event


async def test_the_main_streams_images_sharpen_the_alert_in_place(served: Served, nc: Client) -> None:
    cam = camera()
    first, main_crop = hit(cam, crop=jpeg((0, 0, 255))), jpeg((0, 255, 0), 128)
    update = main_stream_images(first, main_crop)
    async with (
        connect(f"{served.ws_url}/ws/alerts", subprotocols=ws_auth(served.token)) as ws,
        worker_publisher(nc) as publisher,
    ):
        await eventually(lambda: _has_clients(served))
        again = update.model_copy(update={"event_id": uuid.uuid4()})  # as a restarted worker might
        outgoing: list[Outgoing] = [first, update, again]  # the same images twice change nothing more
        for message in outgoing:
            publisher.submit(message)
        created = await next_event(ws)
        assert created["kind"] == "created" and created["camera_id"] == cam
        assert created["alert"]["details"].get("evidence") is None  # the sub-stream's images, at once
        updated = await next_event(ws, created["alert_id"])
    alert = updated["alert"]
    assert updated["kind"] == "updated" and alert["details"]["evidence"]["stream"] == "main"
    assert alert["updated_at"] > created["alert"]["updated_at"]  # the console reloads the crop
    assert (alert["hit_count"], alert["best_similarity"]) == (1, created["alert"]["best_similarity"])
    listed = (await served.http.get("/alerts", params={"camera_id": cam})).json()["alerts"]
    assert [a["id"] for a in listed] == [created["alert_id"]]  # never a second alert
    crop = await served.http.get(f"/alerts/{created['alert_id']}/evidence/crop")
    assert crop.content == main_crop
    stats = served.app.state.services.consumer.stats
    await eventually(lambda: _counted(stats.evidence, {"applied": 1, "duplicate": 1}))


async def test_images_for_a_hit_never_stored_are_dropped_with_a_log_line(
    served: Served, nc: Client, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = main_stream_images(hit(camera(), event_id=uuid.uuid4()), jpeg((1, 2, 3)))
    stats = served.app.state.services.consumer.stats
    with caplog.at_level(logging.INFO, logger="command_center.alerts.consumer"):
        await nc.jetstream().publish(subjects.face_evidence(stranger.camera_id), stranger.to_bytes())
        await eventually(lambda: _counted(stats.evidence, {"unknown": 1}))
    assert f"evidence of hit {stranger.hit_id} dropped: no alert has that hit" in caplog.text
    assert stats.invalid == 0 and served.app.state.services.consumer.dead_lettered == 0


async def _has_clients(served: Served) -> bool:
    return bool(served.app.state.services.feed.client_count)


async def _counted(found: dict[str, int], expected: dict[str, int]) -> bool:
    return found == expected
