"""Plate reads on real NATS and both databases: read log, hotlist matching, one plate alert per pass."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from nats.aio.client import Client

from pipeline.contracts import Box, PlateRead
from tests.command_center.helpers import T0, Served, camera, eventually, jpeg
from tests.names import subjects
from watchlist.vehicle_types import NewVehicle
from watchlist.vehicles import VehicleHotlist


def plate_read(camera_id: str, text: str, display: str, *, at_s: float = 0.0) -> PlateRead:
    seen = T0 + timedelta(seconds=at_s)
    return PlateRead(
        camera_id=camera_id,
        worker_id="worker-test",
        track_id=11,
        text=text,
        display=display,
        country="pk",
        plate_format="pk-3l4d",
        confidence=0.91,
        frames_read=9,
        first_seen_at=seen,
        last_seen_at=seen + timedelta(seconds=2),
        captured_at=seen + timedelta(seconds=1),
        box=Box(x=100, y=200, w=120, h=40),
        detector_score=0.8,
        crop_jpeg=jpeg((0, 180, 0)),
        scene_jpeg=jpeg((30, 30, 30), 96),
    )


async def publish(nc: Client, read: PlateRead) -> None:
    await nc.jetstream().publish(subjects.plates_read(read.camera_id), read.to_bytes())


def add_vehicle(served: Served, plate: str, status: str = "stolen", **extra: Any) -> int:
    hotlist = VehicleHotlist(served.app.state.services.engine)
    vehicle = NewVehicle(
        plate=plate, status=status, reason="taken at gunpoint", case_reference="FIR 88/26", **extra
    )
    return hotlist.add(vehicle, "staff:1:Test").id


async def plate_alerts(served: Served, cam: str) -> list[dict[str, Any]]:
    page = (await served.http.get("/alerts", params={"camera_id": cam})).json()
    return [a for a in page["alerts"] if a["kind"] == "plate"]


async def test_a_hotlisted_plate_read_becomes_one_plate_alert_and_every_read_is_logged(
    served: Served, nc: Client
) -> None:
    cam = camera()
    entry_id = await asyncio.to_thread(add_vehicle, served, f"LEA-10{uuid.uuid4().int % 100:02d}")
    entry = VehicleHotlist(served.app.state.services.engine).get(entry_id)
    assert entry is not None
    consumer = served.app.state.services.plate_reads
    await asyncio.to_thread(consumer.matcher.load, VehicleHotlist(served.app.state.services.engine))

    # An O/0 confusion of the hotlisted plate, a stranger's plate, then the same pass redelivered.
    misread = entry.plate_key.replace("0", "O")
    assert misread != entry.plate_key
    first = plate_read(cam, misread, entry.plate, at_s=0)
    await publish(nc, first)
    await publish(nc, plate_read(cam, "BFR123", "BFR-123", at_s=5))
    await publish(nc, first)

    async def one_alert() -> list[dict[str, Any]]:
        return await plate_alerts(served, cam)

    (alert,) = await eventually(one_alert, 30)
    assert alert["profile_id"] == entry_id and alert["category"] == "vehicle:stolen"
    assert alert["vehicle"] == f"/vehicles/{entry_id}" and alert["profile_photo"] is None
    assert alert["details"]["read_display"] == entry.plate
    crop = await served.http.get(alert["evidence"]["crop"])
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"

    log = consumer.log

    async def both_logged() -> bool:
        rows = await asyncio.to_thread(log.sightings, camera_id=cam)
        return len(rows) == 2

    await eventually(both_logged)
    rows = await asyncio.to_thread(log.sightings, camera_id=cam)
    by_key = {row["plate_key"]: row for row in rows}
    assert by_key["BFR123"]["hotlist_entry_id"] is None
    assert by_key[misread]["hotlist_entry_id"] == entry_id
    await asyncio.sleep(1.0)  # nothing more arrives: the redelivered read alerted once
    assert len(await plate_alerts(served, cam)) == 1
    assert consumer.stats.duplicates >= 1


async def test_a_recovered_vehicle_is_logged_but_does_not_alert(served: Served, nc: Client) -> None:
    cam = camera()
    plate = f"KA{uuid.uuid4().int % 90 + 10}P{uuid.uuid4().int % 9000 + 1000}"
    await asyncio.to_thread(add_vehicle, served, plate, "recovered")
    consumer = served.app.state.services.plate_reads
    await asyncio.to_thread(consumer.matcher.load, VehicleHotlist(served.app.state.services.engine))
    await publish(nc, plate_read(cam, plate, plate))

    async def logged() -> bool:
        return bool(await asyncio.to_thread(consumer.log.sightings, camera_id=cam))

    await eventually(logged)
    await asyncio.sleep(1.0)
    assert await plate_alerts(served, cam) == []


async def test_the_read_log_is_searched_with_a_reason_and_every_search_is_audited(
    served: Served, nc: Client
) -> None:
    cam = camera()
    plate = f"BFR{uuid.uuid4().int % 900 + 100}"
    await publish(nc, plate_read(cam, plate, f"{plate[:3]}-{plate[3:]}"))
    consumer = served.app.state.services.plate_reads

    async def logged() -> bool:
        return bool(await asyncio.to_thread(consumer.log.sightings, camera_id=cam))

    await eventually(logged)
    no_reason = await served.http.get("/plates/reads", params={"plate": plate})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    reason = "FIR 88/26 movement enquiry"
    found = await served.http.get("/plates/reads", params={"plate": f"{plate[:4]}*", "reason": reason})
    assert found.status_code == 200, found.text
    (read,) = [r for r in found.json() if r["camera_id"] == cam]
    assert read["plate"] == plate and read["display"] == f"{plate[:3]}-{plate[3:]}"
    crop = await served.http.get(read["crop"])
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
    trail = (await served.http.get("/audit", params={"action": "plates.search_reads"})).json()["entries"]
    assert any(e["reason"] == reason and e["target"] == f"plate:{plate[:4]}*" for e in trail)
    bare = await served.http.get("/plates/reads", params={"plate": "***", "reason": reason})
    assert bare.status_code == 422
