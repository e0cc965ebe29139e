"""The vehicle hotlist over HTTP on both databases: CRUD, CSV import, search, audit, roles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from command_center.security.audit import AuditTrail
from command_center.security.permissions import Role
from tests.command_center.helpers import Served, bearer, staff_session

REASON = {"reason": "FIR 112/2025 enquiry"}
HEADER = "plate,status,reason,case_reference,owner,vehicle,priority,expires_at\n"


async def client(served: Served, role: Role) -> httpx.AsyncClient:
    pair = await staff_session(served.app, role)
    return httpx.AsyncClient(base_url=served.url, timeout=10, headers=bearer(pair.access_token))


def body(plate: str = "LEA-1234", **fields: Any) -> dict[str, Any]:
    values = {
        "plate": plate,
        "status": "stolen",
        "reason": "stolen from Liberty Market parking",
        "case_reference": "FIR 112/2025 PS Gulberg",
    }
    return {**values, **fields}


def trail(served: Served) -> AuditTrail:
    audit: AuditTrail = served.app.state.services.audit
    return audit


def csv_file(*rows: str) -> dict[str, tuple[str, bytes, str]]:
    data = (HEADER + "".join(row + "\n" for row in rows)).encode()
    return {"file": ("hotlist.csv", data, "text/csv")}


async def test_clerk_adds_changes_removes_and_every_change_is_audited(served: Served) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk:
        expires = (datetime.now(UTC) + timedelta(days=60)).isoformat()
        created = await clerk.post(
            "/vehicles", json=body(owner="Ali Khan", vehicle="Corolla, white", priority=1, expires_at=expires)
        )
        assert created.status_code == 201, created.text
        entry = created.json()
        assert (entry["plate"], entry["plate_key"], entry["status"]) == ("LEA-1234", "LEA1234", "stolen")
        assert entry["alerting"] is True and entry["priority"] == 1
        assert entry["created_by"].startswith("staff:") and entry["removed_at"] is None
        eid = entry["id"]

        duplicate = await clerk.post("/vehicles", json=body("lea 1234"))
        assert duplicate.status_code == 409 and f"entry {eid}" in duplicate.json()["detail"]

        patched = await clerk.patch(
            f"/vehicles/{eid}", json={"status": "recovered", "owner": None, "note": "found in Model Town"}
        )
        assert patched.status_code == 200, patched.text
        assert (patched.json()["status"], patched.json()["alerting"], patched.json()["owner"]) == (
            "recovered",
            False,
            None,
        )

        assert (await clerk.delete(f"/vehicles/{eid}")).status_code == 422, "a reason is required"
        removed = await clerk.delete(f"/vehicles/{eid}", params={"reason": "entered under the wrong FIR"})
        assert (
            removed.status_code == 200 and removed.json()["removal_reason"] == "entered under the wrong FIR"
        )
        assert (await clerk.delete(f"/vehicles/{eid}", params=REASON)).status_code == 409
        assert (await clerk.patch(f"/vehicles/{eid}", json={"priority": 2})).status_code == 409

        view = await clerk.get(f"/vehicles/{eid}", params=REASON)
        assert view.status_code == 200 and view.json()["removed_by"] == removed.json()["removed_by"]

    entries = trail(served).query(target=f"vehicle_hotlist:{eid}")
    actions = [e.action for e in reversed(entries)]
    assert actions == ["vehicles.add", "vehicles.update", "vehicles.remove", "vehicles.view"]
    update = entries[2]
    assert update.reason == "found in Model Town" and update.role == "records_clerk"
    assert update.details["changes"] == {"status": ["stolen", "recovered"], "owner": ["Ali Khan", None]}
    assert entries[1].reason == "entered under the wrong FIR" and entries[0].reason == REASON["reason"]
    assert entries[3].details["plate"] == "LEA-1234" and entries[3].details["priority"] == 1


async def test_search_exact_partial_fuzzy_with_reason_audited(served: Served) -> None:
    for plate, case, status in [
        ("LEA-1234", "FIR 1/2025", "stolen"),
        ("LEA-1234", "FIR 2/2025", "wanted"),
        ("LEA-1299", "FIR 3/2025", "crime_involved"),
        ("KA22P3368", "FIR 4/2025", "recovered"),
    ]:
        response = await served.http.post("/vehicles", json=body(plate, case_reference=case, status=status))
        assert response.status_code == 201, response.text
    officer = await client(served, Role.PATROL_OFFICER)
    async with officer:
        missing = await officer.get("/vehicles/search", params={"q": "LEA-1234"})
        assert missing.status_code == 422 and "reason" in missing.text

        exact = (await officer.get("/vehicles/search", params={"q": "lea1234", **REASON})).json()
        top = [
            (r["plate"], r["case_reference"], r["status"], r["match"]["kind"]) for r in exact["results"][:2]
        ]
        assert top == [
            ("LEA-1234", "FIR 1/2025", "stolen", "exact"),
            ("LEA-1234", "FIR 2/2025", "wanted", "exact"),
        ]

        pattern = (await officer.get("/vehicles/search", params={"q": "LEA-12*", **REASON})).json()
        assert sorted(r["plate"] for r in pattern["results"]) == ["LEA-1234", "LEA-1234", "LEA-1299"]
        assert {r["match"]["kind"] for r in pattern["results"]} == {"wildcard"}

        fuzzy = (await officer.get("/vehicles/search", params={"q": "KA22P3386", **REASON})).json()
        hit = fuzzy["results"][0]
        assert (hit["plate"], hit["status"], hit["match"]["kind"]) == ("KA22P3368", "recovered", "fuzzy")
        assert 0 < hit["match"]["score"] < 1

        confused = (await officer.get("/vehicles/search", params={"q": "KA22P33G8", **REASON})).json()
        assert confused["results"][0]["match"]["kind"] == "confusion"

        for bad in ("*", "LEA_1234", "A"):
            refused = await officer.get("/vehicles/search", params={"q": bad, **REASON})
            assert refused.status_code == 422, (bad, refused.text)

    searches = trail(served).query(action="vehicles.search", limit=10)
    assert [e.details["q"] for e in searches[:4]] == ["KA22P33G8", "KA22P3386", "LEA-12*", "lea1234"]
    assert all(e.reason == REASON["reason"] and e.role == "patrol_officer" for e in searches[:4])
    assert len(searches[3].details["returned"]) >= 2


async def test_roles(served: Served) -> None:
    entry = (await served.http.post("/vehicles", json=body())).json()
    operator, supervisor = await client(served, Role.OPERATOR), await client(served, Role.SUPERVISOR)
    async with operator, supervisor:
        search = await operator.get("/vehicles/search", params={"q": "LEA1234", **REASON})
        assert search.status_code == 200 and len(search.json()["results"]) == 1
        assert (await operator.get(f"/vehicles/{entry['id']}", params=REASON)).status_code == 200
        for response in (
            await operator.post("/vehicles", json=body("BFR-123")),
            await operator.patch(f"/vehicles/{entry['id']}", json={"priority": 1}),
            await operator.delete(f"/vehicles/{entry['id']}", params=REASON),
            await operator.post("/vehicles/import", files=csv_file()),
        ):
            assert response.status_code == 403 and "vehicles:write" in response.text
        changed = await supervisor.patch(f"/vehicles/{entry['id']}", json={"priority": 1})
        assert changed.status_code == 200 and changed.json()["updated_by"].endswith(":Officer supervisor")


async def test_import_csv_all_or_nothing_partial_and_idempotent(served: Served) -> None:
    good = (
        f"LEA-1234,stolen,stolen from a market,FIR 1/2025,Ali Khan,,1,{date.today() + timedelta(days=9)}",
        "BFR-123,crime-involved,used in a robbery,FIR 2/2025,,,,",
    )
    bad = "LEA_9,stolen,reason here,FIR 3/2025,,,,"
    refused = await served.http.post("/vehicles/import", files=csv_file(good[0], bad, good[1]))
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail["applied"] is False and detail["errors"][0]["row"] == 3
    assert "plate" in detail["errors"][0]["message"] and detail["created"] == 0

    partial = await served.http.post(
        "/vehicles/import", files=csv_file(good[0], bad, good[1]), data={"partial": "true"}
    )
    assert partial.status_code == 200, partial.text
    assert (partial.json()["created"], partial.json()["error_count"]) == (2, 1)

    again = await served.http.post("/vehicles/import", files=csv_file(*good))
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 2)

    entries = trail(served).query(target="vehicle_hotlist", limit=5)
    assert [e.action for e in entries[:3]] == [
        "vehicles.import",
        "vehicles.import",
        "vehicles.import_refused",
    ]
    assert entries[1].details["created"] == 2 and len(entries[1].details["sha256"]) == 64
    assert entries[2].details["error_rows"] == [3]


async def test_import_refuses_what_is_not_a_hotlist(served: Served) -> None:
    cases = [
        ({"file": ("x.csv", b"\xff\xfe\x00", "text/csv")}, 422, "UTF-8"),
        ({"file": ("x.csv", b"name,colour\nx,y\n", "text/csv")}, 422, "unknown column"),
        ({"file": ("x.csv", b"plate\n" + b"A" * 5_000_001, "text/csv")}, 413, "Too Large"),
    ]
    for files, status, why in cases:
        response = await served.http.post("/vehicles/import", files=files)
        assert response.status_code == status and why in response.text, response.text


async def test_bad_input_is_4xx_with_a_reason(served: Served) -> None:
    eid = (await served.http.post("/vehicles", json=body())).json()["id"]
    far = (datetime.now(UTC) + timedelta(days=6 * 365)).isoformat()
    for bad in (
        body(plate="LEA_1234"),
        body(plate="A"),
        body(status="lost"),
        body(priority=0),
        body(priority=6),
        body(expires_at="2001-01-01T00:00:00Z"),
        body(expires_at=far),
        body(expires_at="0001-01-01T00:00:00+01:00"),
        body(case_reference="#1"),
        body(reason="  "),
        body(colour="red"),
    ):
        response = await served.http.post("/vehicles", json=bad)
        assert response.status_code == 422, (bad, response.text)
    for patch in ({"plate": None}, {"status": None}, {"priority": 9}, {"unknown": 1}):
        response = await served.http.patch(f"/vehicles/{eid}", json=patch)
        assert response.status_code == 422, (patch, response.text)
    assert (await served.http.get("/vehicles/999999", params=REASON)).status_code == 404
    assert (await served.http.patch("/vehicles/999999", json={"priority": 1})).status_code == 404
    assert (await served.http.get("/vehicles/0", params=REASON)).status_code == 422


async def test_list_filters_pages_with_reason_audited(served: Served) -> None:
    ids = {}
    for plate, status, priority in [
        ("LEA-2001", "stolen", 2),
        ("LEA-2002", "wanted", 1),
        ("LEA-2003", "stolen", 2),
        ("LEA-2004", "recovered", 3),
    ]:
        created = await served.http.post(
            "/vehicles", json=body(plate, status=status, priority=priority, case_reference=f"FIR {plate}")
        )
        assert created.status_code == 201, created.text
        ids[plate] = created.json()["id"]
    removed = await served.http.delete(f"/vehicles/{ids['LEA-2004']}", params=REASON)
    assert removed.status_code == 200
    officer = await client(served, Role.PATROL_OFFICER)
    async with officer:
        missing = await officer.get("/vehicles")
        assert missing.status_code == 422 and "reason" in missing.text

        active = (await officer.get("/vehicles", params=REASON)).json()
        assert (active["total"], active["limit"], active["offset"]) == (3, 50, 0)
        assert [r["plate"] for r in active["results"]] == ["LEA-2002", "LEA-2003", "LEA-2001"]
        assert all(r["alerting"] for r in active["results"])

        stolen = await officer.get("/vehicles", params={"status": "stolen", "priority": 2, **REASON})
        assert [r["plate"] for r in stolen.json()["results"]] == ["LEA-2003", "LEA-2001"]
        either = await officer.get(
            "/vehicles", params=[("status", "wanted"), ("status", "stolen"), *REASON.items()]
        )
        assert either.json()["total"] == 3

        gone = (await officer.get("/vehicles", params={"state": "removed", **REASON})).json()
        assert [r["plate"] for r in gone["results"]] == ["LEA-2004"] and gone["results"][0]["removed_by"]
        assert (await officer.get("/vehicles", params={"state": "expired", **REASON})).json()["total"] == 0

        second = (await officer.get("/vehicles", params={"limit": 2, "offset": 2, **REASON})).json()
        assert (second["total"], [r["plate"] for r in second["results"]]) == (3, ["LEA-2001"])

        for bad in (
            {"limit": 0},
            {"limit": 201},
            {"offset": -1},
            {"offset": 100_001},
            {"priority": 9},
            {"status": "lost"},
            {"state": "deleted"},
            {"reason": "x"},
        ):
            refused = await officer.get("/vehicles", params={**REASON, **bad})
            assert refused.status_code == 422, (bad, refused.text)

    listed = trail(served).query(action="vehicles.list", limit=20)
    assert len(listed) == 6 and all(e.reason == REASON["reason"] for e in listed)
    first = listed[-1]
    assert first.role == "patrol_officer" and first.details["state"] == "active"
    assert first.details["returned"] == [ids["LEA-2002"], ids["LEA-2003"], ids["LEA-2001"]]
    assert listed[-3].details["status"] == ["stolen", "wanted"]


async def test_search_carries_the_persons_who_list_the_vehicle(served: Served) -> None:
    entry = (await served.http.post("/vehicles", json=body("LEZ-4321", case_reference="FIR 77/2025"))).json()
    other = (await served.http.post("/vehicles", json=body("LEZ-4329", case_reference="FIR 78/2025"))).json()
    case = {"fir_number": "FIR 77/2025", "police_station": "PS Gulberg", "sections": ["381-A PPC"]}
    linked = await served.http.post(
        "/persons",
        json={
            "category": "wanted",
            "name": "Imran Ali",
            "cases": [{**case, "status": "absconding"}],
            "vehicles": [{"plate": "lez 4321", "hotlist_entry_id": entry["id"]}],
        },
    )
    by_plate = await served.http.post(
        "/persons", json={"category": "local", "name": "Bilal Ahmed", "vehicles": [{"plate": "LEZ4321"}]}
    )
    archived = await served.http.post(
        "/persons", json={"category": "local", "name": "Tariq Mehmood", "vehicles": [{"plate": "LEZ-4321"}]}
    )
    for response in (linked, by_plate, archived):
        assert response.status_code == 201, response.text
    gone = await served.http.delete(f"/persons/{archived.json()['id']}", params=REASON)
    assert gone.status_code in (200, 204), gone.text

    officer = await client(served, Role.PATROL_OFFICER)
    async with officer:
        found = (await officer.get("/vehicles/search", params={"q": "LEZ-4321", **REASON})).json()
    hits = {r["plate"]: r for r in found["results"]}
    persons = hits["LEZ-4321"]["linked_persons"]
    assert [(p["name"], p["via"], p["plate"]) for p in persons] == [
        ("Imran Ali", "hotlist_entry", "LEZ 4321"),
        ("Bilal Ahmed", "plate", "LEZ4321"),
    ]
    assert persons[0]["cases"] == [
        {**{k: case[k] for k in ("fir_number", "police_station")}, "status": "absconding"}
    ]
    assert persons[0]["person"] == f"/persons/{linked.json()['id']}" and persons[1]["cases"] == []
    assert hits["LEZ-4329"]["linked_persons"] == [] and hits["LEZ-4329"]["id"] == other["id"]

    audited = trail(served).query(action="vehicles.search", limit=1)[0]
    assert audited.details["linked_persons"] == sorted([linked.json()["id"], by_plate.json()["id"]])
