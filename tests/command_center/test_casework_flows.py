"""Flows across the modules, on both databases: a hotel check-in of a wanted CNIC raises an alert a unit
is dispatched to (at the hotel); an arrest photo that matches a missing person tells that case's staff
and the staff of the bodies ranked for them; an arrest photo that matches an unidentified body's."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from command_center.security.permissions import Role
from pipeline.settings import Settings
from tests.command_center.casework_helpers import (
    Mailbox,
    ago,
    b64,
    face,
    record_arrest,
    screened_arrest,
)
from tests.command_center.dispatch_helpers import (
    M_PER_DEG_LAT,
    City,
    add_unit,
    forget_officer_channel,
    next_message,
    officer_socket,
    report,
    serve_city,
    staff,
    with_dispatch,
)
from tests.command_center.helpers import Served, add_user, eventually, settings_for
from tests.command_center.records_helpers import (
    REASON,
    add_person,
    checkin,
    client,
    client_of,
    cnic,
    hotel_key,
)

HOTEL_LAT, HOTEL_LON = 33.7100, 73.0600


@pytest.fixture
def city() -> City:
    return City()


@pytest.fixture
def settings(
    database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, city: City
) -> Settings:
    base = settings_for(
        database_url, nats_url, tmp_path, models_dir, redis_url=redis_url, max_upload_bytes=2_000_000
    )
    return with_dispatch(base, city, escalate_after_s={})


@pytest.fixture
async def served(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    async with serve_city(settings, nc) as running:
        yield running


async def test_hotel_checkin_of_a_wanted_cnic_is_an_alert_a_unit_is_sent_to(
    served: Served, nc: Client, city: City
) -> None:
    hotel_id, key = await hotel_key(served, district=city.district, lat=HOTEL_LAT, lon=HOTEL_LON)
    crew = await add_unit(served, city.unit("hotel"), city.district)
    near_hotel = (HOTEL_LAT + 300 / M_PER_DEG_LAT, HOTEL_LON)
    assert await report(served, crew, near_hotel) == "stored"
    dispatcher = httpx.AsyncClient(
        base_url=served.url, timeout=15, headers=await staff(served, Role.OPERATOR, city.district)
    )
    clerk = await client(served, Role.RECORDS_CLERK)
    desk = httpx.AsyncClient(base_url=served.url, timeout=15, headers={"X-API-Key": key})
    try:
        wanted = cnic()
        person = await add_person(clerk, "Muhammad Husain", cnic=wanted, category="wanted")
        posted = await desk.post("/checkins", json=checkin("FLOW-1", wanted))
        assert posted.status_code == 201, posted.text

        async def alert() -> dict[str, Any] | None:
            found = await dispatcher.get("/alerts", params={"camera_id": f"hotel-{hotel_id}"})
            alerts = found.json()["alerts"]
            return alerts[0] if alerts else None

        raised = await eventually(alert, 30)
        assert (raised["kind"], raised["profile_id"], raised["district"]) == (
            "checkin",
            person["id"],
            city.district,
        )

        suggested = await dispatcher.get(f"/alerts/{raised['id']}/dispatch/suggestions")
        assert suggested.status_code == 200, suggested.text
        body = suggested.json()
        assert (body["latitude"], body["longitude"]) == (HOTEL_LAT, HOTEL_LON)  # units go to the hotel
        [unit] = body["units"]
        assert unit["unit"]["id"] == crew.unit_id and math.isclose(unit["distance_m"], 300, rel_tol=0.02)

        async with officer_socket(served, crew) as ws:
            sent = await dispatcher.post(f"/alerts/{raised['id']}/dispatch", json={"unit_id": crew.unit_id})
            assert sent.status_code == 201, sent.text
            told = (await next_message(ws, type="dispatch"))["notice"]
            assert told["alert_id"] == raised["id"]
            assert (told["latitude"], told["longitude"]) == (HOTEL_LAT, HOTEL_LON)
            assert "checked in at Hotel Eye Inn" in told["reason"]
    finally:
        await asyncio.gather(dispatcher.aclose(), clerk.aclose(), desk.aclose())
        await forget_officer_channel(nc, crew)


MISSING = {
    "name": "Barry Soetoro",
    "sex": "male",
    "age_min": 45,
    "age_max": 55,
    "height_cm": 185,
    "build": "slim",
    "complexion": "brown",
    "marks": "grey hair, large ears",
    "district": "Islamabad",
}


async def test_an_arrest_photo_matching_a_missing_person_tells_both_sides(
    served: Served, nc: Client, media_dir: Path
) -> None:
    missing_clerk = await add_user(served.app, Role.RECORDS_CLERK)
    udr_clerk = await add_user(served.app, Role.RECORDS_CLERK)
    officer = await client(served, Role.PATROL_OFFICER)
    async with (
        await client_of(served, missing_clerk) as mc,
        await client_of(served, udr_clerk) as uc,
        officer,
    ):
        photo = b64(face(media_dir, "obama", "examples_obama.jpg"))
        missing = (
            await mc.post("/missing", json={**MISSING, "last_seen_at": ago(days=20), "photos_jpeg": [photo]})
        ).json()
        body = {
            key: MISSING[key]
            for key in ("sex", "age_min", "age_max", "height_cm", "build", "complexion", "district")
        }
        udr = await uc.post(
            "/udr", json={**body, "udr_number": "UDR 3/2025", "found_at": ago(days=5), "marks": "grey hair"}
        )
        assert udr.status_code == 201, udr.text
        bodies = await uc.get(f"/udr/{udr.json()['id']}/candidates", params=REASON)
        assert [c["missing"]["id"] for c in bodies.json()["candidates"]] == [missing["id"]]

        probe = b64(face(media_dir, "obama", "examples_knn_examples_test_obama1.jpg"))
        arrest = await record_arrest(officer, name="Unknown Male", fir_number="88/2025", photo_jpeg=probe)
        done = await screened_arrest(officer, arrest["id"])
        found = {(m["kind"], m["id"]): m for m in done["screening"]["matches"]}
        link = found[("missing", missing["id"])]
        assert link["how"] == "face" and link["strong"] is True
        assert "UDR 3/2025" in link["detail"]  # alive: not the body ranked for him
        assert {missing_clerk.id, udr_clerk.id} <= set(done["screening"]["told"]["officers"])

        for clerk_user in (missing_clerk, udr_clerk):
            notice = await Mailbox(nc, clerk_user, casework=True).find("arrest", arrest["id"])
            assert notice.kind == "missing_match" and ("missing", missing["id"]) in {
                (m.kind, m.id) for m in notice.matches
            }

        # An arrest photo that matches an unidentified body's photo tells the body's staff.
        biden = b64(face(media_dir, "biden", "examples_biden.jpg"))
        dead = await uc.post(
            "/udr", json={**body, "udr_number": "UDR 4/2025", "found_at": ago(days=2), "photos_jpeg": [biden]}
        )
        assert dead.status_code == 201
        second = b64(face(media_dir, "biden", "examples_knn_examples_train_biden_biden2.jpg"))
        other = await record_arrest(officer, name="Another Male", fir_number="89/2025", photo_jpeg=second)
        matched = {
            (m["kind"], m["id"]): m
            for m in (await screened_arrest(officer, other["id"]))["screening"]["matches"]
        }
        assert matched[("udr", dead.json()["id"])]["how"] == "face"
        assert udr_clerk.id in matched[("udr", dead.json()["id"])]["officers"]
