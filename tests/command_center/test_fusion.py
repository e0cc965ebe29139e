"""Face + plate fusion on both databases: a CRO person's face and known vehicle seen within the window and
distance raise exactly one fused alert, more urgent, linking both; too late or too far raises none; a
redelivered event, or two replicas at once, still one."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.client import Client

from command_center.records.fusion import FaceVehicleFusion
from command_center.security.permissions import Role
from pipeline.contracts import AlertEvent
from pipeline.settings import Settings
from tests.command_center.fusion_helpers import alerts_of, see_face, see_plate, served_with_places, suspect
from tests.command_center.helpers import Served, eventually
from tests.command_center.records_helpers import client
from tests.names import subjects


def fusion_of(served: Served) -> FaceVehicleFusion:
    found: FaceVehicleFusion = served.app.state.services.records.fusion
    return found


async def fused(served: Served, person_id: int) -> list[dict[str, Any]]:
    return [a for a in await alerts_of(served, kind="fusion") if a["profile_id"] == person_id]


async def test_face_and_vehicle_together_raise_one_fused_alert(settings: Settings, nc: Client) -> None:
    async with served_with_places(settings, nc) as (served, cams):
        async with await client(served, Role.RECORDS_CLERK) as clerk:
            who = await suspect(served, clerk)
        face = await see_face(served, nc, cams["face"], who)
        plate = await see_plate(served, nc, cams["near"], who, at_s=120)  # 2 min later, ~400 m away

        [alert] = await eventually(lambda: fused(served, who.person_id), within_s=30)
        assert alert["priority"] == max(1, min(face["priority"], plate["priority"]) - 1)
        assert alert["priority"] < min(face["priority"], plate["priority"]) or alert["priority"] == 1
        assert (alert["camera_id"], alert["district"]) == (cams["face"], "Lahore")
        assert alert["person"] == f"/persons/{who.person_id}"
        details = alert["details"]
        assert details["face_alert"]["id"] == face["id"] and details["plate_alert"]["id"] == plate["id"]
        assert details["face_alert"]["url"] == f"/alerts/{face['id']}"
        assert details["plate_alert"]["crop"] == f"/alerts/{plate['id']}/evidence/crop"
        assert details["plate_alert"]["plate"] == who.plate.replace("-", "")
        assert 0 < details["distance_m"] < 2000 and details["gap_s"] <= 600
        assert alert["listed"]["headline"] == "Shahid Butt"

        # Both crops: the face's as the crop, the plate's as the scene.
        for mine, theirs in (("crop", face), ("scene", plate)):
            got = await served.http.get(f"/alerts/{alert['id']}/evidence/{mine}")
            own = await served.http.get(f"/alerts/{theirs['id']}/evidence/crop")
            assert got.status_code == 200 and got.content == own.content

        # Redelivered events, and two replicas considering the same alert at once: still one.
        event = AlertEvent(kind="created", alert_id=plate["id"], camera_id=plate["camera_id"], alert=plate)
        await nc.publish(subjects.alert_events(), event.to_bytes())
        again = await asyncio.gather(*(fusion_of(served).consider(i) for i in (face["id"], plate["id"])))
        assert again == [[alert["id"]], [alert["id"]]]
        assert [a["id"] for a in await fused(served, who.person_id)] == [alert["id"]]
        assert (await served.http.get(f"/alerts/{alert['id']}")).json()["hit_count"] == 1

        about = await alerts_of(served, subject=f"person:{who.person_id}")
        assert {a["id"] for a in about} == {alert["id"], face["id"], plate["id"]}


async def test_too_late_or_too_far_raises_no_fused_alert(settings: Settings, nc: Client) -> None:
    async with served_with_places(settings, nc) as (served, cams):
        async with await client(served, Role.RECORDS_CLERK) as clerk:
            late, far = (
                await suspect(served, clerk, "Nadeem Akhtar"),
                await suspect(served, clerk, "Kashif Ali"),
            )
        fusion = fusion_of(served)

        face = await see_face(served, nc, cams["face"], late)
        plate = await see_plate(served, nc, cams["near"], late, at_s=15 * 60)  # 15 min: past the 10
        assert await fusion.consider(face["id"]) == [] and await fusion.consider(plate["id"]) == []

        face = await see_face(served, nc, cams["face"], far, at_s=30 * 60)
        plate = await see_plate(served, nc, cams["far"], far, at_s=30 * 60 + 60)  # a minute, but 5 km away
        assert await fusion.consider(face["id"]) == [] and await fusion.consider(plate["id"]) == []
        assert await alerts_of(served, kind="fusion") == []


async def test_fusion_settings_have_defaults_and_bounds() -> None:
    defaults = Settings().fusion
    assert (defaults.enabled, defaults.window_s, defaults.distance_m) == (True, 600.0, 2000.0)
    for wrong in ({"window_s": 0}, {"distance_m": -1}, {"radius_m": 10}):
        try:
            Settings.model_validate({"fusion": wrong})
        except ValueError:
            continue
        raise AssertionError(f"fusion {wrong} was accepted")
