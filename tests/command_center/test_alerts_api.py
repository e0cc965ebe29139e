"""The command centre end to end on real NATS JetStream and both databases: hits in, alerts out."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from nats.aio.client import Client
from websockets.asyncio.client import ClientConnection, connect

from command_center.app import create_app
from pipeline.adapters import bus
from pipeline.contracts import EvidenceSource, FaceHit
from pipeline.settings import Settings
from tests.command_center.helpers import T0, Served, camera, eventually, hit, jpeg, ws_auth
from tests.names import subjects


async def publish(nc: Client, *hits: FaceHit) -> None:
    js = nc.jetstream()
    for h in hits:
        await js.publish(subjects.hits("face", h.camera_id), h.to_bytes(), stream=subjects.hits_stream)


async def alerts_of(served: Served, cam: str) -> list[dict[str, Any]]:
    response = await served.http.get("/alerts", params={"camera_id": cam})
    assert response.status_code == 200
    alerts: list[dict[str, Any]] = response.json()["alerts"]
    return alerts


async def next_event(
    ws: ClientConnection, cam: str, served: Served, within_s: float = 10.0
) -> dict[str, Any]:
    """The next AlertEvent of this camera stored by *this* command centre: other command centres on the
    same NATS server (concurrent test runs) store the same hits and announce them under their own ids."""
    async with asyncio.timeout(within_s):
        while True:
            event: dict[str, Any] = json.loads(await ws.recv())
            if event["camera_id"] == cam and await _ours(served, event):
                return event


async def _ours(served: Served, event: dict[str, Any]) -> bool:
    response = await served.http.get(f"/alerts/{event['alert_id']}")
    if response.status_code != 200:
        return False
    mine = response.json()
    return bool(
        mine["camera_id"] == event["camera_id"] and mine["created_at"] == event["alert"]["created_at"]
    )


async def stats(served: Served) -> dict[str, int]:
    body = (await served.http.get("/health/ready")).json()
    consumer: dict[str, int] = body["consumer"]
    return consumer


async def test_a_hit_becomes_an_alert_pushed_to_the_websocket(served: Served, nc: Client) -> None:
    cam = camera()
    async with connect(f"{served.ws_url}/ws/alerts", subprotocols=ws_auth(served.token)) as ws:
        await eventually(lambda: _has_clients(served))
        await publish(nc, hit(cam, similarity=0.7))
        event = await next_event(ws, cam, served)
    assert event["kind"] == "created"
    alert = event["alert"]
    assert (alert["camera_id"], alert["profile_name"], alert["hit_count"]) == (cam, "Person 7", 1)
    [listed] = await alerts_of(served, cam)
    assert listed == alert
    one = (await served.http.get(f"/alerts/{alert['id']}")).json()
    assert one["evidence"] == {
        "crop": f"/alerts/{alert['id']}/evidence/crop",
        "scene": f"/alerts/{alert['id']}/evidence/scene",
    }
    assert one["profile_photo"] == "/watchlist/profiles/7/photo"
    for kind in ("crop", "scene"):
        response = await served.http.get(one["evidence"][kind])
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[0] > 0


async def test_an_alert_says_when_its_images_are_from_the_main_stream(served: Served, nc: Client) -> None:
    cam = camera()
    source = EvidenceSource(stream="main", width=3840, height=2160, offset_ms=12.5, correlation=0.98)
    await publish(nc, hit(cam, similarity=0.6).model_copy(update={"evidence": source}))
    [alert] = await eventually(lambda: alerts_of(served, cam))
    assert alert["details"]["evidence"] == source.model_dump(mode="json")
    await publish(nc, hit(cam, similarity=0.7))  # a better sighting from the analysed stream's own frame
    better = await eventually(
        lambda: _first_if(alerts_of(served, cam), lambda a: a["best_similarity"] == pytest.approx(0.7))
    )
    assert "evidence" not in better["details"]  # the images and what is said of them change together


async def _first_if(listing: Awaitable[list[dict[str, Any]]], check: Callable[[dict[str, Any]], bool]) -> Any:
    return next((a for a in await listing if check(a)), None)


async def _has_clients(served: Served) -> bool:
    return bool((await served.http.get("/health/ready")).json()["websocket_clients"])


async def test_updates_reach_the_websocket_and_a_redelivered_hit_changes_nothing(
    served: Served, nc: Client
) -> None:
    cam = camera()
    first = hit(cam, similarity=0.5)
    async with connect(f"{served.ws_url}/ws/alerts", subprotocols=ws_auth(served.token)) as ws:
        await eventually(lambda: _has_clients(served))
        await publish(nc, first, first)  # the same event twice, as a redelivery would bring it
        await publish(nc, hit(cam, similarity=0.6, at=T0 + timedelta(seconds=5)))
        created = await next_event(ws, cam, served)
        updated = await next_event(ws, cam, served)
    assert created["kind"] == "created" and updated["kind"] == "updated"
    assert updated["alert"]["hit_count"] == 2
    [alert] = await alerts_of(served, cam)
    assert alert["hit_count"] == 2
    assert (await stats(served))["duplicates"] >= 1


async def test_the_merge_window_groups_hits_and_keeps_the_best_evidence(served: Served, nc: Client) -> None:
    cam = camera()
    best = jpeg((0, 255, 0), 48)
    await publish(
        nc,
        hit(cam, similarity=0.5, at=T0),
        hit(cam, similarity=0.8, at=T0 + timedelta(seconds=20), crop=best),
        hit(cam, similarity=0.6, at=T0 + timedelta(seconds=40)),
        hit(cam, similarity=0.6, at=T0 + timedelta(seconds=101)),  # 61 s after the last: a new episode
    )
    alerts = await eventually(lambda: _alerts_with_hits(served, cam, 4))
    newer, older = alerts
    assert (older["hit_count"], newer["hit_count"]) == (3, 1)
    assert older["best_similarity"] == pytest.approx(0.8)
    crop = await served.http.get(older["evidence"]["crop"])
    assert crop.content == best


async def _alerts_with_hits(served: Served, cam: str, total: int) -> list[dict[str, Any]] | None:
    alerts = await alerts_of(served, cam)
    return alerts if sum(a["hit_count"] for a in alerts) == total else None


async def test_an_invalid_message_is_terminated_and_consuming_goes_on(
    served: Served, nc: Client, settings: Settings
) -> None:
    cam = camera()
    js = nc.jetstream()
    await js.publish(subjects.hits("face", cam), b"not json", stream=subjects.hits_stream)
    await js.publish(subjects.hits("face", cam), b'{"camera_id": "x"}', stream=subjects.hits_stream)
    await publish(nc, hit(cam))
    await eventually(lambda: alerts_of(served, cam))
    assert (await stats(served))["invalid"] >= 2
    name = settings.command_center.consumer_name

    async def settled() -> bool:
        info = await js.consumer_info(subjects.hits_stream, name)
        return bool(info.num_ack_pending == 0 and info.num_redelivered == 0)

    await eventually(settled)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/alerts/987654", 404),
        ("/alerts/987654/evidence/crop", 404),
        ("/alerts/abc", 422),
        ("/alerts/0", 422),
        ("/alerts/99999999999999999999", 422),
        ("/alerts/1/evidence/thumbnail", 422),
        ("/alerts?limit=0", 422),
        ("/alerts?limit=100000", 422),
        ("/alerts?limit=ten", 422),
        ("/alerts?before_id=-1", 422),
        ("/alerts?camera_id=no%20spaces", 422),
        ("/alerts?status=DROP%20TABLE", 422),
        ("/watchlist/profiles/987654?reason=FIR%2012%2F2025", 404),
        ("/watchlist/profiles/987654/photo", 404),
        ("/watchlist/profiles?category=nonsense&reason=FIR%2012%2F2025", 422),
        ("/watchlist/profiles?offset=-1&reason=FIR%2012%2F2025", 422),
        ("/watchlist/profiles", 422),  # no stated reason
        ("/nowhere", 404),
    ],
)
async def test_bad_requests_get_a_4xx_with_a_reason(served: Served, path: str, status: int) -> None:
    response = await served.http.get(path)
    assert response.status_code == status
    assert response.json()["detail"]


async def test_health_and_console(served: Served) -> None:
    assert (await served.http.get("/health/live")).json() == {"status": "ok"}
    for path in ("/health/ready", "/health"):
        response = await served.http.get(path)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ok"
    page = await served.http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/static/js/console/main.js"' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    for asset in ("/static/js/console/main.js", "/static/console.css", "/static/vendor/leaflet/leaflet.js"):
        assert (await served.http.get(asset)).status_code == 200


async def test_a_body_over_the_limit_is_refused(served: Served) -> None:
    big = b"\xff\xd8" + b"\0" * 2_100_000
    response = await served.http.post(
        "/watchlist/profiles",
        data={"name": "Someone", "category": "wanted"},
        files=[("photos", ("big.jpg", big, "image/jpeg"))],
    )
    assert response.status_code == 413


def _silent_client(served: Served) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads (a tiny receive window)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(served.url.rsplit(":", 1)[1])))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: bearer, {served.token}\r\n\r\n".encode()
    )
    return sock


async def test_a_client_that_cannot_keep_up_is_dropped_without_holding_up_others(served: Served) -> None:
    feed = served.app.state.services.feed
    with _silent_client(served):
        async with connect(f"{served.ws_url}/ws/alerts", subprotocols=ws_auth(served.token)) as healthy:
            await eventually(lambda: _clients(served, 2))
            received = 0
            for n in range(3000):
                feed.broadcast(json.dumps({"camera_id": "flood", "n": n, "pad": "x" * 16_000}))
                assert (await _own(healthy))["n"] == n
                received += 1
                if feed.dropped_clients:
                    break
            assert feed.dropped_clients == 1
            assert feed.client_count == 1  # the healthy one stays
            assert received == n + 1
            feed.broadcast(json.dumps({"camera_id": "after"}))
            assert await _own(healthy) == {"camera_id": "after"}


async def _own(ws: ClientConnection) -> dict[str, Any]:
    """The next message this test broadcast, skipping alert events of other command centres on the same
    NATS (the feed relays every replica's events, and tests share the machine's NATS)."""
    while True:
        message = json.loads(await ws.recv())
        if message.get("camera_id") in ("flood", "after"):
            return dict(message)


async def _clients(served: Served, count: int) -> bool:
    return bool((await served.http.get("/health/ready")).json()["websocket_clients"] == count)


async def test_start_fails_clearly_when_nats_never_answers(settings: Settings) -> None:
    from tests.services import free_port

    unreachable = settings.model_copy(update={"nats_url": f"nats://127.0.0.1:{free_port()}"})
    app = create_app(unreachable, nats_wait_s=0.5)
    with pytest.raises(bus.BusUnavailable, match="did not answer"):
        async with app.router.lifespan_context(app):
            pass
