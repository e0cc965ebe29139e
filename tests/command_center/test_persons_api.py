"""CRO persons over HTTP on both databases: CRUD and validation, audited views and searches, ranked
spelling-agnostic search, and an officer's personal watchlist notified of a face alert and of a plate
alert of one of the person's known vehicles."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from nats.aio.client import Client

from command_center.security.permissions import Role
from tests.command_center.helpers import Served, add_user, camera, eventually, hit, jpeg
from tests.command_center.records_helpers import (
    REASON,
    add_person,
    audited,
    client,
    client_of,
    cnic,
    officer_notices,
    person,
    watchlist_profile,
)
from tests.command_center.test_plate_reads import add_vehicle, plate_read
from tests.names import subjects
from watchlist.vehicles import VehicleHotlist

CASE = {
    "fir_number": "112/2025",
    "police_station": "PS Gulberg",
    "sections": ["302 PPC", "34 PPC"],
    "status": "under_trial",
}


async def test_clerk_keeps_a_record_and_every_view_and_change_is_audited(served: Served) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk:
        id_card = cnic()
        created = await add_person(
            clerk,
            "Muhammad Aslam",
            aliases=["Mohd Aslam", "Achu"],
            father_name="Ghulam Rasool",
            address="House 4, Street 9, Gulberg III, Lahore",
            cnic=id_card.replace("-", ""),
            gender="male",
            district="Lahore",
            cases=[CASE],
            vehicles=[{"plate": "lea 1234", "description": "Corolla, white"}],
        )
        pid = created["id"]
        assert created["cnic"] == id_card  # normalised to #####-#######-#
        assert created["cases"][0]["sections"] == ["302 PPC", "34 PPC"]
        assert created["vehicles"][0]["plate"] == "LEA 1234"
        assert audited(served, "persons.create", f"person:{pid}")

        assert (await clerk.get(f"/persons/{pid}")).status_code == 422  # no reason, no view
        viewed = await clerk.get(f"/persons/{pid}", params=REASON)
        assert viewed.status_code == 200 and viewed.json()["name"] == "Muhammad Aslam"
        [view] = audited(served, "persons.view", f"person:{pid}")
        assert view.reason == REASON["reason"] and view.role == "records_clerk"

        patched = await clerk.patch(
            f"/persons/{pid}", json={"category": "history_sheeter", "notes": "Seen in Kasur"}
        )
        assert patched.status_code == 200 and patched.json()["category"] == "history_sheeter"
        [change] = audited(served, "persons.update", f"person:{pid}")
        assert change.details["changes"]["category"] == ["wanted", "history_sheeter"]

        case_id = created["cases"][0]["id"]
        moved = await clerk.patch(
            f"/persons/{pid}/cases/{case_id}", json={"status": "convicted", "prison": "Camp Jail Lahore"}
        )
        assert moved.status_code == 200 and moved.json()["prison"] == "Camp Jail Lahore"
        added_case = await clerk.post(f"/persons/{pid}/cases", json={**CASE, "fir_number": "7/2024"})
        assert added_case.status_code == 201
        assert (await clerk.post(f"/persons/{pid}/cases", json=CASE)).status_code == 422  # same FIR twice

        photo = await clerk.post(
            f"/persons/{pid}/photos", files={"photo": ("p.jpg", jpeg((10, 20, 30), 64), "image/jpeg")}
        )
        assert photo.status_code == 201, photo.text
        fetched = await clerk.get(photo.json()["url"])
        assert fetched.status_code == 200 and fetched.content[:2] == b"\xff\xd8"

        archived = await clerk.delete(f"/persons/{pid}", params=REASON)
        assert archived.status_code == 200 and archived.json()["archived"] is True
        assert (await clerk.patch(f"/persons/{pid}", json={"notes": "x"})).status_code == 422


async def test_bad_input_is_refused_with_a_reason(served: Served) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk:
        id_card = cnic()
        await add_person(clerk, "Imran Khan", cnic=id_card)
        duplicate = await clerk.post("/persons", json=person("Imran Kahn", cnic=id_card))
        assert duplicate.status_code == 409 and id_card in duplicate.json()["detail"]
        cases: list[tuple[dict[str, Any], str]] = [
            (person(cnic="12345-123456-1"), "CNIC"),
            (person(category="terrorist"), "category"),
            (person(name="  "), "name"),
            (person(name="Ali\u202eKhan"), "control"),
            (person(watchlist_profile_id=999_999), "watchlist profile"),
            (person(vehicles=[{"plate": "LE@1"}]), "registration"),
            (person(vehicles=[{"plate": "LEA1", "hotlist_entry_id": 999_999}]), "hotlist"),
            (person(cases=[{**CASE, "sections": []}]), "sections"),
            (person(date_of_birth="2999-01-01"), "date"),
            (person(unknown="x"), "unknown"),
        ]
        for body, why in cases:
            response = await clerk.post("/persons", json=body)
            assert response.status_code == 422, (why, response.text)
        pid = (await add_person(clerk, "Asif Butt"))["id"]
        not_image = await clerk.post(
            f"/persons/{pid}/photos", files={"photo": ("p.jpg", b"GIF89a....", "image/jpeg")}
        )
        assert not_image.status_code == 422 and "JPEG or PNG" in not_image.json()["detail"]
        assert (await clerk.patch(f"/persons/{pid}", json={"name": None})).status_code == 422
        assert (await clerk.patch(f"/persons/{pid}", json={})).status_code == 422
        assert (await clerk.get("/persons/424242", params=REASON)).status_code == 404


# Stored names, then (query, expected first result): transliteration variants, abbreviations, order.
STORED = [
    ("Muhammad Husain", {"father_name": "Ghulam Rasool"}),
    ("Ahmad Hussain", {}),
    ("Muhammad Hassan", {}),
    ("Chaudhry Aslam", {"aliases": ["Aslam Jatt"]}),
    ("Aslam Butt", {}),
    ("Imran Khan", {}),
    ("Imran Qureshi", {}),
    ("Abdul Rehman Siddiqui", {"address": "Mohalla Islampura, Gujranwala"}),
]
SEARCHES = [
    ({"q": "Mohd Hussain"}, "Muhammad Husain"),
    ({"q": "Muhammed Hussein"}, "Muhammad Husain"),
    ({"q": "Ch. Aslam"}, "Chaudhry Aslam"),
    ({"q": "Aslam Chaudhary"}, "Chaudhry Aslam"),
    ({"q": "Aslam Jat"}, "Chaudhry Aslam"),  # an alias, spelled otherwise
    ({"q": "Imran Kahn"}, "Imran Khan"),
    ({"q": "Abd-ur-Rahman Sidiqi"}, "Abdul Rehman Siddiqui"),
    ({"q": "Muhamad Husian"}, "Muhammad Husain"),  # typos
    ({"q": "Hussain", "father_name": "Gulam Rasul"}, "Muhammad Husain"),
    ({"address": "islampura gujranwala"}, "Abdul Rehman Siddiqui"),
    ({"q": "عمران خان"}, "Imran Khan"),  # Urdu script, as typed on a phone
    ({"q": "محمد حسین", "father_name": "غلام رسول"}, "Muhammad Husain"),
]


async def test_search_finds_spelling_variants_ranked_with_reason_audited(served: Served) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    officer = await client(served, Role.PATROL_OFFICER)
    async with clerk, officer:
        ids = {}
        for name, fields in STORED:
            ids[name] = (await add_person(clerk, name, **fields))["id"]
        wrong = []
        for params, expected in SEARCHES:
            response = await officer.get("/persons/search", params={**params, **REASON})
            assert response.status_code == 200, response.text
            results = response.json()["results"]
            names = [r["person"]["name"] for r in results]
            if not names or names[0] != expected:
                wrong.append(f"{params}: {names} (expected {expected} first)")
            scores = [r["score"] for r in results]
            assert scores == sorted(scores, reverse=True)
        assert wrong == [], "\n".join(wrong)

        assert (await officer.get("/persons/search", params={"q": "Imran"})).status_code == 422  # no reason
        assert (await officer.get("/persons/search", params={"q": "!!", **REASON})).status_code == 422
        wanted = await officer.get(
            "/persons/search", params={"q": "Imran Kahn", "category": "missing", **REASON}
        )
        assert wanted.json()["results"] == []
        [entry, *_] = audited(served, "persons.search")
        assert entry.reason == REASON["reason"] and entry.details["filters"]["category"] == "missing"


async def test_officer_following_a_person_is_told_when_a_camera_sees_them(served: Served, nc: Client) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    officer_user = await add_user(served.app, Role.PATROL_OFFICER)
    officer = await client_of(served, officer_user)
    async with clerk, officer:
        profile_id = await asyncio.to_thread(watchlist_profile, served)
        pid = (await add_person(clerk, "Muhammad Husain", watchlist_profile_id=profile_id))["id"]
        assert (await officer.post(f"/persons/{pid}/follow")).status_code == 422  # a reason is needed
        followed = await officer.post(f"/persons/{pid}/follow", params=REASON)
        assert followed.status_code == 200 and followed.json()["following"] is True
        mine = await officer.get("/persons/following")
        assert [p["id"] for p in mine.json()] == [pid]

        cam = camera()
        await nc.jetstream().publish(subjects.hits("face", cam), hit(cam, profile_id=profile_id).to_bytes())
        [notice] = await officer_notices(nc, officer_user, 1)
        assert (notice.kind, notice.person_id, notice.officer_id) == ("seen", pid, officer_user.id)
        assert notice.camera_id == cam and notice.alert_id is not None
        assert notice.person_url == f"/persons/{pid}"

        async def alert_count() -> int:
            alerts = await served.http.get("/alerts", params={"camera_id": cam})
            return len(alerts.json()["alerts"])

        assert await eventually(alert_count) == 1
        assert (await officer.delete(f"/persons/{pid}/follow")).status_code == 200
        assert (await officer.delete(f"/persons/{pid}/follow")).status_code == 404


async def test_followers_are_told_when_a_known_vehicle_raises_a_plate_alert(
    served: Served, nc: Client
) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    by_plate, by_entry, bystander = [await add_user(served.app, Role.PATROL_OFFICER) for _ in range(3)]
    number = uuid.uuid4().int % 9000 + 1000
    entry_id = await asyncio.to_thread(add_vehicle, served, f"LEA-{number}")
    other_entry = await asyncio.to_thread(add_vehicle, served, f"RIK-{number}")
    consumer = served.app.state.services.plate_reads
    await asyncio.to_thread(consumer.matcher.load, VehicleHotlist(served.app.state.services.engine))
    async with clerk:
        # Typed by its number only (no hotlist link), typed with the link (another number), and neither.
        typed = await add_person(clerk, "Shahid Butt", vehicles=[{"plate": f"lea {number}"}])
        linked = await add_person(
            clerk, "Nadeem Akhtar", vehicles=[{"plate": "ABC 123", "hotlist_entry_id": entry_id}]
        )
        unrelated = await add_person(
            clerk, "Kashif Ali", vehicles=[{"plate": f"RIK {number}", "hotlist_entry_id": other_entry}]
        )
        for user, pid in ((by_plate, typed["id"]), (by_entry, linked["id"]), (bystander, unrelated["id"])):
            async with await client_of(served, user) as officer:
                assert (await officer.post(f"/persons/{pid}/follow", params=REASON)).status_code == 200

        cam = camera()
        await nc.jetstream().publish(
            subjects.plates_read(cam), plate_read(cam, f"LEA{number}", f"LEA-{number}").to_bytes()
        )
        for user, pid in ((by_plate, typed["id"]), (by_entry, linked["id"])):
            [notice] = await officer_notices(nc, user, 1, within_s=30)
            assert (notice.kind, notice.person_id, notice.officer_id) == ("vehicle_seen", pid, user.id)
            assert notice.camera_id == cam and notice.alert_id is not None
            assert f"LEA-{number}" in notice.summary
        [alert] = (await served.http.get("/alerts", params={"camera_id": cam})).json()["alerts"]
        assert (alert["kind"], alert["profile_id"]) == ("plate", entry_id)
        assert await officer_notices(nc, bystander, 1, within_s=2) == []
