"""Integration keys over HTTP: admins manage hotels and keys; a hotel key reads nothing but whoami."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from command_center.security.permissions import Role
from tests.command_center.helpers import Served, bearer, staff_session

HOTEL = {
    "name": "Hotel One",
    "licence_no": "LHR-HTL-0001",
    "address": "1 Mall Road",
    "district": "Lahore Cantt",
    "latitude": 31.55,
    "longitude": 74.34,
}
# Routes a hotel key may call: its own identity, and (issue 7) posting its check-ins.
HOTEL_ROUTES = {
    ("GET", "/integrations/whoami"),
    ("GET", "/auth/me"),
    ("POST", "/checkins"),
    ("POST", "/checkins/batch"),
    ("POST", "/checkins/checkout"),
    ("POST", "/checkins/{checkin_id}/checkout"),
}


async def as_role(served: Served, role: Role) -> dict[str, str]:
    """Headers of a freshly signed-in member of staff with ``role``."""
    return bearer((await staff_session(served.app, role)).access_token)


def anon(served: Served) -> httpx.AsyncClient:
    assert served.anon is not None
    return served.anon


async def hotel_with_key(
    served: Served, admin: dict[str, str], **hotel: object
) -> tuple[int, dict[str, object]]:
    response = await served.http.post("/integrations/hotels", json={**HOTEL, **hotel}, headers=admin)
    assert response.status_code == 201, response.text
    hotel_id = response.json()["id"]
    issued = await served.http.post(
        f"/integrations/hotels/{hotel_id}/keys", json={"label": "PMS"}, headers=admin
    )
    assert issued.status_code == 201, issued.text
    return hotel_id, issued.json()


def key(issued: dict[str, object]) -> dict[str, str]:
    return {"X-API-Key": str(issued["api_key"])}


async def test_admin_registers_a_hotel_and_issues_a_key_shown_once(served: Served) -> None:
    admin = await as_role(served, Role.ADMIN)
    hotel_id, issued = await hotel_with_key(served, admin)
    raw = str(issued["api_key"])
    assert raw.startswith(f"sck_{issued['key_id']}_") and issued["scopes"] == ["checkins:post"]
    assert issued["created_by"].startswith("staff:")  # type: ignore[union-attr]

    hotels = (await served.http.get("/integrations/hotels", headers=admin)).json()
    assert [(h["id"], h["district"], h["active"]) for h in hotels] == [(hotel_id, "Lahore Cantt", True)]
    listing = await served.http.get(f"/integrations/hotels/{hotel_id}/keys", headers=admin)
    assert listing.status_code == 200
    secret = raw.split("_", 2)[2]
    assert secret not in listing.text and "api_key" not in listing.text
    assert [k["key_id"] for k in listing.json()] == [issued["key_id"]]

    whoami = await anon(served).get("/integrations/whoami", headers=key(issued))
    assert whoami.status_code == 200, whoami.text
    assert whoami.json() == {"hotel_id": hotel_id, "hotel_name": "Hotel One", "scopes": ["checkins:post"]}
    used = (await served.http.get(f"/integrations/hotels/{hotel_id}/keys", headers=admin)).json()
    assert used[0]["last_used_at"] is not None


async def test_the_issue_response_is_not_cached(served: Served) -> None:
    admin = await as_role(served, Role.ADMIN)
    response = await served.http.post("/integrations/hotels", json=HOTEL, headers=admin)
    issued = await served.http.post(
        f"/integrations/hotels/{response.json()['id']}/keys", json={"label": "x"}, headers=admin
    )
    assert issued.headers["cache-control"] == "no-store"


async def test_rotation_without_downtime_over_http(served: Served) -> None:
    admin = await as_role(served, Role.ADMIN)
    hotel_id, old = await hotel_with_key(served, admin)
    new = await served.http.post(
        f"/integrations/hotels/{hotel_id}/keys", json={"label": "PMS v2"}, headers=admin
    )
    assert new.status_code == 201
    for issued in (old, new.json()):
        assert (await anon(served).get("/integrations/whoami", headers=key(issued))).status_code == 200

    revoke = await served.http.delete(f"/integrations/keys/{old['key_id']}", headers=admin)
    assert revoke.status_code == 204
    refused = await anon(served).get("/integrations/whoami", headers=key(old))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert (await anon(served).get("/integrations/whoami", headers=key(new.json()))).status_code == 200

    trail = [(row.action, row.target) for row in served.app.state.services.audit.rows()]
    assert [entry for entry in trail if entry[0].startswith("integration.key")] == [
        ("integration.key_issue", f"key:{old['key_id']}"),
        ("integration.key_issue", f"key:{new.json()['key_id']}"),
        ("integration.key_revoke", f"key:{old['key_id']}"),
    ]


async def test_deactivating_a_hotel_stops_its_keys(served: Served) -> None:
    admin = await as_role(served, Role.ADMIN)
    hotel_id, issued = await hotel_with_key(served, admin)
    off = await served.http.patch(f"/integrations/hotels/{hotel_id}", json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
    assert (await anon(served).get("/integrations/whoami", headers=key(issued))).status_code == 401
    more = await served.http.post(f"/integrations/hotels/{hotel_id}/keys", json={"label": "x"}, headers=admin)
    assert more.status_code == 422 and "inactive" in more.json()["detail"]


async def test_a_hotel_key_gets_403_on_every_other_route(served: Served) -> None:
    admin = await as_role(served, Role.ADMIN)
    _, issued = await hotel_with_key(served, admin)
    spec = (await served.http.get("/openapi.json")).json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method in operations:
            if (method.upper(), path) in HOTEL_ROUTES or not _needs_auth(operations[method]):
                continue
            url = path.replace("{", "").replace("}", "")
            url = "/".join("1" if part.endswith("_id") else part for part in url.split("/"))
            response = await anon(served).request(method, url, headers=key(issued))
            # 403: not for integrations; 401: staff sessions only (e.g. logout), where a key means nothing.
            assert response.status_code in (401, 403), (method, path, response.status_code, response.text)
            checked += response.status_code == 403
    assert checked >= 10


def _needs_auth(operation: dict[str, object]) -> bool:
    return bool(operation.get("security"))


async def test_whoami_is_for_integrations_and_admin_routes_for_admins(served: Served) -> None:
    client = anon(served)
    assert (await client.get("/integrations/whoami")).status_code == 401
    assert (await client.get("/integrations/hotels")).status_code == 401
    junk = {"X-API-Key": "sck_0123456789abcdef_" + "A" * 43}
    assert (await client.get("/integrations/whoami", headers=junk)).status_code == 401

    admin = await as_role(served, Role.ADMIN)
    staff = await client.get("/integrations/whoami", headers=admin)
    assert staff.status_code == 403 and "integration keys only" in staff.json()["detail"]
    for role in (Role.SUPERVISOR, Role.OPERATOR, Role.RECORDS_CLERK, Role.PATROL_OFFICER):
        headers = await as_role(served, role)
        response = await served.http.post("/integrations/hotels", json=HOTEL, headers=headers)
        assert response.status_code == 403, role
        assert "integrations:manage" in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"district": "Lahore/Cantt"}, "district"),
        ({"licence_no": "#1"}, "licence_no"),
        ({"name": "Hotel\x00One"}, "name"),
        ({"name": ""}, "name"),
        ({"latitude": 91}, "latitude"),
        ({"longitude": -181}, "longitude"),
        ({"address": ""}, "address"),
        ({"stars": 5}, "stars"),
    ],
)
async def test_bad_hotels_are_422_naming_the_field(
    served: Served, change: dict[str, object], field: str
) -> None:
    admin = await as_role(served, Role.ADMIN)
    response = await served.http.post("/integrations/hotels", json={**HOTEL, **change}, headers=admin)
    assert response.status_code == 422, response.text
    assert field in {str(part) for err in response.json()["detail"] for part in err["loc"]}


async def test_key_refusals_say_why(served: Served) -> None:
    admin = await as_role(served, Role.ADMIN)
    hotel_id, issued = await hotel_with_key(served, admin)
    again = await served.http.post("/integrations/hotels", json=HOTEL, headers=admin)
    assert again.status_code == 409 and "already registered" in again.json()["detail"]

    url = f"/integrations/hotels/{hotel_id}/keys"
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    cases = [
        ({"label": "x", "expires_at": past}, "future"),
        ({"label": "x", "scopes": ["alerts:read"]}, "cannot be given to a hotel key"),
        ({"label": "x", "scopes": []}, "at least 1"),
        ({"label": "x", "scopes": ["root"]}, "scopes"),
        ({"label": "x", "expires_at": "2999-01-01T00:00:00"}, "timezone"),
        ({"label": ""}, "label"),
        ({"label": "PMS\x00"}, "control character"),
    ]
    for body, reason in cases:
        response = await served.http.post(url, json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
        assert reason in response.text, (body, response.text)

    missing = await served.http.post("/integrations/hotels/999999/keys", json={"label": "x"}, headers=admin)
    assert missing.status_code == 404
    assert (await served.http.get("/integrations/hotels/999999/keys", headers=admin)).status_code == 404
    assert (await served.http.delete("/integrations/keys/0123456789abcdef", headers=admin)).status_code == 404
    assert (await served.http.delete("/integrations/keys/not-a-key", headers=admin)).status_code == 422
    assert (
        await served.http.delete(f"/integrations/keys/{issued['key_id']}", headers=admin)
    ).status_code == 204
    assert (
        await served.http.delete(f"/integrations/keys/{issued['key_id']}", headers=admin)
    ).status_code == 204
