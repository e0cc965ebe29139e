"""Hits and plate reads from a camera the deployment does not know (another system's on a shared NATS, a
forged publisher) are dead-lettered with the reason, never shown; a camera added to the catalogue while
everything runs is accepted at once (real NATS JetStream, both databases)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from command_center.admin.deadletters import DeadLetters
from command_center.app import create_app
from pipeline.adapters.fleet import camera_bytes, open_catalogue
from pipeline.settings import CameraConfig, Settings
from tests.command_center.helpers import Served, camera, eventually, hit, serve
from tests.command_center.test_plate_reads import plate_read
from tests.names import subjects


@pytest.fixture
async def strict(settings: Settings, nc: Client) -> AsyncIterator[tuple[Served, str, str]]:
    """A command centre that knows one configured camera and a fleet catalogue of its own."""
    known, fleet = camera(), f"unk{uuid.uuid4().hex[:8]}"
    configured = CameraConfig(id=known, url=f"rtsp://127.0.0.1/{known}", district="Islamabad")
    update = {
        "cameras": [configured],
        "worker": settings.worker.model_copy(update={"fleet": fleet}),
        "command_center": settings.command_center.model_copy(update={"unknown_cameras": "dead_letter"}),
    }
    app = create_app(settings.model_copy(update=update), hits_deliver_policy=DeliverPolicy.NEW)
    async with serve(app) as served:
        yield served, known, fleet
    name = settings.command_center.consumer_name
    for stream, consumer in ((subjects.hits_stream, name), (subjects.plates_stream, f"{name}-plates")):
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_consumer(stream, consumer)


async def alerts_on(served: Served, cam: str) -> list[dict[str, Any]]:
    response = await served.http.get("/alerts", params={"camera_id": cam})
    assert response.status_code == 200, response.text
    return list(response.json()["alerts"])


async def test_an_unknown_cameras_hits_and_reads_are_dead_lettered_and_a_known_ones_alert(
    strict: tuple[Served, str, str], nc: Client
) -> None:
    served, known, _ = strict
    stranger = camera()
    js = nc.jetstream()
    await js.publish(subjects.hits("face", stranger), hit(stranger, profile_id=31).to_bytes())
    await js.publish(subjects.plates_read(stranger), plate_read(stranger, "LEB1234", "LEB-1234").to_bytes())
    await js.publish(subjects.hits("face", known), hit(known, profile_id=32).to_bytes())

    [alert] = await eventually(lambda: alerts_on(served, known), 20)
    assert alert["profile_id"] == 32 and alert["district"] == "Islamabad"

    letters = DeadLetters(js, subjects)
    wanted = {subjects.hits("face", stranger), subjects.plates_read(stranger)}

    async def set_aside() -> list[Any] | None:
        mine = [d for d in await letters.list(limit=100_000) if d.original_subject in wanted]
        return mine if len(mine) == 2 else None

    letters_of_stranger = await eventually(set_aside, 30)  # five tries a second apart first
    assert all(f"unknown camera {stranger!r}" in d.error for d in letters_of_stranger)
    assert await alerts_on(served, stranger) == []
    services = served.app.state.services
    assert services.consumer.unknown_cameras == 1 and services.plate_reads.unknown_cameras == 1


async def test_a_camera_added_to_the_catalogue_is_accepted_at_once(
    strict: tuple[Served, str, str], nc: Client
) -> None:
    served, _, fleet = strict
    added = camera()
    kv = await open_catalogue(nc.jetstream(), subjects, fleet)
    try:
        entry = CameraConfig(id=added, url=f"rtsp://127.0.0.1/{added}", district="Lahore")
        await kv.put(added, camera_bytes(entry))
        # Published at once: the directory may see the camera a moment after its first hit arrives.
        await nc.jetstream().publish(subjects.hits("face", added), hit(added, profile_id=33).to_bytes())
        [alert] = await eventually(lambda: alerts_on(served, added), 20)
        assert alert["district"] == "Lahore"
    finally:
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_key_value(subjects.cameras_bucket(fleet))
