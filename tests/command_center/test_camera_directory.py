"""Cameras added or moved in the fleet's KV catalogue at run time reach the command centre with no restart:
the camera list and map, and the district an alert is routed to."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from command_center.app import create_app
from command_center.security.permissions import Role
from pipeline.adapters.fleet import camera_bytes, open_catalogue, read_catalogue
from pipeline.settings import CameraConfig, Settings
from tests.command_center.helpers import bearer, eventually, hit, serve, staff_session
from tests.names import subjects


async def test_the_live_catalogue_adds_and_moves_cameras_for_lists_and_alert_routing(
    settings: Settings, nc: Client
) -> None:
    tag = uuid.uuid4().hex[:8]
    configured, added = f"cfg-{tag}", f"kv-{tag}"
    fleet = f"dir{tag}"
    pinned = CameraConfig(id=configured, url=f"rtsp://127.0.0.1/{configured}", district="Islamabad")
    with_fleet = settings.model_copy(
        update={
            "cameras": [pinned],
            "worker": settings.worker.model_copy(update={"fleet": fleet}),
        }
    )
    kv = await open_catalogue(nc.jetstream(), subjects, fleet)
    try:
        app = create_app(with_fleet, hits_deliver_policy=DeliverPolicy.NEW)
        async with serve(app) as served:
            supervisor = await staff_session(served.app, Role.SUPERVISOR)
            lahore = await staff_session(served.app, Role.OPERATOR, ("Lahore",))

            async def listed(token: str) -> dict[str, Any]:
                response = await served.http.get("/cameras", headers=bearer(token))
                assert response.status_code == 200, response.text
                return {c["id"]: c for c in response.json()}

            assert set(await listed(supervisor.access_token)) == {configured}

            # An operator adds a camera to the catalogue while everything runs.
            camera = CameraConfig(
                id=added,
                name="Liberty roundabout",
                url=f"rtsp://127.0.0.1/{added}",
                district="Lahore",
                latitude=31.51,
                longitude=74.34,
            )
            await kv.put(added, camera_bytes(camera))

            async def both() -> dict[str, Any] | None:
                cameras = await listed(supervisor.access_token)
                return cameras if added in cameras else None

            cameras = await eventually(both)
            assert cameras[added]["district"] == "Lahore" and cameras[added]["name"] == "Liberty roundabout"
            assert set(await listed(lahore.access_token)) == {added}  # the operator sees his district's

            # Its first alert goes to the Lahore operator's district.
            await nc.jetstream().publish(subjects.hits("face", added), hit(added).to_bytes())

            async def alert_of_added() -> dict[str, Any] | None:
                response = await served.http.get(
                    f"/alerts?camera_id={added}", headers=bearer(lahore.access_token)
                )
                assert response.status_code == 200, response.text
                alerts = response.json()["alerts"]
                return alerts[0] if alerts else None

            alert = await eventually(alert_of_added)
            assert alert["district"] == "Lahore"

            # Moved to another district (and the configured camera overridden by the catalogue).
            await kv.put(added, camera_bytes(camera.model_copy(update={"district": "Karachi"})))
            await kv.put(configured, camera_bytes(pinned.model_copy(update={"name": "Blue Area"})))

            async def moved() -> dict[str, Any] | None:
                cameras = await listed(supervisor.access_token)
                changed = (
                    cameras[added]["district"] == "Karachi" and cameras[configured]["name"] == "Blue Area"
                )
                return cameras if changed else None

            await eventually(moved)
            assert set(await listed(lahore.access_token)) == set()

            # Removed from the catalogue: gone; the configured camera falls back to its settings.
            await kv.delete(added)
            await kv.delete(configured)

            async def removed() -> dict[str, Any] | None:
                cameras = await listed(supervisor.access_token)
                return cameras if added not in cameras and cameras[configured]["name"] == configured else None

            await eventually(removed)
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_consumer(subjects.hits_stream, settings.command_center.consumer_name)
    finally:
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_key_value(subjects.cameras_bucket(fleet))


async def test_a_camera_threshold_raised_before_any_worker_keeps_every_camera_in_the_fleet(
    settings: Settings, nc: Client
) -> None:
    """The first write to a fleet's catalogue may be a supervisor's raised threshold: the catalogue then
    takes every configured camera, not that one alone (a worker seeds only an empty catalogue), and the
    command centre answers with the new threshold at once."""
    tag = uuid.uuid4().hex[:8]
    fleet = f"thr{tag}"
    raised, other = f"raised-{tag}", f"other-{tag}"
    configured = [
        CameraConfig(id=camera_id, url=f"rtsp://127.0.0.1/{camera_id}", district="Islamabad")
        for camera_id in (raised, other)
    ]
    with_fleet = settings.model_copy(
        update={"cameras": configured, "worker": settings.worker.model_copy(update={"fleet": fleet})}
    )
    try:
        async with serve(create_app(with_fleet, hits_deliver_policy=DeliverPolicy.NEW)) as served:
            supervisor = bearer((await staff_session(served.app, Role.SUPERVISOR)).access_token)
            path = f"/cameras/{raised}/face-threshold"
            body = {"face_threshold": 0.61, "reason": "false alerts at dusk, order 3/2026"}
            response = await served.http.put(path, json=body, headers=supervisor)
            assert response.status_code == 200, response.text
            assert response.json()["face_threshold"] == 0.61

            listed = await served.http.get("/cameras", headers=supervisor)
            assert {c["id"]: c["face_threshold"] for c in listed.json()} == {raised: 0.61, other: None}
            kv = await open_catalogue(nc.jetstream(), subjects, fleet)
            catalogue = await read_catalogue(kv)
            assert set(catalogue.cameras) == {raised, other}
            assert catalogue.cameras[raised].face_threshold == 0.61
            assert catalogue.cameras[other] == configured[1]

            cleared = await served.http.put(
                path, json={"face_threshold": None, "reason": "lighting fixed"}, headers=supervisor
            )
            assert cleared.status_code == 200 and cleared.json()["face_threshold"] is None
            assert (await read_catalogue(kv)).cameras[raised].face_threshold is None
            missing = await served.http.put(
                f"/cameras/nowhere-{tag}/face-threshold", json=body, headers=supervisor
            )
            assert missing.status_code == 404
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_consumer(subjects.hits_stream, settings.command_center.consumer_name)
    finally:
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_key_value(subjects.cameras_bucket(fleet))
