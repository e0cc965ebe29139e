"""A CRO person's dossier on both databases: identity, cases, alerts of every kind about them, hotel
check-ins, arrests and followers, with one timeline newest first and positions for a map; audited with its
reason; refused without persons:read, and limited to the caller's districts for district-scoped roles.
Also ``GET /alerts?subject=person:<id>``."""

from __future__ import annotations

from typing import Any

import httpx
from nats.aio.client import Client

from command_center.security.permissions import Role
from pipeline.settings import Settings
from tests.command_center.casework_helpers import ago, record_arrest
from tests.command_center.fusion_helpers import (
    PLACES,
    alerts_of,
    see_face,
    see_plate,
    served_with_places,
    suspect,
)
from tests.command_center.helpers import Served, add_user, bearer, eventually, staff_session
from tests.command_center.records_helpers import REASON, audited, checkin, client, client_of, cnic, hotel_key
from tests.command_center.test_missing_api import MISSING

CASE = {
    "fir_number": "88/2024",
    "police_station": "PS Gulberg",
    "sections": ["392 PPC"],
    "status": "absconding",
}


async def dossier_of(http: httpx.AsyncClient, person_id: int, **headers: str) -> httpx.Response:
    return await http.get(f"/persons/{person_id}/dossier", params=REASON, headers=headers)


async def test_the_dossier_shows_everything_about_a_person_with_a_timeline(
    settings: Settings, nc: Client
) -> None:
    async with served_with_places(settings, nc) as (served, cams):
        clerk = await client(served, Role.RECORDS_CLERK)
        supervisor_user = await add_user(served.app, Role.SUPERVISOR)
        supervisor = await client_of(served, supervisor_user)
        async with clerk, supervisor:
            who = await suspect(served, clerk)
            id_card = cnic()
            assert (await clerk.patch(f"/persons/{who.person_id}", json={"cnic": id_card})).status_code == 200
            assert (await clerk.post(f"/persons/{who.person_id}/cases", json=CASE)).status_code == 201
            face = await see_face(served, nc, cams["face"], who)
            plate = await see_plate(served, nc, cams["near"], who, at_s=60)
            fused = await _fused(served, who.person_id)
            checkin_alert = await _checked_in(served, id_card)
            arrest = await record_arrest(supervisor, person_name="Shahid Butt", person_id=who.person_id)
            assert (
                await supervisor.post(f"/persons/{who.person_id}/follow", params=REASON)
            ).status_code == 200
            report = {**MISSING, "name": "Shahid Butt", "cnic": id_card, "last_seen_at": ago(days=2)}
            missing = await supervisor.post("/missing", json=report)
            assert missing.status_code == 201, missing.text

            response = await dossier_of(supervisor, who.person_id)
            assert response.status_code == 200, response.text
            body = response.json()
        assert body["person"]["name"] == "Shahid Butt" and body["person"]["cnic"] == id_card
        assert [c["fir_number"] for c in body["person"]["cases"]] == ["88/2024"]
        alerts = body["alerts"]
        assert [a["id"] for a in alerts["face"]] == [face["id"]]
        assert [a["id"] for a in alerts["plate"]] == [plate["id"]]
        assert [a["id"] for a in alerts["fusion"]] == [fused["id"]]
        assert [a["id"] for a in alerts["checkin"]] == [checkin_alert["id"]]
        [stay] = body["checkins"]
        assert (stay["hotel_name"], stay["latitude"]) == ("Hotel Eye Inn", 31.52)
        assert [a["id"] for a in body["arrests"]] == [arrest["id"]]
        [follower] = body["followers"]
        assert (follower["officer_id"], follower["name"]) == (supervisor_user.id, supervisor_user.name)
        assert [m["id"] for m in body["missing"]] == [missing.json()["id"]]

        timeline = body["timeline"]
        times = [e["at"] for e in timeline]
        assert times == sorted(times, reverse=True)  # newest first (ISO times in UTC sort as text)
        kinds = {e["kind"] for e in timeline}
        assert kinds == {"face", "plate", "fusion", "checkin", "hotel", "arrest", "case", "missing"}
        by_link = {e["link"]: e for e in timeline}
        seen = by_link[f"/alerts/{face['id']}"]
        assert (seen["latitude"], seen["longitude"]) == PLACES["face"][:2] and "face road" in seen["summary"]
        assert by_link[f"/alerts/{fused['id']}"]["summary"].endswith(f"with vehicle {who.read}")
        assert by_link[f"/arrests/{arrest['id']}"]["latitude"] == 31.5656
        assert all(e["summary"] for e in timeline)

        [entry] = audited(served, "persons.dossier_view", f"person:{who.person_id}")
        assert entry.reason == REASON["reason"] and entry.role == "supervisor"
        assert entry.details["alerts"]["fusion"] == [fused["id"]]

        about = await alerts_of(served, subject=f"person:{who.person_id}")
        assert {a["id"] for a in about} == {face["id"], plate["id"], fused["id"], checkin_alert["id"]}
        assert [
            a["id"] for a in await alerts_of(served, subject=f"person:{who.person_id}", kind="plate")
        ] == [plate["id"]]


async def test_the_dossier_is_refused_or_limited_as_its_parts_are_elsewhere(
    settings: Settings, nc: Client
) -> None:
    async with served_with_places(settings, nc) as (served, cams):
        async with await client(served, Role.RECORDS_CLERK) as clerk:
            who = await suspect(served, clerk)
            clerks_view = await dossier_of(clerk, who.person_id)
        lahore = await see_face(served, nc, cams["face"], who)
        kasur = await see_face(served, nc, cams["east"], who)
        assert clerks_view.status_code == 200 and clerks_view.json()["alerts"]["face"] == []  # no alerts:read

        kasur_operator = await staff_session(served.app, Role.OPERATOR, ("Kasur",))
        scoped = await dossier_of(served.http, who.person_id, **bearer(kasur_operator.access_token))
        assert scoped.status_code == 200
        assert [a["id"] for a in scoped.json()["alerts"]["face"]] == [kasur["id"]]
        assert {e["link"] for e in scoped.json()["timeline"]} == {f"/alerts/{kasur['id']}"}
        listed = await served.http.get(
            "/alerts",
            params={"subject": f"person:{who.person_id}"},
            headers=bearer(kasur_operator.access_token),
        )
        assert [a["id"] for a in listed.json()["alerts"]] == [kasur["id"]]
        other = await served.http.get(f"/alerts/{lahore['id']}", headers=bearer(kasur_operator.access_token))
        assert other.status_code == 404  # another district's alert, as if it did not exist

        _, key = await hotel_key(served)
        async with httpx.AsyncClient(base_url=served.url, timeout=15, headers={"X-API-Key": key}) as desk:
            assert (await dossier_of(desk, who.person_id)).status_code == 403  # a hotel: no persons:read
        assert (await served.http.get(f"/persons/{who.person_id}/dossier")).status_code == 422  # no reason
        assert (await dossier_of(served.http, 999_999)).status_code == 404
        assert (await served.http.get("/alerts", params={"subject": "person:999999"})).status_code == 404
        assert (await served.http.get("/alerts", params={"subject": "vehicle:1"})).status_code == 422
        beyond = await served.http.get(
            "/alerts", params={"subject": f"person:{2**31}"}
        )  # no INTEGER holds it
        assert beyond.status_code == 422 and "person ids go up to" in beyond.text


async def _fused(served: Served, person_id: int) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        listed = await alerts_of(served, kind="fusion")
        return next((a for a in listed if a["profile_id"] == person_id), None)

    fused: dict[str, Any] = await eventually(found, within_s=30)
    return fused


async def _checked_in(served: Served, guest_cnic: str) -> dict[str, Any]:
    hotel_id, key = await hotel_key(served)
    async with httpx.AsyncClient(base_url=served.url, timeout=15, headers={"X-API-Key": key}) as desk:
        posted = await desk.post("/checkins", json=checkin("BK-dossier", guest_cnic))
        assert posted.status_code in (200, 201), posted.text

    async def raised() -> dict[str, Any] | None:
        listed = await alerts_of(served, camera_id=f"hotel-{hotel_id}")
        return listed[0] if listed else None

    alert: dict[str, Any] = await eventually(raised, within_s=30)
    return alert
