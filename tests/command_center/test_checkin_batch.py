"""POST /checkins/batch on both databases: bounded (refused whole with the reason), each item judged and
answered at its index, each stored item audited in the same commit, a retried batch answered as the
first was without storing anything twice, and a wanted guest in a batch still raises the alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from command_center.security.permissions import Role
from tests.command_center.helpers import Served, eventually
from tests.command_center.records_helpers import add_person, audited, checkin, client, cnic, hotel_key


def desk(served: Served, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=served.url, timeout=30, headers={"X-API-Key": key})


async def test_a_batch_out_of_bounds_is_refused_whole_with_the_reason(served: Served) -> None:
    _, key = await hotel_key(served)
    limit = served.app.state.services.settings.records.checkin_batch_max_items
    async with desk(served, key) as http:
        for body, words in (
            ({"checkins": []}, "at least 1"),
            ({"checkins": [checkin(f"X-{i}", cnic()) for i in range(limit + 1)]}, f"at most {limit}"),
            ({"checkins": checkin("X-1", cnic())}, "valid list"),
            ([checkin("X-1", cnic())], "valid dictionary"),
            ({"checkins": ["nope"]}, "valid dictionary"),
        ):
            response = await http.post("/checkins/batch", json=body)
            assert response.status_code == 422, response.text
            assert words in response.text, response.text
        staff = await client(served, Role.OPERATOR)
        async with staff:
            assert (
                await staff.post("/checkins/batch", json={"checkins": [checkin("S-1", cnic())]})
            ).status_code == 403
    assert not audited(served, "checkins.post")


async def test_each_item_is_judged_audited_and_a_retry_stores_nothing_twice(served: Served) -> None:
    hotel_id, key = await hotel_key(served)
    guest = cnic()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    items: list[dict[str, Any]] = [
        checkin("BT-1", guest),
        checkin("BT-2", "12345-1234567"),  # not a valid CNIC
        checkin("BT-3", cnic(), checked_in_at=future),
        checkin("BT-4", cnic(), hotel_id=hotel_id + 1000),  # another hotel's
        checkin("BT-5", cnic(), phone="12"),
        checkin("BT-1", guest, room="999"),  # the same booking with other details
        checkin("BT-6", cnic()),
    ]
    async with desk(served, key) as http:
        first = await http.post("/checkins/batch", json={"checkins": items})
        assert first.status_code == 200, first.text
        body = first.json()
        statuses = [r["status"] for r in body["results"]]
        assert statuses == [201, 422, 422, 403, 422, 409, 201]
        assert [r["index"] for r in body["results"]] == list(range(7))
        assert "cnic" in body["results"][1]["error"] and "future" in body["results"][2]["error"]
        assert "phone" in body["results"][4]["error"] and "booking reference" in body["results"][5]["error"]
        assert (body["created"], body["repeats"], body["refused"]) == (2, 0, 5)
        again = await http.post("/checkins/batch", json={"checkins": items})  # the hotel system retries
        retry = again.json()
        assert [r["status"] for r in retry["results"]] == [200, 422, 422, 403, 422, 409, 200]
        for index in (0, 6):
            assert retry["results"][index]["id"] == body["results"][index]["id"]
        single = await http.post("/checkins", json=checkin("BT-6", items[6]["cnic"]) | {
            "checked_in_at": items[6]["checked_in_at"]})  # fmt: skip
        assert single.status_code == 200 and single.json()["id"] == body["results"][6]["id"]
    stored = {body["results"][i]["id"] for i in (0, 6)}
    posts = audited(served, "checkins.post")
    assert {int(e.target.removeprefix("checkin:")) for e in posts} == stored
    assert sorted(e.details["repeat"] for e in posts) == [False, False, True, True, True]
    batches = audited(served, "checkins.batch")
    assert len(batches) == 2 and set(batches[0].details["refused"]) == {"1", "2", "3", "4"}
    assert served.app.state.services.audit.verify().ok


async def test_a_wanted_guest_in_a_batch_raises_the_alert(served: Served) -> None:
    hotel_id, key = await hotel_key(served, district="Lahore", lat=31.55, lon=74.34)
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk, desk(served, key) as http:
        wanted = cnic()
        pid = (await add_person(clerk, "Imran Qureshi", cnic=wanted, category="wanted"))["id"]
        guests = [checkin(f"W-{i}", cnic()) for i in range(20)] + [checkin("W-hit", wanted.replace("-", ""))]
        response = await http.post("/checkins/batch", json={"checkins": guests})
        assert response.status_code == 200 and response.json()["created"] == 21, response.text

        async def alert() -> list[dict[str, Any]] | None:
            found = await served.http.get("/alerts", params={"camera_id": f"hotel-{hotel_id}"})
            alerts: list[dict[str, Any]] = found.json()["alerts"]
            return alerts or None

        [raised] = await eventually(alert, 30)
        assert raised["kind"] == "checkin" and raised["profile_id"] == pid
        hit = response.json()["results"][-1]["id"]

        async def all_screened() -> bool:
            log = await served.http.get("/checkins", params={"reason": "batch screening test", "limit": 50})
            rows = [c for c in log.json()["checkins"] if c["hotel_id"] == hotel_id]
            return len(rows) == 21 and all(c["screened_at"] for c in rows)

        await eventually(all_screened, 30)
        log = await served.http.get("/checkins", params={"reason": "batch screening test", "limit": 50})
        [row] = [c for c in log.json()["checkins"] if c["id"] == hit]
        assert [s["id"] for s in row["screening"]["subjects"]] == [pid]
