"""From a camera to an officer's acknowledgement, with every part real: camera_sim (RTSP) → worker (YuNet +
MobileFaceNet + FAISS) → NATS JetStream → command centre (alert, lifecycle, Redis GEO) → the operator
dispatches the nearest unit → the officer, whose app connects only afterwards, receives it on the
durable channel and acknowledges it."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
import yaml
from websockets.typing import Subprotocol

from tests.e2e.procs import (
    Processes,
    add_staff,
    get_json,
    outbox_of,
    sign_in,
    wait_http,
    write_system_config,
)
from tests.services import SHARED

pytestmark = pytest.mark.e2e
DISTRICT = "Islamabad"
CAMERA_AT = (33.7000, 73.0500)
FACES = SHARED / "media" / "faces"
TARGET = "Lin-Manuel Miranda"


@pytest.fixture
def system(
    tmp_path: Path, nats_url: str, redis_url: str, database_url: str, models_dir: Path
) -> Iterator[tuple[Processes, str, str, str]]:
    tag = uuid.uuid4().hex[:8]
    camera = f"e2e-dispatch-{tag}"
    config, _scenario, port = write_system_config(
        tmp_path,
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=database_url,
        models_dir=models_dir,
        videos={camera: "hamilton_whitehouse_clip.mp4"},
        tag=tag,
        district=DISTRICT,
    )
    settings = yaml.safe_load(config.read_text())
    settings["cameras"][0].update(latitude=CAMERA_AT[0], longitude=CAMERA_AT[1], name="Constitution Avenue")
    # The operator dispatches by hand here: auto-dispatch (priority 1 by default) is turned off.
    settings["dispatch"] = {
        "redis_prefix": f"e2e:patrol:{tag}",
        "ack_timeout_s": 120,
        "tick_s": 0.5,
        "auto_dispatch_max_priority": 0,
    }
    config.write_text(yaml.safe_dump(settings))
    procs = Processes(tmp_path, config)
    try:
        yield procs, f"http://127.0.0.1:{port}", camera, tag
    finally:
        procs.stop_all()


def call(base: str, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def offer(token: str) -> list[Subprotocol]:
    return [Subprotocol("bearer"), Subprotocol(token)]


async def first_alert(
    ws_url: str, token: str, camera: str, profile_id: int, within_s: float
) -> dict[str, Any]:
    async with websockets.connect(f"{ws_url}/ws/alerts", subprotocols=offer(token)) as ws:
        async with asyncio.timeout(within_s):
            while True:
                event = json.loads(await ws.recv())
                alert = event.get("alert", {})
                if event.get("camera_id") == camera and alert.get("profile_id") == profile_id:
                    found: dict[str, Any] = alert
                    return found


async def officer_acknowledges(
    ws_url: str, token: str, within_s: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    async with websockets.connect(f"{ws_url}/ws/officer", subprotocols=offer(token)) as ws:
        async with asyncio.timeout(within_s):
            message = json.loads(await ws.recv())
            while message.get("type") != "dispatch":
                message = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "received", "seq": message["seq"]}))
            await ws.send(json.dumps({"type": "ack", "dispatch_id": message["notice"]["dispatch_id"]}))
            result = json.loads(await ws.recv())
            while result.get("type") not in ("result", "error"):
                result = json.loads(await ws.recv())
    return message, result


def test_a_face_on_camera_ends_in_an_officer_acknowledgement(system: tuple[Processes, str, str, str]) -> None:
    procs, base, camera, tag = system
    ws_url = base.replace("http://", "ws://")
    enrolled = procs.enroll(TARGET, [FACES / "lin_manuel_miranda/examples_lin-manuel-miranda.png"], "e2e")
    assert enrolled.returncode == 0, enrolled.stderr
    profile_id = json.loads(enrolled.stdout)["profile_id"]

    cc = procs.start("command-center", "command-center")
    wait_http(f"{base}/health/ready", 60, cc)
    outbox = outbox_of(procs.workdir)
    operator = sign_in(base, outbox, *add_staff(procs, "operator", DISTRICT))
    supervisor = sign_in(base, outbox, *add_staff(procs, "supervisor"))
    officer = sign_in(base, outbox, *add_staff(procs, "patrol_officer", DISTRICT))
    officer_id = get_json(f"{base}/auth/me", officer)["id"]

    # A supervisor sets up two units; the officer's app reports his unit 600 m from the camera.
    for unit, crew in ((f"ISB-{tag}-1", [officer_id]), (f"ISB-{tag}-2", [])):
        call(base, "POST", "/patrol/units", supervisor, {"id": unit, "name": unit, "district": DISTRICT})
        call(base, "POST", f"/patrol/units/{unit}/crew", supervisor, {"officer_ids": crew})
    unit_id = f"ISB-{tag}-1"
    near = {"latitude": CAMERA_AT[0] + 600 / 111_195, "longitude": CAMERA_AT[1]}
    assert call(base, "POST", "/patrol/position", officer, near)["outcome"] == "stored"

    async def scenario() -> dict[str, Any]:
        waiting = asyncio.create_task(first_alert(ws_url, operator, camera, profile_id, 150))
        await asyncio.sleep(0.5)
        procs.start("camera-sim", "camera-sim", "--loops", "4")  # a loaded machine analyses fewer frames
        procs.start("worker", "worker", "--stop-at-end")
        return await waiting

    alert = asyncio.run(scenario())
    assert alert["profile_name"] == TARGET, procs.logs()

    started = time.perf_counter()
    suggested = call(base, "GET", f"/alerts/{alert['id']}/dispatch/suggestions", operator)
    suggest_ms = (time.perf_counter() - started) * 1000
    assert [s["unit"]["id"] for s in suggested["units"]] == [unit_id]  # the other unit has no crew
    assert abs(suggested["units"][0]["distance_m"] - 600) < 10
    sent = call(
        base, "POST", f"/alerts/{alert['id']}/dispatch", operator, {"unit_id": unit_id, "note": "e2e"}
    )
    dispatched_at = time.perf_counter()
    assert sent["alert"]["status"] == "dispatched"

    # The officer's app connects only now, and finds the dispatch waiting.
    message, result = asyncio.run(officer_acknowledges(ws_url, officer, 20))
    acked_ms = (time.perf_counter() - dispatched_at) * 1000
    notice = message["notice"]
    assert notice["alert_id"] == alert["id"] and notice["subject"]["name"] == TARGET
    assert notice["photo_jpeg"] and notice["camera_name"] == "Constitution Avenue"
    assert result["type"] == "result" and result["dispatch"]["status"] == "acknowledged", result
    history = call(base, "GET", f"/alerts/{alert['id']}/lifecycle", operator)
    assert [t["action"] for t in history["transitions"]] == ["dispatch", "dispatch_ack"]
    print(f"suggestions {suggest_ms:.0f} ms; dispatch → officer's acknowledgement {acked_ms:.0f} ms")
