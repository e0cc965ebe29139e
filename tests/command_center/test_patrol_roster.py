"""The patrol roster on both databases: every active patrol officer with the unit they serve in (none
until a supervisor puts them in a crew), which a supervisor may read and an operator may not; crewing an
officer from the roster is audited like any crew change."""

from __future__ import annotations

import uuid

from command_center.security.permissions import Role
from tests.command_center.helpers import Served, add_user, bearer, staff_session


async def test_the_roster_lists_active_officers_with_their_unit(served: Served) -> None:
    tag = uuid.uuid4().hex[:8]
    newcomer = await add_user(served.app, Role.PATROL_OFFICER, ("Islamabad",), name=f"Constable New {tag}")
    crewed = await add_user(served.app, Role.PATROL_OFFICER, ("Islamabad",), name=f"Constable Crew {tag}")
    gone = await add_user(served.app, Role.PATROL_OFFICER, (), name=f"Constable Gone {tag}")
    operator = await add_user(served.app, Role.OPERATOR, ("Islamabad",), name=f"Operator {tag}")
    disabled = await served.http.patch(
        f"/users/{gone.id}", json={"active": False, "reason": "left the force"}
    )
    assert disabled.status_code == 200, disabled.text
    unit_id = f"ISB-{tag}"
    body = {"id": unit_id, "name": "Mobile 9", "district": "Islamabad"}
    assert (await served.http.post("/patrol/units", json=body)).status_code == 201
    crew = await served.http.post(f"/patrol/units/{unit_id}/crew", json={"officer_ids": [crewed.id]})
    assert crew.status_code == 200, crew.text

    supervisor = await staff_session(served.app, Role.SUPERVISOR)
    answer = await served.http.get("/patrol/officers", headers=bearer(supervisor.access_token))
    assert answer.status_code == 200, answer.text
    roster = {r["user_id"]: r for r in answer.json()}
    assert roster[newcomer.id] == {
        "user_id": newcomer.id,
        "name": f"Constable New {tag}",
        "government_id": newcomer.government_id,
        "districts": ["Islamabad"],
        "unit_id": None,
    }
    assert roster[crewed.id]["unit_id"] == unit_id
    assert gone.id not in roster and operator.id not in roster  # disabled, or not an officer

    refused = await served.http.get(
        "/patrol/officers", headers=bearer((await staff_session(served.app, Role.OPERATOR)).access_token)
    )
    assert refused.status_code == 403
    audit = (await served.http.get("/audit", params={"target": f"patrol_unit:{unit_id}"})).json()["entries"]
    assert [e["action"] for e in audit].count("patrol.crew_assign") == 1
