"""District scoping: an operator sees only the alerts of cameras in his districts (list, detail, evidence,
timeline, live feed); supervisors and admins see every district, including cameras with none."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from nats.aio.client import Client
from nats.js.api import DeliverPolicy
from websockets.asyncio.client import connect

from command_center.app import create_app
from command_center.security.permissions import Role
from pipeline.settings import CameraConfig, Settings
from tests.command_center.helpers import Served, bearer, eventually, hit, serve, staff_session, ws_auth
from tests.names import subjects


@contextlib.asynccontextmanager
async def served_with_districts(
    settings: Settings, nc: Client, cameras: dict[str, str]
) -> AsyncIterator[Served]:
    configured = [
        CameraConfig(id=cam, url=f"rtsp://127.0.0.1/{cam}", district=d) for cam, d in cameras.items()
    ]
    with_cameras = settings.model_copy(update={"cameras": configured})
    async with serve(create_app(with_cameras, hits_deliver_policy=DeliverPolicy.NEW)) as running:
        yield running
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(subjects.hits_stream, settings.command_center.consumer_name)


async def alert_ids(http: httpx.AsyncClient, token: str) -> dict[str, int]:
    response = await http.get("/alerts", headers=bearer(token))
    assert response.status_code == 200, response.text
    return {a["camera_id"]: a["id"] for a in response.json()["alerts"]}


async def test_an_operator_sees_only_his_districts(settings: Settings, nc: Client) -> None:
    tag = uuid.uuid4().hex[:8]
    north, south, nowhere = f"north-{tag}", f"south-{tag}", f"nowhere-{tag}"
    async with served_with_districts(settings, nc, {north: "Islamabad", south: "Lahore"}) as served:
        operator = await staff_session(served.app, Role.OPERATOR, ("Islamabad",))
        supervisor = await staff_session(served.app, Role.SUPERVISOR)
        feed_events: list[dict[str, Any]] = []
        async with connect(f"{served.ws_url}/ws/alerts", subprotocols=ws_auth(operator.access_token)) as ws:
            await eventually(lambda: _clients(served))
            for cam in (north, south, nowhere):  # nowhere: not in the configuration, so no district
                await nc.jetstream().publish(subjects.hits("face", cam), hit(cam).to_bytes())
            everything = await eventually(lambda: _all_three(served, supervisor.access_token, tag))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    while True:
                        feed_events.append(json.loads(await ws.recv()))
        assert {e["camera_id"] for e in feed_events if tag in e["camera_id"]} == {north}

        seen = await alert_ids(served.anon, operator.access_token)
        assert [cam for cam in seen if tag in cam] == [north]
        listed = (await served.anon.get("/alerts", headers=bearer(supervisor.access_token))).json()["alerts"]
        districts = {a["camera_id"]: a["district"] for a in listed}
        assert (districts[north], districts[south], districts[nowhere]) == ("Islamabad", "Lahore", "")

        for cam in (south, nowhere):
            alert_id = everything[cam]
            for path in (
                f"/alerts/{alert_id}",
                f"/alerts/{alert_id}/evidence/crop",
                f"/alerts/{alert_id}/hits",
            ):
                hidden = await served.anon.get(path, headers=bearer(operator.access_token))
                assert hidden.status_code == 404, path  # the same answer as for an alert that does not exist
                shown = await served.anon.get(path, headers=bearer(supervisor.access_token))
                assert shown.status_code == 200, path
        own = await served.anon.get(f"/alerts/{everything[north]}", headers=bearer(operator.access_token))
        assert own.status_code == 200 and own.json()["district"] == "Islamabad"


async def _clients(served: Served) -> bool:
    return bool(served.app.state.services.feed.client_count)


async def _all_three(served: Served, token: str, tag: str) -> dict[str, int] | None:
    ids = {cam: i for cam, i in (await alert_ids(served.anon, token)).items() if tag in cam}
    return ids if len(ids) == 3 else None
