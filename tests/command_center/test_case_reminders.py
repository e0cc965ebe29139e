"""Case-status reminders over HTTP on both databases: an investigating officer's open case with no update
for ``records.case_reminder_days`` and a challan falling due (s.173 CrPC, from the FIR date) are listed
for that officer only (audited); a supervisor sees their district's; updating the case ends the stale
reminder; each reminder is told once on the officer's notice channel, however often the loop runs."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from nats.aio.client import Client
from sqlalchemy import update

from command_center.records.tables import cases
from command_center.security.permissions import Role
from command_center.security.users import StaffUser
from pipeline.adapters import transactions
from tests.command_center.helpers import Served, add_user
from tests.command_center.records_helpers import add_person, audited, client, client_of, officer_notices


async def open_case(
    http: httpx.AsyncClient, officer: StaffUser, district: str, **fields: Any
) -> dict[str, Any]:
    """A CRO person of ``district`` with one case the officer investigates; the case id and FIR."""
    fir = f"{uuid.uuid4().int % 9000 + 100}/2026"
    case = {"fir_number": fir, "police_station": "PS Kotwali", "sections": ["379 PPC"]}
    case |= {"status": "under_investigation", "investigating_officer": officer.government_id, **fields}
    person = await add_person(http, f"Naveed Iqbal {fir}", district=district, cases=[case])
    return {"id": person["cases"][0]["id"], "fir": fir, "person_id": person["id"]}


def age(served: Served, case_id: int, days: int) -> None:
    """The case record as if last updated ``days`` ago (a case diary nobody touched)."""
    engine = served.app.state.services.engine
    with transactions.begin(engine) as conn:
        stamp = datetime.now(UTC) - timedelta(days=days)
        conn.execute(update(cases).where(cases.c.id == case_id).values(updated_at=stamp))


async def listed(http: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await http.get("/cases/reminders", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["reminders"])


async def test_an_officer_sees_their_own_stale_cases_and_challans_due(served: Served) -> None:
    officer = await add_user(served.app, Role.PATROL_OFFICER, ("Lahore",))
    other = await add_user(served.app, Role.PATROL_OFFICER, ("Lahore",))
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk, await client_of(served, officer) as phone, await client_of(served, other) as theirs:
        stale = await open_case(clerk, officer, "Lahore")
        fresh = await open_case(clerk, officer, "Lahore")
        fir_date = (date.today() - timedelta(days=13)).isoformat()  # the challan is due tomorrow
        challan = await open_case(clerk, officer, "Lahore", fir_date=fir_date)
        not_mine = await open_case(clerk, other, "Lahore")
        closed = await open_case(clerk, officer, "Lahore", status="convicted")
        for case in (stale, not_mine, closed):
            await asyncio.to_thread(age, served, case["id"], 20)
        mine = await listed(phone)
        kinds = {(r["case_id"], r["kind"]) for r in mine}
        assert (stale["id"], "stale") in kinds and (challan["id"], "challan") in kinds
        assert not {fresh["id"], not_mine["id"], closed["id"]} & {r["case_id"] for r in mine}
        [due] = [r for r in mine if r["case_id"] == challan["id"]]
        assert due["overdue"] is False and "challan due" in due["summary"]
        [late] = [r for r in mine if r["case_id"] == stale["id"]]
        assert late["overdue"] is True and late["fir_number"] == stale["fir"]
        assert late["investigating_officer"] == officer.government_id
        assert {r["case_id"] for r in await listed(theirs)} == {not_mine["id"]}
        entries = await asyncio.to_thread(audited, served, "cases.reminders", f"staff:{officer.id}")
        assert entries and entries[0].details["count"] == len(mine)
        updated = await clerk.patch(
            f"/persons/{stale['person_id']}/cases/{stale['id']}", json={"notes": "Witnesses examined"}
        )
        assert updated.status_code == 200, updated.text
        assert stale["id"] not in {r["case_id"] for r in await listed(phone)}
        refused = await phone.get("/cases/reminders", params={"scope": "district"})
        assert refused.status_code == 403, refused.text


async def test_a_supervisor_sees_the_reminders_of_their_district(served: Served) -> None:
    officer = await add_user(served.app, Role.PATROL_OFFICER, ("Multan",))
    here = await add_user(served.app, Role.SUPERVISOR, ("Multan",))
    there = await add_user(served.app, Role.SUPERVISOR, ("Quetta",))
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk, await client_of(served, here) as mine, await client_of(served, there) as theirs:
        case = await open_case(clerk, officer, "Multan")
        await asyncio.to_thread(age, served, case["id"], 30)
        assert case["id"] in {r["case_id"] for r in await listed(mine, scope="district")}
        assert case["id"] not in {r["case_id"] for r in await listed(theirs, scope="district")}


async def test_each_reminder_is_told_once_on_the_officers_channel(served: Served, nc: Client) -> None:
    officer = await add_user(served.app, Role.PATROL_OFFICER, ("Lahore",))
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk:
        case = await open_case(clerk, officer, "Lahore")
        await asyncio.to_thread(age, served, case["id"], 16)
    loop = served.app.state.services.casework.reminder_loop
    assert await loop.tell_due() >= 1
    assert await loop.tell_due() == 0  # told already (a second replica's round finds it claimed)
    [notice] = await officer_notices(nc, officer, 1)
    assert notice.kind == "case_reminder" and notice.person_id == case["person_id"]
    assert case["fir"] in notice.summary and "no update since" in notice.summary
    assert await officer_notices(nc, officer, 1, within_s=1.5) == []
