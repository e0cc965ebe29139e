"""Dispatch on real NATS JetStream, Redis and both databases: nearest units from their positions (HTTP and
NATS), stale positions ignored, the officer's durable channel across a disconnection, acknowledgement
timeouts passing the alert to the next unit, and auto-dispatch (on by default for priority 1; the other
tests turn it off, see ``with_dispatch``)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client
from websockets.asyncio.client import ClientConnection, connect

from command_center.security.permissions import Role
from pipeline.contracts import PatrolPosition
from pipeline.settings import Settings
from pipeline.settings.dispatch import DispatchSettings
from tests.command_center.dispatch_helpers import (
    CAMERA_LAT,
    CAMERA_LON,
    City,
    Crew,
    add_unit,
    east_of_camera,
    feed_events,
    forget_officer_channel,
    lifecycle,
    next_message,
    north_of_camera,
    officer_socket,
    open_alert,
    report,
    serve_city,
    staff,
    with_dispatch,
)
from tests.command_center.helpers import Served, eventually, jpeg, settings_for, ws_auth
from tests.names import subjects

ACK_TIMEOUT_S = 1.0  # for the tests of what a missed acknowledgement does (marked short_ack)
LONG_ACK_TIMEOUT_S = 600.0  # for the others: a loaded machine never times a dispatch out under them


@pytest.fixture
def city() -> City:
    return City()


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    database_url: str,
    nats_url: str,
    redis_url: str,
    tmp_path: Path,
    models_dir: Path,
    city: City,
) -> Settings:
    base = settings_for(database_url, nats_url, tmp_path, models_dir, redis_url=redis_url)
    short = request.node.get_closest_marker("short_ack") is not None
    ack_timeout_s = ACK_TIMEOUT_S if short else LONG_ACK_TIMEOUT_S
    return with_dispatch(base, city, ack_timeout_s=ack_timeout_s, escalate_after_s={})


@pytest.fixture
async def served(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    async with serve_city(settings, nc) as running:
        yield running


@pytest.fixture
async def crews(served: Served, city: City, nc: Client) -> AsyncIterator[dict[str, Crew]]:
    """Units around the camera: near (400 m N), mid (900 m E), far (2.5 km N), stale (100 m, old fix),
    off duty (50 m), in the other district (200 m)."""
    made = {
        "near": await add_unit(served, city.unit("near"), city.district),
        "mid": await add_unit(served, city.unit("mid"), city.district),
        "far": await add_unit(served, city.unit("far"), city.district),
        "stale": await add_unit(served, city.unit("stale"), city.district),
        "off": await add_unit(served, city.unit("off"), city.district, duty_status="off_duty"),
        "south": await add_unit(served, city.unit("south"), city.other_district),
    }
    assert await report(served, made["near"], north_of_camera(400)) == "stored"
    assert await report(served, made["far"], north_of_camera(2500)) == "stored"
    assert await report(served, made["off"], north_of_camera(50)) == "stored"
    assert await report(served, made["south"], east_of_camera(200)) == "stored"
    # The mid unit's app sends its fix over NATS.
    await nc.publish(subjects.patrol_position(made["mid"].unit_id), fix(made["mid"], east_of_camera(900)))
    # The stale unit's last fix is older than position_stale_s (120 s): it is refused, and one stored
    # before it went quiet (written straight to Redis) is not suggested.
    assert await report(served, made["stale"], north_of_camera(100), recorded_at=time.time() - 300) == "stale"
    positions = served.app.state.services.dispatch.positions
    await positions.update(made["stale"].unit_id, *north_of_camera(100), time.time() - 200)
    await eventually(lambda: _has_position(served, made["mid"].unit_id))
    yield made
    for crew in made.values():
        await forget_officer_channel(nc, crew)


def fix(crew: Crew, at: tuple[float, float], recorded_at: float | None = None) -> bytes:
    when = datetime.fromtimestamp(recorded_at or time.time(), UTC)
    message = PatrolPosition(
        unit_id=crew.unit_id, officer_id=crew.officer.id, latitude=at[0], longitude=at[1], recorded_at=when
    )
    return message.to_bytes()


async def _has_position(served: Served, unit_id: str) -> bool:
    found = await served.app.state.services.dispatch.positions.positions([unit_id], time.time())
    return unit_id in found


async def test_the_nearest_available_units_are_suggested(
    served: Served, city: City, crews: dict[str, Crew]
) -> None:
    alert_id = await open_alert(served, city.camera)
    operator = await staff(served, Role.OPERATOR, city.district)
    started = time.perf_counter()
    response = await served.http.get(f"/alerts/{alert_id}/dispatch/suggestions", headers=operator)
    took_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["latitude"], body["longitude"]) == (CAMERA_LAT, CAMERA_LON)
    units = [(s["unit"]["id"], s["distance_m"], s["eta_s"]) for s in body["units"]]
    # Off duty, stale and the other district's unit are not offered; nearest first.
    assert [u[0] for u in units] == [crews[n].unit_id for n in ("near", "mid", "far")]
    for (_, distance, eta), expected in zip(units, (400, 900, 2500), strict=True):
        assert distance == pytest.approx(expected, abs=5)
        assert eta == pytest.approx(expected * 1.4 / (30 / 3.6), rel=0.02)  # detour 1.4 at 30 km/h
    assert body["units"][0]["unit"]["officers"][0]["user_id"] == crews["near"].officer.id
    assert body["units"][0]["unit"]["position"]["age_s"] < 30
    print(f"suggestions answered in {took_ms:.1f} ms (HTTP round trip, 6 units in Redis)")

    supervisor = await staff(served, Role.SUPERVISOR)
    everywhere = await served.http.get(f"/alerts/{alert_id}/dispatch/suggestions", headers=supervisor)
    assert crews["south"].unit_id in [s["unit"]["id"] for s in everywhere.json()["units"]]
    limited = await served.http.get(f"/alerts/{alert_id}/dispatch/suggestions?limit=1", headers=operator)
    assert [s["unit"]["id"] for s in limited.json()["units"]] == [crews["near"].unit_id]

    # A newer fix moves the near unit beyond the far one; an older fix arriving late changes nothing.
    assert await report(served, crews["near"], north_of_camera(3000)) == "stored"
    assert await report(served, crews["near"], north_of_camera(10), recorded_at=time.time() - 10) == "older"
    moved = await served.http.get(f"/alerts/{alert_id}/dispatch/suggestions", headers=operator)
    assert [s["unit"]["id"] for s in moved.json()["units"]][-1] == crews["near"].unit_id

    # Stale positions are dropped from Redis by the policy loop.
    await eventually(lambda: _gone_from_redis(served, crews["stale"].unit_id))


async def _gone_from_redis(served: Served, unit_id: str) -> bool:
    services = served.app.state.services
    prefix = services.settings.patrol_redis_prefix
    seen = await services.redis.zscore(f"{prefix}:seen", unit_id)
    place = await services.redis.geopos(f"{prefix}:geo", unit_id)
    return seen is None and place == [None]


async def test_refusals(served: Served, city: City, crews: dict[str, Crew], nc: Client) -> None:
    blind = await open_alert(served, city.blind_camera)
    operator = await staff(served, Role.OPERATOR, city.district)
    no_position = await served.http.get(f"/alerts/{blind}/dispatch/suggestions", headers=operator)
    assert no_position.status_code == 409 and "latitude" in no_position.text
    alert_id = await open_alert(served, city.camera)
    off = await served.http.post(
        f"/alerts/{alert_id}/dispatch", json={"unit_id": crews["off"].unit_id}, headers=operator
    )
    assert off.status_code == 409 and "off_duty" in off.text
    elsewhere = await served.http.post(
        f"/alerts/{alert_id}/dispatch", json={"unit_id": crews["south"].unit_id}, headers=operator
    )
    assert elsewhere.status_code == 404  # another district's unit, for a district-scoped operator
    # A fix for a unit the officer does not serve in, or from the future, is not stored.
    await nc.publish(subjects.patrol_position(crews["near"].unit_id), fix(crews["far"], north_of_camera(1)))
    future = await served.http.post(
        "/patrol/position",
        json={"latitude": 33.7, "longitude": 73.05, "recorded_at": "2099-01-01T00:00:00Z"},
        headers=crews["near"].headers,
    )
    assert future.status_code == 422
    tracker = served.app.state.services.dispatch.tracker
    await eventually(lambda: _true(tracker.stats.refused >= 1))
    nearest = await served.http.get(f"/alerts/{alert_id}/dispatch/suggestions", headers=operator)
    assert nearest.json()["units"][0]["distance_m"] == pytest.approx(400, abs=5)


async def test_an_offline_officer_gets_the_dispatch_on_reconnection_and_acknowledges(
    served: Served, city: City, crews: dict[str, Crew]
) -> None:
    near = crews["near"]
    alert_id = await open_alert(served, city.camera)
    crop = await served.http.get(f"/alerts/{alert_id}/evidence/crop")
    operator = await staff(served, Role.OPERATOR, city.district)
    sent = await served.http.post(
        f"/alerts/{alert_id}/dispatch",
        json={"unit_id": near.unit_id, "note": "armed, approach with care"},
        headers=operator,
    )
    assert sent.status_code == 201, sent.text
    dispatch = sent.json()["dispatch"]
    assert sent.json()["alert"]["status"] == "dispatched"
    assert dispatch["distance_m"] == pytest.approx(400, abs=5) and dispatch["status"] == "pending"

    # The officer was offline when it was sent: it waits in his durable channel.
    async with officer_socket(served, near) as ws:
        message = await next_message(ws, type="dispatch")
        notice = message["notice"]
        assert message["status"] == "pending"
        assert notice["dispatch_id"] == dispatch["id"] and notice["alert_id"] == alert_id
        assert notice["subject"] == {
            "kind": "profile",
            "id": 7,
            "name": "Person 7",
            "photo_url": "/watchlist/profiles/7/photo",
            "status": None,  # (the hotlist fields are a vehicle's)
            "reason": None,
            "case_reference": None,
        }
        assert base64.b64decode(notice["photo_jpeg"]) == crop.content
        assert (notice["latitude"], notice["longitude"]) == (CAMERA_LAT, CAMERA_LON)
        assert notice["camera_name"] == "Blue Area Chowk"
        assert "wanted" in notice["reason"] and "Person 7" in notice["reason"]
        assert notice["note"] == "armed, approach with care"
        await ws.send(json.dumps({"type": "received", "seq": message["seq"]}))
        await ws.send(json.dumps({"type": "ack", "dispatch_id": dispatch["id"]}))
        result = await next_message(ws, type="result")
    assert result["dispatch"]["status"] == "acknowledged"

    # Confirmed notices are not delivered again.
    async with officer_socket(served, near) as ws:
        with pytest.raises(TimeoutError):
            await next_message(ws, within_s=1.5, type="dispatch")

    arrived = await served.http.post(f"/dispatches/{dispatch['id']}/on-scene", headers=near.headers)
    assert arrived.status_code == 200 and arrived.json()["status"] == "on_scene"
    other = await served.http.post(f"/dispatches/{dispatch['id']}/on-scene", headers=crews["far"].headers)
    assert other.status_code == 404  # not his unit's dispatch
    no_reason = await served.http.post(f"/dispatches/{dispatch['id']}/dismiss", json={}, headers=near.headers)
    assert no_reason.status_code == 422
    done = await served.http.post(
        f"/dispatches/{dispatch['id']}/resolve",
        json={"reason": "detained, FIR 12/2025"},
        headers=near.headers,
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    history = await lifecycle(served.http, alert_id)
    assert history["status"] == "resolved"
    assert [t["action"] for t in history["transitions"]] == [
        "dispatch",
        "dispatch_ack",
        "on_scene",
        "resolve",
    ]
    assert [t["role"] for t in history["transitions"]] == ["operator", *["patrol_officer"] * 3]
    units = (await served.http.get("/patrol/units")).json()
    assert next(u for u in units if u["id"] == near.unit_id)["duty_status"] == "available"
    audit = (await served.http.get("/audit", params={"target": f"alert:{alert_id}"})).json()["entries"]
    assert sorted(e["action"] for e in audit) == [
        "alert.evidence",  # its images, stored with the alert
        "alerts.dispatch",
        "dispatch.ack",
        "dispatch.on_scene",
        "dispatch.resolve",
    ]


async def test_an_unconfirmed_notice_comes_again_on_the_next_connection(
    served: Served, city: City, crews: dict[str, Crew]
) -> None:
    mid = crews["mid"]
    alert_id = await open_alert(served, city.camera)
    sent = await served.http.post(f"/alerts/{alert_id}/dispatch", json={"unit_id": mid.unit_id})
    assert sent.status_code == 403  # an admin does not dispatch (no "dispatch" right)
    supervisor = await staff(served, Role.SUPERVISOR)
    sent = await served.http.post(
        f"/alerts/{alert_id}/dispatch", json={"unit_id": mid.unit_id}, headers=supervisor
    )
    assert sent.status_code == 201
    async with officer_socket(served, mid) as ws:
        first = await next_message(ws, type="dispatch")
    async with officer_socket(served, mid) as ws:
        again = await next_message(ws, type="dispatch")
        assert again["notice"]["dispatch_id"] == first["notice"]["dispatch_id"]
        await ws.send(json.dumps({"type": "received", "seq": again["seq"]}))
        await ws.send(json.dumps({"type": "received", "seq": 10**9}))
        assert (await next_message(ws, type="error"))["detail"].startswith("no notice")
    mine = await served.http.get("/dispatches/mine", headers=mid.headers)
    assert [d["alert_id"] for d in mine.json()["dispatches"]] == [alert_id]


@pytest.mark.short_ack
async def test_no_acknowledgement_passes_the_alert_to_the_next_nearest_unit(
    served: Served, city: City, crews: dict[str, Crew]
) -> None:
    near, mid = crews["near"], crews["mid"]
    alert_id = await open_alert(served, city.camera)
    operator = await staff(served, Role.OPERATOR, city.district)
    async with connect(f"{served.ws_url}/ws/alerts", subprotocols=ws_auth(served.token)) as feed:
        await asyncio.sleep(0.2)
        sent = await served.http.post(
            f"/alerts/{alert_id}/dispatch", json={"unit_id": near.unit_id}, headers=operator
        )
        assert sent.status_code == 201
        started = time.monotonic()
        timeout_event = await feed_events(feed, city.camera, "dispatch_timeout", within_s=10)
        took = time.monotonic() - started
    assert timeout_event["change"]["unit_id"] == near.unit_id
    assert timeout_event["change"]["actor"] == "system:ack-timeout"
    sent_at = datetime.fromisoformat(sent.json()["dispatch"]["created_at"])
    waited = (datetime.fromisoformat(timeout_event["change"]["at"]) - sent_at).total_seconds()
    print(
        f"passed on {waited:.2f}s after dispatch (ack timeout {ACK_TIMEOUT_S} s, tick 0.1 s); "
        f"operators saw it {took:.2f}s after"
    )
    assert ACK_TIMEOUT_S <= waited < ACK_TIMEOUT_S + 1.5

    history = await eventually(lambda: _dispatches(served, alert_id, 2))
    first, second = history["dispatches"]
    assert (first["unit_id"], first["status"]) == (near.unit_id, "timed_out")
    assert (second["unit_id"], second["status"], second["attempt"]) == (mid.unit_id, "pending", 2)
    assert second["auto"] and "did not acknowledge" in second["note"]
    assert history["status"] == "dispatched"

    async with officer_socket(served, near) as ws:  # the first unit is told to stand down
        kinds = [await _dispatch_kind(ws) for _ in range(2)]
    assert kinds == ["dispatch", "cancelled"]
    async with officer_socket(served, mid) as ws:
        message = await next_message(ws, type="dispatch")
        late = await served.http.post(f"/dispatches/{first['id']}/ack", headers=near.headers)
        assert late.status_code == 409  # too late: passed on
        await ws.send(json.dumps({"type": "ack", "dispatch_id": message["notice"]["dispatch_id"]}))
        assert (await next_message(ws, type="result"))["dispatch"]["status"] == "acknowledged"
    await asyncio.sleep(ACK_TIMEOUT_S + 0.5)  # acknowledged: no further passing on
    assert len((await lifecycle(served.http, alert_id))["dispatches"]) == 2


async def _dispatch_kind(ws: ClientConnection) -> str:
    """The type of the next dispatch message (bulletins from other tests' arrests may come in between)."""
    while True:
        kind = str((await next_message(ws))["type"])
        if kind in ("dispatch", "cancelled"):
            return kind


async def _dispatches(served: Served, alert_id: int, count: int) -> dict[str, object] | None:
    history = await lifecycle(served.http, alert_id)
    return history if len(history["dispatches"]) == count else None


async def _true(value: bool) -> bool:
    return value


@pytest.mark.short_ack
async def test_when_no_unit_is_left_the_alert_goes_back_to_operators(
    served: Served, city: City, crews: dict[str, Crew]
) -> None:
    for name in ("mid", "far"):  # only the near unit is available
        await served.http.patch(f"/patrol/units/{crews[name].unit_id}", json={"duty_status": "off_duty"})
    alert_id = await open_alert(served, city.camera)
    operator = await staff(served, Role.OPERATOR, city.district)
    await served.http.post(f"/alerts/{alert_id}/acknowledge", headers=operator)
    sent = await served.http.post(
        f"/alerts/{alert_id}/dispatch", json={"unit_id": crews["near"].unit_id}, headers=operator
    )
    assert sent.status_code == 201
    history = await eventually(lambda: _status(served, alert_id, "acknowledged"))
    assert [t["action"] for t in history["transitions"]][-2:] == ["dispatch_timeout", "recall"]


async def _status(served: Served, alert_id: int, status: str) -> dict[str, object] | None:
    history = await lifecycle(served.http, alert_id)
    return history if history["status"] == status else None


async def test_reassigning_stands_the_first_unit_down(
    served: Served, city: City, crews: dict[str, Crew]
) -> None:
    alert_id = await open_alert(served, city.camera)
    operator = await staff(served, Role.OPERATOR, city.district)
    for name in ("near", "mid"):
        sent = await served.http.post(
            f"/alerts/{alert_id}/dispatch", json={"unit_id": crews[name].unit_id}, headers=operator
        )
        assert sent.status_code == 201
    same = await served.http.post(
        f"/alerts/{alert_id}/dispatch", json={"unit_id": crews["mid"].unit_id}, headers=operator
    )
    assert same.status_code == 409
    history = await lifecycle(served.http, alert_id)
    assert [d["status"] for d in history["dispatches"]] == ["superseded", "pending"]
    units = {u["id"]: u["duty_status"] for u in (await served.http.get("/patrol/units")).json()}
    assert (units[crews["near"].unit_id], units[crews["mid"].unit_id]) == ("available", "busy")
    dismissed = await served.http.post(
        f"/alerts/{alert_id}/dismiss", json={"reason": "wrong person: verified on CCTV"}, headers=operator
    )
    assert dismissed.status_code == 200 and dismissed.json()["dispatch"]["status"] == "dismissed"


async def test_auto_dispatch_sends_the_nearest_unit_to_the_most_urgent_alerts(
    settings: Settings, nc: Client, city: City
) -> None:
    """The default policy: priority 1 ("wanted") goes out by itself, priority 2 ("missing") waits."""
    default = DispatchSettings().auto_dispatch_max_priority
    assert default == 1
    auto = settings.model_copy(
        update={"dispatch": settings.dispatch.model_copy(update={"auto_dispatch_max_priority": default})}
    )
    async with serve_city(auto, nc) as served:
        near = await add_unit(served, city.unit("near"), city.district)
        mid = await add_unit(served, city.unit("mid"), city.district)
        await report(served, near, north_of_camera(300))
        await report(served, mid, north_of_camera(600))
        try:
            started = time.monotonic()
            urgent = await open_alert(served, city.camera, profile_id=21, category="wanted")  # priority 1
            routine = await open_alert(served, city.camera, profile_id=22, category="missing")  # priority 2
            history = await eventually(lambda: _status(served, urgent, "dispatched"))
            took = time.monotonic() - started
            print(f"auto-dispatched {took:.2f}s after the alert was stored")
            [dispatch] = history["dispatches"]
            assert dispatch["unit_id"] == near.unit_id and dispatch["auto"]
            assert history["transitions"][0]["actor"] == "system:auto-dispatch"
            await asyncio.sleep(0.5)
            assert (await lifecycle(served.http, routine))["status"] == "new"
            async with officer_socket(served, near) as ws:
                message = await next_message(ws, type="dispatch")
            assert message["notice"]["auto"] and message["notice"]["alert_id"] == urgent
            assert jpeg((0, 0, 255)) == base64.b64decode(message["notice"]["photo_jpeg"])
        finally:
            for crew in (near, mid):
                await forget_officer_channel(nc, crew)


@pytest.mark.short_ack
async def test_two_replicas_escalate_and_pass_on_each_alert_once(
    settings: Settings, nc: Client, city: City
) -> None:
    """Two command centres on one database and Redis, both running the policy loop."""
    both = settings.model_copy(
        update={"dispatch": settings.dispatch.model_copy(update={"escalate_after_s": {1: 1.0}})}
    )
    async with serve_city(both, nc) as first, serve_city(both, nc) as second:
        near = await add_unit(first, city.unit("near"), city.district)
        mid = await add_unit(first, city.unit("mid"), city.district)
        await report(first, near, north_of_camera(300))
        await report(second, mid, north_of_camera(700))
        operator = await staff(first, Role.OPERATOR, city.district)
        try:
            waiting = await open_alert(first, city.camera, profile_id=31, category="wanted")
            sent_to = await open_alert(second, city.camera, profile_id=32, category="wanted")
            await first.http.post(f"/alerts/{sent_to}/acknowledge", headers=operator)
            sent = await second.http.post(
                f"/alerts/{sent_to}/dispatch", json={"unit_id": near.unit_id}, headers=operator
            )
            assert sent.status_code == 201
            history = await eventually(lambda: _dispatches(first, sent_to, 2))
            second_id = history["dispatches"][1]["id"]
            acked = await second.http.post(f"/dispatches/{second_id}/ack", headers=mid.headers)
            assert acked.status_code == 200, acked.text
            await asyncio.sleep(ACK_TIMEOUT_S + 0.5)  # several more ticks of both loops
            escalated = await lifecycle(second.http, waiting)
            assert [t["action"] for t in escalated["transitions"]] == ["escalate"]
            passed = await lifecycle(first.http, sent_to)
            assert [(d["unit_id"], d["status"]) for d in passed["dispatches"]] == [
                (near.unit_id, "timed_out"),
                (mid.unit_id, "acknowledged"),
            ]
            actions = [t["action"] for t in passed["transitions"]]
            assert actions == ["acknowledge", "dispatch", "dispatch_timeout", "dispatch", "dispatch_ack"]
            loops = [s.app.state.services.dispatch.policy.stats for s in (first, second)]
            assert sum(loop.passed_on for loop in loops) == 1
        finally:
            for crew in (near, mid):
                await forget_officer_channel(nc, crew)
