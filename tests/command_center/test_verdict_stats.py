"""Verdict statistics: confirmed vs false-positive counts and rate per camera, category and profile,
from real verdicts (operators' dismissals, an officer's resolution), scoped by district."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from command_center.security.permissions import Role
from pipeline.settings import CameraConfig, Settings
from tests.command_center.dispatch_helpers import (
    City,
    add_unit,
    forget_officer_channel,
    north_of_camera,
    open_alert,
    report,
    serve_city,
    staff,
    with_dispatch,
)
from tests.command_center.helpers import Served, settings_for


@pytest.fixture
def city() -> City:
    return City()


@pytest.fixture
def settings(
    database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, city: City
) -> Settings:
    base = with_dispatch(
        settings_for(database_url, nats_url, tmp_path, models_dir, redis_url=redis_url), city
    )
    south = CameraConfig(id=f"cam-s-{city.tag}", url="rtsp://127.0.0.1/s", district=city.other_district)
    return base.model_copy(update={"cameras": [*base.cameras, south]})


@pytest.fixture
async def served(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    async with serve_city(settings, nc) as running:
        yield running


async def dismiss(served: Served, alert_id: int, headers: dict[str, str]) -> None:
    response = await served.http.post(
        f"/alerts/{alert_id}/dismiss", json={"reason": "not the person: checked"}, headers=headers
    )
    assert response.status_code == 200, response.text


def groups(body: dict[str, Any], tag: str) -> dict[str, tuple[int, int, int, float | None]]:
    """This test's groups (other tests' hits on the shared NATS server may open alerts here too)."""
    return {
        g["key"]: (g["confirmed"], g["false_positive"], g["open"], g["false_positive_rate"])
        for g in body["groups"]
        if tag in g["key"] or tag in g["label"]
    }


async def test_verdicts_per_camera_category_and_profile(served: Served, city: City, nc: Client) -> None:
    south_cam = f"cam-s-{city.tag}"
    operator = await staff(served, Role.OPERATOR, city.district)
    supervisor = await staff(served, Role.SUPERVISOR)
    crew = await add_unit(served, city.unit("one"), city.district)
    await report(served, crew, north_of_camera(200))
    profile = 900_000 + int(city.tag, 16) % 100_000  # a profile id no other test uses
    try:
        # North camera: 3 dismissed, 1 confirmed by the officer on scene, 1 still open.
        north = [
            await open_alert(served, city.camera, profile_id=profile + n, category="wanted") for n in range(5)
        ]
        for alert_id in north[:3]:
            await dismiss(served, alert_id, operator)
        sent = await served.http.post(
            f"/alerts/{north[3]}/dispatch", json={"unit_id": crew.unit_id}, headers=operator
        )
        dispatch_id = sent.json()["dispatch"]["id"]
        resolved = await served.http.post(
            f"/dispatches/{dispatch_id}/resolve", json={"reason": "detained"}, headers=crew.headers
        )
        assert resolved.status_code == 200
        # South camera (another district): 1 dismissed, category "missing", the same first profile.
        south = await open_alert(served, south_cam, profile_id=profile, category="missing")
        await dismiss(served, south, supervisor)

        by_camera = await served.http.get(
            "/stats/verdicts", params={"group_by": "camera"}, headers=supervisor
        )
        assert by_camera.status_code == 200, by_camera.text
        assert groups(by_camera.json(), city.tag) == {
            city.camera: (1, 3, 1, 0.75),
            south_cam: (0, 1, 0, 1.0),
        }
        # A district-scoped operator counts his districts only.
        scoped = await served.http.get("/stats/verdicts", params={"group_by": "camera"}, headers=operator)
        assert groups(scoped.json(), city.tag) == {city.camera: (1, 3, 1, 0.75)}
        assert scoped.json()["total"]["false_positive"] == 3

        by_profile = await served.http.get(
            "/stats/verdicts", params={"group_by": "profile"}, headers=supervisor
        )
        found = {g["key"]: g for g in by_profile.json()["groups"]}
        first = found[f"face:{profile}"]
        assert (first["confirmed"], first["false_positive"], first["label"]) == (0, 2, f"Person {profile}")
        assert found[f"face:{profile + 3}"]["false_positive_rate"] == 0.0
        assert found[f"face:{profile + 4}"]["false_positive_rate"] is None  # nothing decided yet

        by_category = await served.http.get(
            "/stats/verdicts",
            params={"group_by": "category", "since": (datetime.now(UTC) - timedelta(days=365)).isoformat()},
            headers=supervisor,
        )
        categories = {g["key"]: g for g in by_category.json()["groups"]}
        assert categories["missing"]["false_positive"] >= 1 and categories["wanted"]["confirmed"] >= 1

        for bad in (
            {"group_by": "district"},
            {"since": "2030-01-01T00:00:00Z", "until": "2029-01-01T00:00:00Z"},
        ):
            refused = await served.http.get("/stats/verdicts", params=bad, headers=supervisor)
            assert refused.status_code == 422, bad
        officer = await served.http.get("/stats/verdicts", headers=crew.headers)
        assert officer.status_code == 403
    finally:
        await forget_officer_channel(nc, crew)
