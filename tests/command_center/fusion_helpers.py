"""A command centre with cameras at known places, and a CRO person whose face and vehicle those cameras see:
the setting of the face + plate fusion and dossier tests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from command_center.app import create_app
from pipeline.settings import CameraConfig, Settings
from tests.command_center.helpers import T0, Served, eventually, hit, serve
from tests.command_center.records_helpers import add_person, watchlist_profile
from tests.command_center.test_plate_reads import add_vehicle, plate_read
from tests.names import subjects
from watchlist.vehicles import VehicleHotlist

# Lahore: the face camera, one 500 m from it, one 5 km from it; in two districts.
PLACES = {"face": (31.5204, 74.3587, "Lahore"), "near": (31.5240, 74.3620, "Lahore")}
PLACES |= {"far": (31.5654, 74.3587, "Lahore"), "east": (31.5210, 74.3600, "Kasur")}


@dataclass(frozen=True, slots=True)
class Cameras:
    ids: dict[str, str]  # place name -> camera id

    def __getitem__(self, place: str) -> str:
        return self.ids[place]


@contextlib.asynccontextmanager
async def served_with_places(settings: Settings, nc: Client) -> AsyncIterator[tuple[Served, Cameras]]:
    tag = uuid.uuid4().hex[:8]
    cameras = Cameras({place: f"{place}-{tag}" for place in PLACES})
    configured = [
        CameraConfig(
            id=cameras[place],
            name=f"{place} road",
            url=f"rtsp://127.0.0.1/{place}",
            district=d,
            **at(lat, lon),
        )
        for place, (lat, lon, d) in PLACES.items()
    ]
    with_cameras = settings.model_copy(update={"cameras": configured})
    async with serve(create_app(with_cameras, hits_deliver_policy=DeliverPolicy.NEW)) as running:
        yield running, cameras
    name = settings.command_center.consumer_name
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(subjects.hits_stream, name)
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(subjects.plates_stream, f"{name}-plates")


def at(latitude: float, longitude: float) -> dict[str, float]:
    return {"latitude": latitude, "longitude": longitude}


@dataclass(frozen=True, slots=True)
class Suspect:
    person_id: int
    profile_id: int
    entry_id: int
    plate: str  # as the hotlist has it, e.g. LEA-1234
    read: str  # as a camera reads it, e.g. LEA1234


async def suspect(served: Served, clerk: httpx.AsyncClient, name: str = "Shahid Butt") -> Suspect:
    """A person with a watchlist profile and a known vehicle on the hotlist (the matcher reloaded)."""
    number = uuid.uuid4().int % 9000 + 1000
    profile_id = await asyncio.to_thread(watchlist_profile, served, name)
    entry_id = await asyncio.to_thread(add_vehicle, served, f"LEA-{number}")
    plates = served.app.state.services.plate_reads
    await asyncio.to_thread(plates.matcher.load, VehicleHotlist(served.app.state.services.engine))
    person = await add_person(
        clerk,
        name,
        watchlist_profile_id=profile_id,
        district="Lahore",
        vehicles=[{"plate": f"LEA {number}", "hotlist_entry_id": entry_id}],
    )
    return Suspect(person["id"], profile_id, entry_id, f"LEA-{number}", f"LEA{number}")


async def alerts_of(served: Served, **params: Any) -> list[dict[str, Any]]:
    page = await served.http.get("/alerts", params=params)
    assert page.status_code == 200, page.text
    found: list[dict[str, Any]] = page.json()["alerts"]
    return found


async def see_face(served: Served, nc: Client, cam: str, who: Suspect, at_s: float = 0.0) -> dict[str, Any]:
    """A face hit of the suspect on ``cam``; returns its alert once stored."""
    seen = hit(cam, profile_id=who.profile_id, at=T0 + timedelta(seconds=at_s))
    await nc.jetstream().publish(subjects.hits("face", cam), seen.to_bytes())
    return await _stored(served, cam, "face", who.profile_id)


async def see_plate(served: Served, nc: Client, cam: str, who: Suspect, at_s: float = 0.0) -> dict[str, Any]:
    """A read of the suspect's plate on ``cam``; returns the plate alert once stored."""
    await nc.jetstream().publish(
        subjects.plates_read(cam), plate_read(cam, who.read, who.plate, at_s=at_s).to_bytes()
    )
    return await _stored(served, cam, "plate", who.entry_id)


async def _stored(served: Served, cam: str, kind: str, subject: int) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        listed = await alerts_of(served, camera_id=cam, kind=kind)
        return next((a for a in listed if a["profile_id"] == subject), None)

    stored: dict[str, Any] = await eventually(found, within_s=30)
    return stored
