"""The alert lifecycle on both databases: legal and illegal steps, reasons, history, audit, live feed,
escalation of unacknowledged alerts (live to supervisors, and kept in their queue for later), and two
operators acting at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from websockets.asyncio.client import connect

from command_center.alerts.lifecycle import allowed_next
from command_center.security.permissions import Role
from pipeline.contracts import AlertEscalated
from pipeline.settings import CameraConfig, Settings
from tests.command_center.dispatch_helpers import (
    City,
    feed_events,
    lifecycle,
    open_alert,
    serve_city,
    staff,
    with_dispatch,
)
from tests.command_center.helpers import Served, bearer, eventually, settings_for, ws_auth
from tests.names import subjects


@pytest.fixture
def city() -> City:
    return City()


@pytest.fixture
def settings(
    database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, city: City
) -> Settings:
    base = settings_for(database_url, nats_url, tmp_path, models_dir, redis_url=redis_url)
    # Priority 1 ("wanted") escalates after 1 s; priority 2 ("missing") after an hour.
    return with_dispatch(base, city, escalate_after_s={1: 1.0, 2: 3600.0})


@pytest.fixture
async def served(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    async with serve_city(settings, nc) as running:
        yield running


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ("new", ["acknowledged", "dispatched", "dismissed"]),
        ("acknowledged", ["dispatched", "dismissed"]),
        ("dispatched", ["dispatched", "on_scene", "resolved", "dismissed"]),
        ("on_scene", ["resolved", "dismissed"]),
        ("resolved", []),
        ("dismissed", []),
    ],
)
def test_the_state_machine(status: str, allowed: list[str]) -> None:
    assert allowed_next(status) == allowed


async def test_acknowledge_then_dismiss_with_a_reason_and_nothing_after(served: Served, city: City) -> None:
    alert_id = await open_alert(served, city.camera, category="missing")
    operator = await staff(served, Role.OPERATOR, city.district)
    async with connect(f"{served.ws_url}/ws/alerts", subprotocols=ws_auth(served.token)) as feed:
        await asyncio.sleep(0.2)
        acked = await served.http.post(f"/alerts/{alert_id}/acknowledge", json={}, headers=operator)
        assert acked.status_code == 200, acked.text
        assert acked.json()["alert"]["status"] == "acknowledged"
        event = await feed_events(feed, city.camera, "updated")
    assert event["alert"]["status"] == "acknowledged"
    assert event["change"]["action"] == "acknowledge" and event["change"]["actor"].startswith("staff:")

    again = await served.http.post(f"/alerts/{alert_id}/acknowledge", headers=operator)
    assert again.status_code == 409
    assert again.json()["detail"]["status"] == "acknowledged"
    assert again.json()["detail"]["allowed_next"] == ["dispatched", "dismissed"]

    on_scene_first = await served.http.post(f"/alerts/{alert_id}/resolve", headers=operator)
    assert on_scene_first.status_code == 409  # nobody was sent: there is nothing to confirm yet

    for missing in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "no"}):
        refused = await served.http.post(f"/alerts/{alert_id}/dismiss", json=missing, headers=operator)
        assert refused.status_code == 422, missing
    dismissed = await served.http.post(
        f"/alerts/{alert_id}/dismiss",
        json={"reason": "a look-alike: checked the CNIC photo"},
        headers=operator,
    )
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["transition"]["to_status"] == "dismissed"

    closed = await served.http.post(f"/alerts/{alert_id}/acknowledge", headers=operator)
    assert closed.status_code == 409
    assert closed.json()["detail"]["allowed_next"] == []
    assert "closed" in closed.json()["detail"]["message"]

    history = await lifecycle(served.http, alert_id)
    assert history["status"] == "dismissed" and history["allowed_next"] == []
    steps = [(t["action"], t["from_status"], t["to_status"], t["role"]) for t in history["transitions"]]
    assert steps == [
        ("acknowledge", "new", "acknowledged", "operator"),
        ("dismiss", "acknowledged", "dismissed", "operator"),
    ]
    assert history["transitions"][1]["reason"] == "a look-alike: checked the CNIC photo"

    audit = (await served.http.get("/audit", params={"target": f"alert:{alert_id}"})).json()
    entries = audit["entries"] if isinstance(audit, dict) else audit
    actions = sorted(e["action"] for e in entries)
    assert actions == ["alert.evidence", "alerts.acknowledge", "alerts.dismiss"]  # its images, then people
    [dismissal] = [e for e in entries if e["action"] == "alerts.dismiss"]
    assert dismissal["reason"] == "a look-alike: checked the CNIC photo"
    assert dismissal["role"] == "operator" and dismissal["ip"] == "127.0.0.1"


async def test_scoping_and_rights(served: Served, city: City) -> None:
    alert_id = await open_alert(served, city.camera, category="missing")
    elsewhere = await staff(served, Role.OPERATOR, city.other_district)
    clerk = await staff(served, Role.RECORDS_CLERK)
    officer = await staff(served, Role.PATROL_OFFICER, city.district)
    hidden = await served.http.post(f"/alerts/{alert_id}/acknowledge", headers=elsewhere)
    assert hidden.status_code == 404  # another district's alert does not exist for him
    for headers in (clerk, officer):
        refused = await served.http.post(f"/alerts/{alert_id}/acknowledge", headers=headers)
        assert refused.status_code == 403
    assert (await lifecycle(served.http, alert_id))["status"] == "new"


async def test_two_operators_at_once_one_wins(served: Served, city: City) -> None:
    alert_id = await open_alert(served, city.camera, category="missing")
    first = await staff(served, Role.OPERATOR, city.district)
    second = await staff(served, Role.OPERATOR, city.district)
    answers = await asyncio.gather(
        served.http.post(f"/alerts/{alert_id}/acknowledge", headers=first),
        served.http.post(f"/alerts/{alert_id}/acknowledge", headers=second),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    history = await lifecycle(served.http, alert_id)
    assert len(history["transitions"]) == 1


async def test_an_unacknowledged_alert_escalates_to_supervisors_once(
    served: Served, city: City, nc: Client
) -> None:
    escalations: list[AlertEscalated] = []

    async def on_escalation(msg: object) -> None:
        found = AlertEscalated.from_bytes(msg.data)  # type: ignore[attr-defined]
        if found.camera_id == city.camera:
            escalations.append(found)

    subscription = await nc.subscribe(subjects.alert_escalations(), cb=on_escalation)
    supervisor = await staff(served, Role.SUPERVISOR)
    operator = await staff(served, Role.OPERATOR, city.district)
    try:
        async with connect(f"{served.ws_url}/ws/alerts", subprotocols=ws_auth(served.token)) as feed:
            await asyncio.sleep(0.2)
            started = time.monotonic()
            urgent = await open_alert(
                served, city.camera, profile_id=11, category="wanted"
            )  # priority 1: 1 s
            taken = await open_alert(served, city.camera, profile_id=12, category="wanted")
            slow = await open_alert(served, city.camera, profile_id=13, category="missing")  # priority 2: 1 h
            acked = await served.http.post(f"/alerts/{taken}/acknowledge", headers=operator)
            assert acked.status_code == 200
            event = await feed_events(feed, city.camera, "escalated", within_s=10)
            took = time.monotonic() - started
        assert event["alert_id"] == urgent
        assert event["change"]["action"] == "escalate" and event["change"]["actor"] == "system:escalation"
        assert event["audience"] == "supervisors"  # consoles tell supervisors' events from the rest
        assert event["escalation"]["priority"] == 1 and event["escalation"]["limit_s"] == 1.0
        assert event["escalation"]["waited_s"] >= 1.0
        assert "priority 1 escalates after 1 s" in event["change"]["reason"]
        await eventually(lambda: _true(bool(escalations)))
        assert escalations[0].alert_id == urgent and escalations[0].priority == 1
        assert escalations[0].waited_s >= 1.0
        print(f"escalation fired {took:.2f}s after the alert opened (configured 1 s, tick 0.1 s)")
        assert took < 5

        await asyncio.sleep(0.5)  # more ticks: still escalated once, the others not at all
        history = await served.http.get(f"/alerts/{urgent}/lifecycle", headers=supervisor)
        assert [t["action"] for t in history.json()["transitions"]] == ["escalate"]
        assert history.json()["status"] == "new" and history.json()["escalated_at"]
        for other in (taken, slow):
            assert (await lifecycle(served.http, other))["escalated_at"] is None
        audit = (await served.http.get("/audit", params={"action": "alerts.escalate"})).json()
        entries = audit["entries"] if isinstance(audit, dict) else audit
        # (Other tests' hits on the shared NATS server may open and escalate alerts here too.)
        mine = {f"alert:{i}" for i in (urgent, taken, slow)}
        assert [e["target"] for e in entries if e["target"] in mine] == [f"alert:{urgent}"]
    finally:
        await subscription.unsubscribe()


async def _true(value: bool) -> bool:
    return value


async def test_a_supervisor_who_was_not_connected_finds_the_escalation_later(
    settings: Settings, nc: Client, city: City
) -> None:
    """Nobody is on /ws/alerts when the alerts escalate; the supervisors' queue has them afterwards."""
    south = CameraConfig(id=f"cam-o-{city.tag}", url="rtsp://127.0.0.1/o", district=city.other_district)
    wider = settings.model_copy(update={"cameras": [*settings.cameras, south]})
    async with serve_city(wider, nc) as served:
        supervisor = await staff(served, Role.SUPERVISOR)
        operator = await staff(served, Role.OPERATOR, city.district)
        urgent = await open_alert(served, city.camera, profile_id=61, category="wanted")
        elsewhere = await open_alert(served, south.id, profile_id=62, category="wanted")
        taken = await open_alert(served, city.camera, profile_id=63, category="wanted")
        slow = await open_alert(served, city.camera, profile_id=64, category="missing")
        assert (await served.http.post(f"/alerts/{taken}/acknowledge", headers=operator)).status_code == 200
        await eventually(lambda: _escalated(served, urgent, elsewhere))

        async def queue(headers: dict[str, str], **params: str | int) -> list[dict[str, Any]]:
            found = await served.http.get("/alerts/escalations", params=params, headers=headers)
            assert found.status_code == 200, found.text
            mine = {city.camera, south.id}  # (other tests' alerts on the shared NATS are left out)
            return [e for e in found.json()["escalations"] if e["alert"]["camera_id"] in mine]

        listed = await queue(supervisor)
        assert [e["alert"]["id"] for e in listed] == [urgent, elsewhere]  # oldest first; taken, slow absent
        first = listed[0]
        assert first["priority"] == 1 and first["limit_s"] == 1.0
        assert first["waited_at_escalation_s"] >= 1.0 and first["waited_s"] >= first["waited_at_escalation_s"]
        assert first["alert"]["status"] == "new" and first["escalated_at"]
        assert [e["alert"]["id"] for e in await queue(supervisor, district=city.other_district)] == [
            elsewhere
        ]
        assert await queue(supervisor, priority=2) == []
        assert [e["alert"]["id"] for e in await queue(bearer(served.token))] == [urgent, elsewhere]  # admin

        officer = await staff(served, Role.PATROL_OFFICER, city.district)
        for refused in (operator, officer):
            answer = await served.http.get("/alerts/escalations", headers=refused)
            assert answer.status_code == 403  # addressed to supervisors, not to the operators who missed it
        bad = await served.http.get("/alerts/escalations", params={"priority": 9}, headers=supervisor)
        assert bad.status_code == 422

        # Acting on the alert takes it off the queue.
        acked = await served.http.post(f"/alerts/{urgent}/acknowledge", headers=supervisor)
        assert acked.status_code == 200
        assert [e["alert"]["id"] for e in await queue(supervisor)] == [elsewhere]
        assert (await lifecycle(served.http, slow))["escalated_at"] is None


async def _escalated(served: Served, *alert_ids: int) -> bool:
    for alert_id in alert_ids:
        if (await lifecycle(served.http, alert_id))["escalated_at"] is None:
            return False
    return True
