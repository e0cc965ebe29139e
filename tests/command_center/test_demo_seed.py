"""The demo's seeding: every sample object once, however often ``make demo`` runs, and units placed near
the demo cameras."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from nats.aio.client import Client
from redis.asyncio import Redis
from sqlalchemy import func, select

from command_center.dispatch.positions import PatrolPositions, haversine_m
from command_center.dispatch.tables import patrol_officers, patrol_units
from command_center.records import tables as t
from command_center.records.library_tables import library_documents
from command_center.records.missing_tables import missing_persons
from command_center.security.apikeys import hotels, integration_keys
from command_center.security.audit import AuditTrail
from command_center.security.users import UserStore, staff_users
from pipeline.adapters.database import make_engine
from pipeline.settings import CameraConfig, Settings, load, parse
from safecity_cli.demo_seed import ACCOUNTS, UNITS, place_units, seed_demo, sign_in_lines
from tests.command_center.dispatch_helpers import (
    City,
    Crew,
    next_message,
    officer_socket,
    open_alert,
    serve_city,
    token_of,
    with_dispatch,
)
from tests.command_center.helpers import bearer, settings_for
from tests.services import AUDIT_KEY, REPO, TEST_SECURITY

CAMERAS = {"SOUTH-1": (24.8560, 67.0266), "SOUTH-2": (24.8125, 67.0302)}  # configs/safecity.yaml


def demo_settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return parse(
        {
            "environment": "test",
            "database_url": database_url,
            "redis_url": redis_url,
            "data_dir": str(tmp_path / "data"),
            "security": TEST_SECURITY,
            "dispatch": {"redis_prefix": f"test-demo-{tmp_path.name[-12:]}"},
        }
    )


def counts(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    tables = {
        "staff": staff_users,
        "units": patrol_units,
        "crews": patrol_officers,
        "persons": t.persons,
        "cases": t.cases,
        "vehicles": t.vehicles,
        "missing": missing_persons,
        "hotels": hotels,
        "keys": integration_keys,
        "documents": library_documents,
    }
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in tables.items()
        }


def test_seeding_twice_seeds_everything_once(database_url: str, redis_url: str, tmp_path: Path) -> None:
    settings = demo_settings(database_url, redis_url, tmp_path)
    first = seed_demo(settings)
    assert first.created and first.hotel_key
    expected = {"staff": 4, "units": 2, "crews": 2, "persons": 3, "cases": 4, "vehicles": 2}
    expected |= {"missing": 1, "hotels": 1, "keys": 1, "documents": 1}
    assert counts(database_url) == expected
    again = seed_demo(settings)
    assert again.created == [] and again.hotel_key == first.hotel_key
    assert counts(database_url) == expected
    trail = AuditTrail(make_engine(database_url), AUDIT_KEY)
    assert len(trail.query(action="demo.seed")) == 1 and trail.verify().ok
    lines = "\n".join(sign_in_lines(settings, again))
    for account in ACCOUNTS:
        assert account.government_id in lines and account.mobile in lines
    assert "/officer" in lines and "command-center.log" in lines and first.hotel_key in lines


def test_the_demo_units_stand_near_the_demo_cameras(tmp_path: Path, redis_url: str) -> None:
    settings = demo_settings(f"sqlite:///{tmp_path / 'db.sqlite'}", redis_url, tmp_path)
    place_units(settings)

    async def read() -> dict[str, tuple[float, float]]:
        redis = Redis.from_url(redis_url)
        try:
            prefix = settings.patrol_redis_prefix
            positions = PatrolPositions(redis, prefix, settings.dispatch.position_stale_s)
            found = await positions.positions([u[0] for u in UNITS], time.time())
            await redis.delete(f"{prefix}:geo", f"{prefix}:seen")
        finally:
            await redis.aclose()
        return {unit: (p.latitude, p.longitude) for unit, p in found.items()}

    placed = asyncio.run(read())
    assert set(placed) == set(CAMERAS)
    for unit, (lat, lon) in placed.items():
        assert haversine_m(lat, lon, *CAMERAS[unit]) < 500


class DemoCity(City):
    """The demo's cameras (configs/safecity.yaml), with Redis keys private to the test."""

    def cameras(self) -> list[CameraConfig]:
        return list(load(REPO / "configs" / "safecity.yaml").cameras)


async def test_an_officer_of_a_seeded_unit_receives_a_dispatch(
    database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, nc: Client
) -> None:
    city = DemoCity()
    base = settings_for(database_url, nats_url, tmp_path, models_dir, redis_url=redis_url)
    settings = with_dispatch(base, city, ack_timeout_s=600.0, escalate_after_s={})
    await asyncio.to_thread(seed_demo, settings)
    await asyncio.to_thread(place_units, settings)
    users = UserStore(make_engine(database_url))
    operator_user = users.by_government_id("DEMO-OPERATOR")
    officer_user = users.by_government_id("DEMO-OFFICER-1")
    assert operator_user is not None and officer_user is not None
    async with serve_city(settings, nc) as served:
        operator = bearer(await token_of(served, operator_user))
        alert_id = await open_alert(served, "cam-hamilton")
        offered = await served.http.get(f"/alerts/{alert_id}/dispatch/suggestions", headers=operator)
        assert offered.status_code == 200, offered.text
        assert [s["unit"]["id"] for s in offered.json()["units"]] == ["SOUTH-1", "SOUTH-2"]
        marker = f"demo test {city.tag}"
        sent = await served.http.post(
            f"/alerts/{alert_id}/dispatch", json={"unit_id": "SOUTH-1", "note": marker}, headers=operator
        )
        assert sent.status_code == 201, sent.text
        crew = Crew("SOUTH-1", officer_user, await token_of(served, officer_user))
        try:
            async with officer_socket(served, crew) as ws:
                while True:  # notices of other runs on a shared NATS may come first
                    message = await next_message(ws, type="dispatch")
                    if message["notice"]["note"] == marker:
                        break
            assert message["notice"]["alert_id"] == alert_id and message["status"] == "pending"
        finally:
            await forget_officer_channels(nc, officer_user.government_id)


async def forget_officer_channels(nc: Client, government_id: str) -> None:
    """The officer's durable consumers (dispatch and records notices): a seeded ID is not a test ID, so
    the session's tidying would leave them on a shared NATS."""
    js = nc.jetstream()
    for stream in await js.streams_info():
        for consumer in await js.consumers_info(stream.config.name):
            if consumer.name.endswith(f"-{government_id}"):
                await js.delete_consumer(stream.config.name, consumer.name)
