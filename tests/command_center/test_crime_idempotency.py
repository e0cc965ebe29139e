"""A crime report sent with an ``Idempotency-Key`` is stored once, on both databases: the phone that
queued it offline may send it again (a lost answer, a reload), and gets the first report back with 200."""

from __future__ import annotations

import asyncio
import uuid

from command_center.security.permissions import Role
from tests.command_center.helpers import Served
from tests.command_center.records_helpers import REASON, client
from tests.command_center.test_crimes_api import crime


async def test_a_report_sent_twice_with_its_key_is_stored_once(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    async with officer:
        key = str(uuid.uuid4())
        description = f"Mobile phone snatched, report {key[:8]}"
        body = crime("snatching", description=description)
        first = await officer.post("/crimes", json=body, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        again = await officer.post("/crimes", json=body, headers={"Idempotency-Key": key.upper()})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        other = await officer.post("/crimes", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
        unkeyed = [await officer.post("/crimes", json=body) for _ in range(2)]
        assert [r.status_code for r in unkeyed] == [201, 201]
        page = await officer.get("/crimes", params={"limit": 500, **REASON})
        mine = [r for r in page.json()["reports"] if r["description"] == description]
        assert len(mine) == 4


async def test_reports_sent_at_once_with_one_key_make_one_report(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    async with officer:
        key = str(uuid.uuid4())
        body = crime("theft", description=f"Bicycle theft {key[:8]}")
        answers = await asyncio.gather(
            *(officer.post("/crimes", json=body, headers={"Idempotency-Key": key}) for _ in range(4))
        )
        assert sorted(r.status_code for r in answers) == [200, 200, 200, 201], [r.text for r in answers]
        assert len({r.json()["id"] for r in answers}) == 1


async def test_a_key_is_a_uuid_and_belongs_to_its_officer(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    other = await client(served, Role.PATROL_OFFICER)
    async with officer, other:
        bad = await officer.post("/crimes", json=crime(), headers={"Idempotency-Key": "report-1"})
        assert bad.status_code == 422, bad.text
        key = str(uuid.uuid4())
        assert (
            await officer.post("/crimes", json=crime(), headers={"Idempotency-Key": key})
        ).status_code == 201
        taken = await other.post("/crimes", json=crime(), headers={"Idempotency-Key": key})
        assert taken.status_code == 422 and "another officer" in taken.json()["detail"], taken.text
