"""What an officer is told, on real NATS JetStream, Redis and both databases: a plate alert's dispatch
carries the hotlist entry, a missing person's asks for a welfare check, and an officer's own duty status
decides whether the unit is suggested at all."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from command_center.security.permissions import Role
from pipeline.settings import Settings
from tests.command_center.dispatch_helpers import (
    City,
    Crew,
    add_unit,
    forget_officer_channel,
    next_message,
    north_of_camera,
    officer_socket,
    open_alert,
    open_plate_alert,
    report,
    serve_city,
    staff,
    token_of,
    with_dispatch,
)
from tests.command_center.helpers import Served, add_user, bearer, jpeg, settings_for


@pytest.fixture
def city() -> City:
    return City()


@pytest.fixture
def settings(
    database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, city: City
) -> Settings:
    base = settings_for(database_url, nats_url, tmp_path, models_dir, redis_url=redis_url)
    return with_dispatch(base, city, ack_timeout_s=60, escalate_after_s={})


@pytest.fixture
async def served(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    async with serve_city(settings, nc) as running:
        yield running


@pytest.fixture
async def crews(served: Served, city: City, nc: Client) -> AsyncIterator[dict[str, Crew]]:
    """Two units of the camera's district: near (400 m N) and far (2.5 km N)."""
    made = {
        "near": await add_unit(served, city.unit("near"), city.district),
        "far": await add_unit(served, city.unit("far"), city.district),
    }
    assert await report(served, made["near"], north_of_camera(400)) == "stored"
    assert await report(served, made["far"], north_of_camera(2500)) == "stored"
    yield made
    for crew in made.values():
        await forget_officer_channel(nc, crew)


async def dispatched_notice(
    served: Served, crew: Crew, alert_id: int, operator: dict[str, str]
) -> dict[str, Any]:
    """Dispatch the crew's unit to the alert while its officer is connected; the notice he receives."""
    async with officer_socket(served, crew) as ws:
        await asyncio.sleep(0.2)  # the officer's consumer is bound before the notice is published
        started = time.perf_counter()
        sent = await served.http.post(
            f"/alerts/{alert_id}/dispatch", json={"unit_id": crew.unit_id}, headers=operator
        )
        assert sent.status_code == 201, sent.text
        message = await next_message(ws, type="dispatch")
        took_ms = (time.perf_counter() - started) * 1000
        await ws.send(json.dumps({"type": "received", "seq": message["seq"]}))
    print(f"dispatch POST → notice on the officer's socket: {took_ms:.0f} ms")
    assert message["notice"]["alert_id"] == alert_id
    notice: dict[str, Any] = message["notice"]
    return notice


async def test_a_plate_alert_dispatch_carries_the_hotlist_entry(
    served: Served, city: City, crews: dict[str, Crew]
) -> None:
    alert_id = await open_plate_alert(
        served,
        city.camera,
        entry_id=41,
        plate="LEA1234",
        status="stolen",
        reason="stolen from Gulberg at gunpoint",
        case="FIR 112/26 PS Gulberg",
    )
    operator = await staff(served, Role.OPERATOR, city.district)
    notice = await dispatched_notice(served, crews["near"], alert_id, operator)
    assert notice["subject"] == {
        "kind": "vehicle",
        "id": 41,
        "name": "LEA1234",
        "photo_url": None,
        "status": "stolen",
        "reason": "stolen from Gulberg at gunpoint",
        "case_reference": "FIR 112/26 PS Gulberg",
    }
    assert notice["category"] == "vehicle:stolen"
    assert "LEA1234" in notice["reason"] and "stolen from Gulberg at gunpoint" in notice["reason"]
    assert "FIR 112/26 PS Gulberg" in notice["reason"]
    assert "welfare" not in notice["reason"]
    assert base64.b64decode(notice["photo_jpeg"]) == jpeg((0, 200, 0))  # the plate's crop


async def test_a_missing_person_dispatch_asks_for_a_welfare_check_not_an_arrest(
    served: Served, city: City, crews: dict[str, Crew]
) -> None:
    missing = await open_alert(served, city.camera, profile_id=51, category="missing")
    wanted = await open_alert(served, city.camera, profile_id=52, category="wanted")
    operator = await staff(served, Role.OPERATOR, city.district)
    notice = await dispatched_notice(served, crews["near"], missing, operator)
    assert notice["reason"].startswith("welfare check, not an arrest:"), notice["reason"]
    assert "Person 51" in notice["reason"] and notice["category"] == "missing"
    assert notice["subject"]["kind"] == "profile" and notice["subject"]["id"] == 51
    # The operator's view of the alert says the same (the console shows it before dispatching).
    alert = (await served.http.get(f"/alerts/{missing}", headers=operator)).json()
    assert "do not arrest" in alert["instruction"]
    # A wanted person's dispatch is not a welfare check.
    other = await dispatched_notice(served, crews["far"], wanted, operator)
    assert "welfare" not in other["reason"] and other["reason"].startswith("wanted:")


async def test_an_officer_sets_the_units_duty_status_and_off_duty_is_not_suggested(
    served: Served, city: City, crews: dict[str, Crew]
) -> None:
    near, far = crews["near"], crews["far"]
    alert_id = await open_alert(served, city.camera)
    operator = await staff(served, Role.OPERATOR, city.district)

    async def suggested() -> list[str]:
        found = await served.http.get(f"/alerts/{alert_id}/dispatch/suggestions", headers=operator)
        assert found.status_code == 200, found.text
        return [s["unit"]["id"] for s in found.json()["units"]]

    assert await suggested() == [near.unit_id, far.unit_id]
    off = await served.http.post("/patrol/status", json={"duty_status": "off_duty"}, headers=near.headers)
    assert off.status_code == 200, off.text
    assert (off.json()["id"], off.json()["duty_status"]) == (near.unit_id, "off_duty")
    assert await suggested() == [far.unit_id]  # nearest, but off duty: not offered
    refused = await served.http.post(
        f"/alerts/{alert_id}/dispatch", json={"unit_id": near.unit_id}, headers=operator
    )
    assert refused.status_code == 409 and "off_duty" in refused.text

    back = await served.http.post("/patrol/status", json={"duty_status": "available"}, headers=near.headers)
    assert back.status_code == 200 and back.json()["duty_status"] == "available"
    assert await suggested() == [near.unit_id, far.unit_id]

    for bad in ({"duty_status": "asleep"}, {}, {"duty_status": "available", "unit_id": far.unit_id}):
        wrong = await served.http.post("/patrol/status", json=bad, headers=near.headers)
        assert wrong.status_code == 422, bad  # nor can an officer name another unit
    unassigned = await add_user(served.app, Role.PATROL_OFFICER, (city.district,))
    alone = await served.http.post(
        "/patrol/status", json={"duty_status": "off_duty"}, headers=bearer(await token_of(served, unassigned))
    )
    assert alone.status_code == 409 and "not assigned" in alone.text
    supervisor = await staff(served, Role.SUPERVISOR)
    assert (
        await served.http.post("/patrol/status", json={"duty_status": "off_duty"}, headers=supervisor)
    ).status_code == 403  # supervisors change units with PATCH /patrol/units/{id}

    audit = (await served.http.get("/audit", params={"target": f"patrol_unit:{near.unit_id}"})).json()
    changes = [
        (e["details"]["from"], e["details"]["to"], e["role"])
        for e in audit["entries"]
        if e["action"] == "patrol.duty_status"
    ]
    assert sorted(changes) == [
        ("available", "off_duty", "patrol_officer"),
        ("off_duty", "available", "patrol_officer"),
    ]
