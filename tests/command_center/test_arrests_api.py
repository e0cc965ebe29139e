"""Arrests over HTTP on both databases: every officer is told (a durable broadcast, offline officers
included); the arrested person is looked for in other cases by CNIC, name and face, and those cases'
officers (investigating officers of open cases, reporters, earlier arresting officers) and the person's
followers are told; staff read arrests with an audited reason."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from command_center.records.bulletins import broadcast_consumer_name
from command_center.security.permissions import Role
from pipeline.face import FaceAnalyzer
from tests.command_center.casework_helpers import (
    b64,
    bulletin_about,
    face,
    nothing_on_casework,
    record_arrest,
    screened_arrest,
)
from tests.command_center.helpers import Served, add_user, jpeg
from tests.command_center.records_helpers import (
    REASON,
    add_person,
    audited,
    client,
    client_of,
    cnic,
    officer_notices,
)
from tests.names import subjects
from watchlist.enrol import Enroller
from watchlist.governance import LegalBasis

OLD_CASE = {
    "fir_number": "77/2024",
    "police_station": "PS Saddar Rawalpindi",
    "sections": ["302 PPC"],
    "status": "absconding",
}


def matches(arrest: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(m["kind"], m["id"]): m for m in arrest["screening"]["matches"]}


async def test_every_officer_is_told_and_the_other_cases_officers_coordinate(
    served: Served, nc: Client
) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    arresting_user = await add_user(served.app, Role.PATROL_OFFICER, ("Lahore",))
    investigator_user = await add_user(served.app, Role.PATROL_OFFICER, ("Rawalpindi",))
    earlier_user = await add_user(served.app, Role.SUPERVISOR)
    follower_user = await add_user(served.app, Role.PATROL_OFFICER)
    bystander = await add_user(served.app, Role.PATROL_OFFICER)  # offline all along
    arresting = await client_of(served, arresting_user)
    investigator = await client_of(served, investigator_user)
    earlier = await client_of(served, earlier_user)
    follower = await client_of(served, follower_user)
    async with clerk, arresting, investigator, earlier, follower:
        id_card = cnic()
        person = await add_person(clerk, "Muhammad Husain", cnic=id_card, category="wanted", cases=[OLD_CASE])
        assert (await follower.post(f"/persons/{person['id']}/follow", params=REASON)).status_code == 200
        crime = {
            "type": "murder",
            "occurred_at": (datetime.now(UTC) - timedelta(days=100)).isoformat(),
            "latitude": 33.5973,
            "longitude": 73.0479,
            "police_station": "PS Saddar Rawalpindi",
            "fir_number": "77/2024",
        }
        assert (await investigator.post("/crimes", json=crime)).status_code == 201
        first = await record_arrest(
            earlier, name="Mohd Hussain", cnic=id_card, fir_number="10/2023", police_station="PS Kotwali"
        )
        await screened_arrest(earlier, first["id"])

        photo = b64(jpeg((30, 60, 90), 96))
        created = await record_arrest(
            arresting, name="Muhammad Hussain", cnic=id_card.replace("-", ""), photo_jpeg=photo
        )
        assert created["status"] == "screening" and created["photo"] == f"/arrests/{created['id']}/photo"
        assert created["cnic"] == id_card and created["officer_id"] == arresting_user.id
        done = await screened_arrest(arresting, created["id"])
        found = matches(done)
        assert found[("person", person["id"])]["how"] == "cnic"
        assert "FIR 77/2024" in found[("person", person["id"])]["detail"]
        assert found[("arrest", first["id"])]["how"] == "cnic"
        assert done["screening"]["wanted_elsewhere"] is True
        assert done["person_id"] == person["id"]  # linked to the CRO record by CNIC
        assert sorted(done["screening"]["told"]["officers"]) == sorted(
            [investigator_user.id, earlier_user.id]
        )
        assert done["screening"]["told"]["followers"] == 1

        news = await bulletin_about(nc, bystander, "arrest", created["id"])
        assert news.kind == "arrest" and news.fir_number == "245/2025" and news.sections == ["392 PPC"]
        assert news.photo_jpeg is not None and news.photo_jpeg[:2] == b"\xff\xd8"
        assert news.latitude == 31.5656 and "Muhammad Hussain" in news.title

        # A new phone (the officer's broadcast cursor made afresh) still gets what was kept for them.
        await nc.jetstream().delete_consumer(
            subjects.records_stream, broadcast_consumer_name(bystander.government_id)
        )
        again = await bulletin_about(nc, bystander, "arrest", created["id"])
        assert again.event_id == news.event_id

        told = await bulletin_about(nc, investigator_user, "arrest", created["id"], casework=True)
        assert told.kind == "wanted_elsewhere" and told.officer_id == investigator_user.id
        assert ("person", person["id"]) in {(m.kind, m.id) for m in told.matches}
        told_earlier = await bulletin_about(nc, earlier_user, "arrest", created["id"], casework=True)
        assert ("arrest", first["id"]) in {(m.kind, m.id) for m in told_earlier.matches}
        with contextlib.suppress(AssertionError):
            await bulletin_about(nc, arresting_user, "arrest", created["id"], casework=True, within_s=2)
            raise RuntimeError("the arresting officer was told about their own arrest")

        notices = await officer_notices(nc, follower_user, 1)
        assert [(n.kind, n.person_id) for n in notices] == [("arrested", person["id"])]

        assert audited(served, "arrests.record", f"arrest:{created['id']}")
        assert audited(served, "arrests.view", f"arrest:{created['id']}")[0].reason == REASON["reason"]


async def test_name_search_and_face_find_the_person_without_a_cnic(served: Served, media_dir: Path) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    first_user = await add_user(served.app, Role.PATROL_OFFICER)
    first = await client_of(served, first_user)
    second = await client(served, Role.PATROL_OFFICER)
    async with clerk, first, second:
        wanted = await add_person(clerk, "Chaudhry Aslam", father_name="Ghulam Rasool", category="wanted")
        by_name = await record_arrest(
            second, name="Ch. Aslam", father_name="Gulam Rasul", fir_number="5/2025"
        )
        named = matches(await screened_arrest(second, by_name["id"]))
        assert named[("person", wanted["id"])]["how"] == "name"
        assert named[("person", wanted["id"])]["strong"] is True  # the father's name confirms it

        unconfirmed = await record_arrest(second, name="Aslam Chaudhary", fir_number="6/2025")
        weak = matches(await screened_arrest(second, unconfirmed["id"]))
        assert weak[("person", wanted["id"])]["strong"] is False
        assert weak[("person", wanted["id"])]["officers"] == []

        obama = b64(face(media_dir, "obama", "examples_obama.jpg"))
        earlier = await record_arrest(first, name="Barry Soetoro", fir_number="1/2020", photo_jpeg=obama)
        assert earlier["face_found"] is True
        await screened_arrest(first, earlier["id"])
        probe = b64(face(media_dir, "obama", "examples_obama2.jpg"))
        again = await record_arrest(second, name="Unknown Male", fir_number="9/2025", photo_jpeg=probe)
        by_face = matches(await screened_arrest(second, again["id"]))
        assert by_face[("arrest", earlier["id"])]["how"] == "face"
        assert by_face[("arrest", earlier["id"])]["score"] > 0.42
        assert by_face[("arrest", earlier["id"])]["officers"] == [first_user.id]

        stranger = b64(face(media_dir, "biden", "examples_biden.jpg"))
        other = await record_arrest(second, name="Another Male", fir_number="10/2025", photo_jpeg=stranger)
        assert ("arrest", earlier["id"]) not in matches(await screened_arrest(second, other["id"]))

        page = await second.get("/arrests", params={"q": "Chaudhry Aslam", **REASON})
        assert page.status_code == 200
        names = [a["person_name"] for a in page.json()["arrests"]]
        assert names[:2] == ["Ch. Aslam", "Aslam Chaudhary"] or names[:2] == ["Aslam Chaudhary", "Ch. Aslam"]
        by_fir = await second.get("/arrests", params={"fir": "1/2020", **REASON})
        assert [a["id"] for a in by_fir.json()["arrests"]] == [earlier["id"]]
        photo = await second.get(f"/arrests/{earlier['id']}/photo")
        assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"
        [entry, *_] = audited(served, "arrests.search")
        assert entry.reason == REASON["reason"]


async def test_bad_arrests_are_refused(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    clerk = await client(served, Role.RECORDS_CLERK)
    async with officer, clerk:
        future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        refused: list[tuple[dict[str, Any], str]] = [
            ({"cnic": "12345-123456-1"}, "CNIC"),
            ({"sections": []}, "sections"),
            ({"arrested_at": future}, "future"),
            ({"arrested_at": "2020-01-01T00:00:00+00:00"}, "too old"),
            ({"latitude": 31.5, "longitude": None}, "half a position"),
            ({"photo_jpeg": "not base64!"}, "base64"),
            ({"photo_jpeg": b64(b"GIF89a....")}, "not an image"),
            ({"person_id": 999_999}, "no such person"),
            ({"handcuffed": True}, "unknown field"),
        ]
        from tests.command_center.casework_helpers import arrest

        for fields, why in refused:
            body = {**arrest(), **fields}
            response = await officer.post("/arrests", json=body)
            assert response.status_code == 422, (why, response.text)
        assert (await clerk.post("/arrests", json=arrest())).status_code == 403
        assert (await clerk.get("/arrests")).status_code == 422  # no reason
        assert (await clerk.get("/arrests", params={"cnic": "1-2", **REASON})).status_code == 422
        assert (await clerk.get("/arrests/424242", params=REASON)).status_code == 404
        await asyncio.sleep(0)


async def test_investigating_officers_of_open_cases_are_told_and_closed_cases_tell_no_one(
    served: Served, nc: Client
) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    open_io = await add_user(served.app, Role.PATROL_OFFICER, ("Rawalpindi",))
    closed_io = await add_user(served.app, Role.SUPERVISOR)
    arresting = await client(served, Role.PATROL_OFFICER)
    async with clerk, arresting:
        id_card = cnic()
        open_case = {
            **OLD_CASE,
            "fir_number": "31/2024",
            "investigating_officer": open_io.government_id.lower(),
        }
        closed_case = {
            "fir_number": "12/2019",
            "police_station": "PS Kotwali",
            "sections": ["379 PPC"],
            "status": "convicted",
            "investigating_officer": closed_io.government_id,
        }
        person = await add_person(
            clerk, "Imran Qureshi", cnic=id_card, category="history_sheeter", cases=[open_case, closed_case]
        )
        officers = [c["investigating_officer"] for c in person["cases"]]
        assert officers == [open_io.government_id, closed_io.government_id]  # stored as the account's ID

        created = await record_arrest(arresting, name="Imran Qureshi", cnic=id_card, fir_number="300/2025")
        done = await screened_arrest(arresting, created["id"])
        link = matches(done)[("person", person["id"])]
        assert link["how"] == "cnic" and link["detail"] == "FIR 31/2024, PS Saddar Rawalpindi"
        assert link["officers"] == [open_io.id]
        assert done["screening"]["told"]["officers"] == [open_io.id]
        told = await bulletin_about(nc, open_io, "arrest", created["id"], casework=True)
        assert told.kind == "wanted_elsewhere" and told.officer_id == open_io.id
        assert ("person", person["id"]) in {(m.kind, m.id) for m in told.matches}
        await nothing_on_casework(nc, closed_io, created["id"])

        # The open case is closed too: the next arrest tells its officer nothing.
        case_id = person["cases"][0]["id"]
        closing = await clerk.patch(f"/persons/{person['id']}/cases/{case_id}", json={"status": "acquitted"})
        assert closing.status_code == 200 and closing.json()["investigating_officer"] == open_io.government_id
        later = await record_arrest(arresting, name="Imran Qureshi", cnic=id_card, fir_number="301/2025")
        again = await screened_arrest(arresting, later["id"])
        assert matches(again)[("person", person["id"])]["officers"] == []
        assert again["screening"]["told"]["officers"] == []
        await nothing_on_casework(nc, open_io, later["id"])


async def test_an_investigating_officer_must_be_a_staff_account(served: Served) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    io = await add_user(served.app, Role.PATROL_OFFICER)
    async with clerk:
        person = await add_person(clerk, "Tariq Mehmood", cases=[OLD_CASE])
        case_id = person["cases"][0]["id"]
        cases = f"/persons/{person['id']}/cases"
        for bad, status in (("NO-SUCH-OFFICER", 422), ("a b", 422), ("x" * 40, 422)):
            new_case = {**OLD_CASE, "fir_number": "1/2025", "investigating_officer": bad}
            assert (await clerk.post(cases, json=new_case)).status_code == status, bad
            patched = await clerk.patch(f"{cases}/{case_id}", json={"investigating_officer": bad})
            assert patched.status_code == status, bad
            body = {"category": "wanted", "name": "Someone Else", "cases": [new_case]}
            assert (await clerk.post("/persons", json=body)).status_code == status, bad
        refused = await clerk.post(
            cases, json={**OLD_CASE, "fir_number": "2/2025", "investigating_officer": "T-0"}
        )
        assert "investigating_officer" in refused.text
        missing = await clerk.patch(f"{cases}/{case_id}", json={"investigating_officer": "NO-SUCH-OFFICER"})
        assert "no staff account" in missing.text

        patched = await clerk.patch(f"{cases}/{case_id}", json={"investigating_officer": io.government_id})
        assert patched.status_code == 200 and patched.json()["investigating_officer"] == io.government_id
        [entry, *_] = audited(served, "persons.case_update", f"person:{person['id']}")
        assert entry.details["changes"]["investigating_officer"] == [None, io.government_id]
        cleared = await clerk.patch(f"{cases}/{case_id}", json={"investigating_officer": None})
        assert cleared.status_code == 200 and cleared.json()["investigating_officer"] is None


async def test_an_arrest_photo_matching_a_watchlisted_person_tells_their_case_officer(
    served: Served, nc: Client, media_dir: Path
) -> None:
    settings = served.app.state.services.settings
    enroller = Enroller(
        settings, FaceAnalyzer(settings, settings.models_dir), served.app.state.services.watchlist
    )
    basis = LegalBasis("FIR 31/2024 PS Saddar", "SSP Investigation", datetime.now(UTC) + timedelta(days=30))
    photos = [("a.jpg", face(media_dir, "obama", "examples_obama.jpg"))]
    enrolled = await asyncio.to_thread(enroller.enrol, "Barack Obama", "wanted", photos, basis, "staff:1:t")
    clerk = await client(served, Role.RECORDS_CLERK)
    io = await add_user(served.app, Role.PATROL_OFFICER)
    arresting = await client(served, Role.PATROL_OFFICER)
    async with clerk, arresting:
        case = {**OLD_CASE, "investigating_officer": io.government_id}
        person = await add_person(
            clerk, "Barack Obama", watchlist_profile_id=enrolled.profile_id, cases=[case]
        )
        probe = b64(face(media_dir, "obama", "examples_obama2.jpg"))
        created = await record_arrest(arresting, name="Unknown Male", fir_number="77/2025", photo_jpeg=probe)
        done = await screened_arrest(arresting, created["id"])
        link = matches(done)[("person", person["id"])]
        assert link["how"] == "face" and link["score"] > 0.42 and link["officers"] == [io.id]
        told = await bulletin_about(nc, io, "arrest", created["id"], casework=True)
        assert told.kind == "wanted_elsewhere" and "FIR 77/2024" in told.summary
        assert told.photo_jpeg is not None and told.photo_jpeg[:2] == b"\xff\xd8"

        stranger = b64(face(media_dir, "biden", "examples_biden.jpg"))
        other = await record_arrest(arresting, name="Another Male", fir_number="78/2025", photo_jpeg=stranger)
        assert ("person", person["id"]) not in matches(await screened_arrest(arresting, other["id"]))
        await nothing_on_casework(nc, io, other["id"])
