"""Builders for lifecycle and dispatch tests: a city with cameras at known places, units, officers, alerts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from nats.aio.client import Client
from nats.js.api import DeliverPolicy
from websockets.asyncio.client import ClientConnection, connect

from command_center.app import create_app
from command_center.dispatch.officer_channel import consumer_name
from command_center.security.permissions import Role
from command_center.security.users import StaffUser
from pipeline.contracts import Box, PlateHit
from pipeline.settings import CameraConfig, EpisodePolicy, Settings
from pipeline.settings.dispatch import DispatchSettings
from tests.command_center.helpers import Served, add_user, bearer, hit, jpeg, serve, ws_auth
from tests.names import subjects

# A camera in Islamabad; a degree of latitude is ~111.2 km.
CAMERA_LAT, CAMERA_LON = 33.7000, 73.0500
M_PER_DEG_LAT = 111_195.0


def north_of_camera(metres: float) -> tuple[float, float]:
    return CAMERA_LAT + metres / M_PER_DEG_LAT, CAMERA_LON


def east_of_camera(metres: float) -> tuple[float, float]:
    return CAMERA_LAT, CAMERA_LON + metres / (M_PER_DEG_LAT * math.cos(math.radians(CAMERA_LAT)))


@dataclass
class City:
    """Two districts, a camera in each (the second one without a position), tagged for this test."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def district(self) -> str:
        return f"North {self.tag}"

    @property
    def other_district(self) -> str:
        return f"South {self.tag}"

    @property
    def camera(self) -> str:
        return f"cam-n-{self.tag}"

    @property
    def blind_camera(self) -> str:
        return f"cam-b-{self.tag}"

    def cameras(self) -> list[CameraConfig]:
        return [
            CameraConfig(
                id=self.camera,
                name="Blue Area Chowk",
                url="rtsp://127.0.0.1/n",
                district=self.district,
                latitude=CAMERA_LAT,
                longitude=CAMERA_LON,
            ),
            CameraConfig(id=self.blind_camera, url="rtsp://127.0.0.1/b", district=self.district),
        ]

    def unit(self, name: str) -> str:
        return f"U-{self.tag}-{name}"


def with_dispatch(settings: Settings, city: City, **dispatch: Any) -> Settings:
    """Settings for a city; dispatch settings are validated, Redis keys private to the test.

    Auto-dispatch is off unless a test asks for it: most tests send units themselves, and the default
    policy (priority 1, i.e. "wanted") would otherwise take their units first."""
    values = {
        "redis_prefix": f"test:patrol:{city.tag}",
        "tick_s": 0.1,
        "auto_dispatch_max_priority": 0,
        **dispatch,
    }
    # The configured priorities of the categories: wanted 1 (most urgent), missing 2, others 3.
    episodes = {"wanted": EpisodePolicy(priority=1), "missing": EpisodePolicy(priority=2)}
    command_center = settings.command_center.model_copy(update={"episodes": episodes})
    return settings.model_copy(
        update={
            "cameras": city.cameras(),
            "command_center": command_center,
            "dispatch": DispatchSettings.model_validate(values),
        }
    )


@contextlib.asynccontextmanager
async def serve_city(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    async with serve(create_app(settings, hits_deliver_policy=DeliverPolicy.NEW)) as running:
        yield running
    js = nc.jetstream()
    with contextlib.suppress(Exception):
        await js.delete_consumer(subjects.hits_stream, settings.command_center.consumer_name)
    with contextlib.suppress(Exception):
        await js.delete_consumer(subjects.plates_stream, f"{settings.command_center.consumer_name}-plates")


@dataclass
class Crew:
    unit_id: str
    officer: StaffUser
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


async def token_of(served: Served, user: StaffUser) -> str:
    pair = await served.app.state.services.auth.open_session(user)
    token: str = pair.access_token
    return token


async def staff(served: Served, role: Role, *districts: str) -> dict[str, str]:
    user = await add_user(served.app, role, districts)
    return bearer(await token_of(served, user))


async def add_unit(served: Served, unit_id: str, district: str, duty_status: str = "available") -> Crew:
    """A unit with one officer, made through the API as a supervisor would."""
    body = {"id": unit_id, "name": f"Mobile {unit_id}", "district": district, "duty_status": duty_status}
    created = await served.http.post("/patrol/units", json=body)
    assert created.status_code == 201, created.text
    officer = await add_user(served.app, Role.PATROL_OFFICER, (district,), name="Constable Test")
    crew = await served.http.post(f"/patrol/units/{unit_id}/crew", json={"officer_ids": [officer.id]})
    assert crew.status_code == 200, crew.text
    return Crew(unit_id, officer, await token_of(served, officer))


async def report(
    served: Served, crew: Crew, at: tuple[float, float], recorded_at: float | None = None
) -> str:
    body: dict[str, Any] = {"latitude": at[0], "longitude": at[1]}
    if recorded_at is not None:
        body["recorded_at"] = datetime.fromtimestamp(recorded_at, UTC).isoformat()
    response = await served.http.post("/patrol/position", json=body, headers=crew.headers)
    assert response.status_code == 200, response.text
    outcome: str = response.json()["outcome"]
    return outcome


async def open_alert(served: Served, camera_id: str, profile_id: int = 7, category: str = "wanted") -> int:
    """An alert as the hit consumer would store it (straight into the store: no NATS in between)."""
    found = hit(camera_id, profile_id=profile_id)
    found = found.model_copy(update={"category": category})
    outcome = await asyncio.to_thread(served.app.state.services.alerts.record_hit, found, datetime.now(UTC))
    alert_id: int = outcome.alert.id
    return alert_id


async def open_plate_alert(
    served: Served, camera_id: str, *, entry_id: int, plate: str, status: str, reason: str, case: str
) -> int:
    """A vehicle-hotlist alert as the plate matcher would raise it (straight into the store)."""
    found = PlateHit(
        camera_id=camera_id,
        read_id=uuid.uuid4(),
        worker_id="worker-test",
        track_id=1,
        read_text=plate,
        read_display=plate,
        read_confidence=0.93,
        entry_id=entry_id,
        plate=plate,
        plate_display=plate,
        status=status,
        priority=1,
        reason=reason,
        case_reference=case,
        match_kind="exact",
        match_score=1.0,
        captured_at=datetime.now(UTC),
        box=Box(x=1, y=2, w=100, h=30),
        detector_score=0.8,
        crop_jpeg=jpeg((0, 200, 0)),
        scene_jpeg=jpeg((40, 40, 40), 96),
    )
    outcome = await asyncio.to_thread(served.app.state.services.alerts.record_hit, found, datetime.now(UTC))
    alert_id: int = outcome.alert.id
    return alert_id


def officer_socket(served: Served, crew: Crew) -> connect:
    return connect(f"{served.ws_url}/ws/officer", subprotocols=ws_auth(crew.token))


async def next_message(ws: ClientConnection, within_s: float = 10.0, **match: Any) -> dict[str, Any]:
    """The next JSON message whose fields equal ``match``."""
    async with asyncio.timeout(within_s):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if all(message.get(k) == v for k, v in match.items()):
                return message


async def feed_events(
    ws: ClientConnection, camera_id: str, kind: str, within_s: float = 10.0
) -> dict[str, Any]:
    """The next AlertEvent of ``kind`` about this test's camera on /ws/alerts."""
    async with asyncio.timeout(within_s):
        while True:
            event: dict[str, Any] = json.loads(await ws.recv())
            if event.get("camera_id") == camera_id and event.get("kind") == kind:
                return event


async def forget_officer_channel(nc: Client, crew: Crew) -> None:
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(
            subjects.dispatch_stream, consumer_name(crew.officer.government_id)
        )


async def lifecycle(http: httpx.AsyncClient, alert_id: int) -> dict[str, Any]:
    response = await http.get(f"/alerts/{alert_id}/lifecycle")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def now() -> float:
    return time.time()
