"""The records notices reach the officer over /ws/officer, on real NATS JetStream and both databases: a
followed person's sighting, a bulletin to every officer that waited while the officer was offline (once
confirmed, never again), and a casework notice that reaches its addressee and nobody else."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from websockets.asyncio.client import ClientConnection, connect

from command_center.dispatch.officer_channel import consumer_name as dispatch_consumer_name
from command_center.records.bulletins import broadcast_consumer_name, casework_consumer_name
from command_center.records.notices import consumer_name as person_consumer_name
from command_center.security.permissions import Role
from command_center.security.users import StaffUser
from pipeline.contracts import BulletinLink, OfficerBulletin
from pipeline.settings import CameraConfig, Settings
from tests.command_center.casework_helpers import b64, record_arrest, screened_arrest
from tests.command_center.helpers import Served, add_user, eventually, hit, jpeg, settings_for, ws_auth
from tests.command_center.records_helpers import REASON, add_person, client, client_of, watchlist_profile
from tests.names import subjects

CAMERA = CameraConfig(
    id="faisal-chowk",
    name="Faisal Chowk",
    url="rtsp://127.0.0.1/f",
    district="Lahore",
    latitude=31.5497,
    longitude=74.3436,
)
QUIET_S = 1.5  # how long "nothing more comes" is watched for


@pytest.fixture
def camera_id() -> str:
    return f"cam-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(
    database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, camera_id: str
) -> Settings:
    base = settings_for(database_url, nats_url, tmp_path, models_dir, redis_url=redis_url)
    return base.model_copy(update={"cameras": [CAMERA.model_copy(update={"id": camera_id})]})


@pytest.fixture
async def officers(served: Served, nc: Client) -> AsyncIterator[list[StaffUser]]:
    """Patrol officers made by the test; their durable channels are removed afterwards."""
    made: list[StaffUser] = []
    yield made
    js = nc.jetstream()
    for user in made:
        key = user.government_id
        with contextlib.suppress(Exception):
            await js.delete_consumer(subjects.dispatch_stream, dispatch_consumer_name(key))
        for name in (person_consumer_name(key), broadcast_consumer_name(key), casework_consumer_name(key)):
            with contextlib.suppress(Exception):
                await js.delete_consumer(subjects.records_stream, name)


async def officer(served: Served, officers: list[StaffUser]) -> StaffUser:
    user = await add_user(served.app, Role.PATROL_OFFICER, ("Lahore",))
    officers.append(user)
    return user


@contextlib.asynccontextmanager
async def socket_of(served: Served, user: StaffUser) -> AsyncIterator[ClientConnection]:
    pair = await served.app.state.services.auth.open_session(user)
    async with connect(f"{served.ws_url}/ws/officer", subprotocols=ws_auth(pair.access_token)) as ws:
        yield ws


async def receive(ws: ClientConnection, within_s: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(within_s):
        message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def first(ws: ClientConnection, type_: str, within_s: float = 10.0, **notice: Any) -> dict[str, Any]:
    """The first message of ``type_`` whose notice has these fields; every notice passed is confirmed
    (a shared NATS server carries other tests' bulletins to every officer too)."""
    async with asyncio.timeout(within_s):
        while True:
            message = await receive(ws, within_s)
            if "seq" in message:
                await ws.send(json.dumps({"type": "received", "seq": message["seq"]}))
            body = message.get("notice") or {}
            if message["type"] == type_ and all(body.get(k) == v for k, v in notice.items()):
                return message


async def nothing(ws: ClientConnection, type_: str, **notice: Any) -> None:
    with pytest.raises(TimeoutError):
        await first(ws, type_, QUIET_S, **notice)


async def alert_on(served: Served, camera_id: str) -> int | None:
    found = (await served.http.get("/alerts", params={"camera_id": camera_id})).json()["alerts"]
    return int(found[0]["id"]) if found else None


async def test_a_followed_person_seen_on_a_camera_reaches_the_officers_app(
    served: Served, nc: Client, officers: list[StaffUser], camera_id: str
) -> None:
    follower = await officer(served, officers)
    clerk = await client(served, Role.RECORDS_CLERK)
    http = await client_of(served, follower)
    async with clerk, http:
        profile_id = await asyncio.to_thread(watchlist_profile, served)
        pid = (await add_person(clerk, "Muhammad Husain", watchlist_profile_id=profile_id))["id"]
        assert (await http.post(f"/persons/{pid}/follow", params=REASON)).status_code == 200
        async with socket_of(served, follower) as ws:
            found = hit(camera_id, profile_id=profile_id, at=datetime.now(UTC))
            await nc.jetstream().publish(subjects.hits("face", camera_id), found.to_bytes())
            alert_id = await eventually(lambda: alert_on(served, camera_id))
            # Only this command centre knows the camera's district (on a NATS server shared with other
            # tests, their command centres store the same hit and announce their own alert).
            message = await first(ws, "person_notice", alert_id=alert_id, district=CAMERA.district)
    notice = message["notice"]
    assert (notice["kind"], notice["person_id"], notice["officer_id"]) == ("seen", pid, follower.id)
    assert notice["person_name"] == "Muhammad Husain" and notice["person_url"] == f"/persons/{pid}"
    assert notice["camera_id"] == camera_id and notice["place"] == CAMERA.name
    assert (notice["latitude"], notice["longitude"]) == (CAMERA.latitude, CAMERA.longitude)
    assert datetime.fromisoformat(notice["at"]) == found.captured_at


async def test_an_arrest_broadcast_while_offline_arrives_on_connect_and_once_confirmed_never_again(
    served: Served, officers: list[StaffUser]
) -> None:
    offline = await officer(served, officers)
    arresting = await officer(served, officers)
    station = f"PS Civil Lines {uuid.uuid4().hex[:8]}"  # names this test's bulletin on a shared NATS
    http = await client_of(served, arresting)
    async with http:
        photo = jpeg((30, 60, 90), 96)
        created = await record_arrest(http, name="Imran Ali", police_station=station, photo_jpeg=b64(photo))
        await screened_arrest(http, created["id"])  # the broadcast went out before the screening ended

    async with socket_of(served, offline) as ws:
        message = await first(ws, "bulletin", police_station=station)
    notice = message["notice"]
    assert notice["kind"] == "arrest" and notice["officer_id"] is None
    assert notice["subject"]["kind"] == "arrest" and notice["subject"]["id"] == created["id"]
    assert "Imran Ali" in notice["title"] and notice["sections"] == ["392 PPC"]
    assert (notice["place"], notice["latitude"], notice["longitude"]) == (
        "Mall Road, near GPO",
        31.5656,
        74.3142,
    )
    assert base64.b64decode(notice["photo_jpeg"])[:2] == b"\xff\xd8"  # standard base64, a data: URL's

    # Confirmed (by ``first``) on that connection: it is not sent again on the next.
    async with socket_of(served, offline) as ws:
        await nothing(ws, "bulletin", police_station=station)


async def test_an_unconfirmed_bulletin_comes_again_and_a_casework_notice_reaches_only_its_officer(
    served: Served, officers: list[StaffUser]
) -> None:
    addressee = await officer(served, officers)
    other = await officer(served, officers)
    tag = uuid.uuid4().hex[:8]
    bulletin = OfficerBulletin(
        kind="wanted_elsewhere",
        title=f"Asif Khan arrested (FIR 12/2025 PS Kotwali): linked to your case {tag}",
        summary="Arrested by PS Kotwali. Linked to: person 4 (FIR 77/2024 PS Saddar)",
        at=datetime.now(UTC),
        subject=BulletinLink(kind="arrest", id=9, name="Asif Khan"),
        matches=[BulletinLink(kind="person", id=4, name="Asif Khan", how="cnic")],
        fir_number="12/2025",
        police_station="PS Kotwali",
    )
    told = await served.app.state.services.casework.bulletins.tell(addressee.id, bulletin, f"test:{tag}")
    assert told

    async with socket_of(served, addressee) as ws:  # received, not confirmed: it stays in the channel
        while (message := await receive(ws))["type"] != "casework":
            await ws.send(json.dumps({"type": "received", "seq": message["seq"]}))
        assert message["notice"]["title"] == bulletin.title
        await ws.send(json.dumps({"type": "received", "seq": True}))  # not a seq: nothing is confirmed
        assert (await receive(ws))["type"] == "error"
    async with socket_of(served, addressee) as ws:
        again = await first(ws, "casework", title=bulletin.title)
    assert again["notice"]["event_id"] == str(bulletin.event_id)
    assert again["notice"]["officer_id"] == addressee.id
    assert again["notice"]["matches"][0]["how"] == "cnic"

    async with socket_of(served, other) as ws:
        await nothing(ws, "casework")
