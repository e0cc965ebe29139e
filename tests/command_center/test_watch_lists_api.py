"""Watch lists over HTTP on both databases: per-list rights on every route, calibration shown and refused,
changes announced and audited, and investigative photo search (ranked, audited with its reason, no alert)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client

from command_center.security.permissions import Role
from tests.command_center.helpers import Served, add_user, bearer
from tests.command_center.test_watchlist_api import change_of, changes_of, legal, obama

REASON = "Enquiry FIR 44/2026"


async def as_user(served: Served, role: Role) -> tuple[httpx.AsyncClient, int]:
    user = await add_user(served.app, role)
    pair = await served.app.state.services.auth.open_session(user)
    return httpx.AsyncClient(base_url=served.url, timeout=60, headers=bearer(pair.access_token)), user.id


async def list_id(http: httpx.AsyncClient, name: str) -> int:
    found = [w["id"] for w in (await http.get("/watchlists")).json() if w["name"] == name]
    assert found, name
    return int(found[0])


async def enrol_approved(
    served: Served, media_dir: Path, name: str, *, lists: list[int] | None = None
) -> int:
    clerk, _ = await as_user(served, Role.RECORDS_CLERK)
    async with clerk:
        data: dict[str, Any] = {"name": name, "category": "wanted", **legal()}
        if lists is not None:
            data["lists"] = [str(i) for i in lists]
        proposed = await clerk.post(
            "/watchlist/profiles",
            data=data,
            files=[
                ("photos", obama(media_dir)),
                ("photos", obama(media_dir, "tests_test_images_obama3.jpg")),
            ],
            timeout=120,
        )
        assert proposed.status_code == 201, proposed.text
    pid = int(proposed.json()["id"])
    approved = await served.http.post(
        f"/watchlist/profiles/{pid}/approve", json={"reason": "warrant checked"}
    )
    assert approved.status_code == 200, approved.text
    return pid


async def test_lists_show_their_calibration_and_a_live_list_refuses_an_impossible_target(
    served: Served,
) -> None:
    lists = (await served.http.get("/watchlists")).json()
    by_name = {w["name"]: w for w in lists}
    wanted = by_name["Wanted"]
    assert wanted["live"] and wanted["mode"] == "live" and wanted["priority"] == 1 and wanted["may_edit"]
    assert "similarity >=" in wanted["calibration_note"] and wanted["threshold"] >= 0.42
    assert by_name["CRO gallery"]["all_profiles"] and not by_name["CRO gallery"]["live"]

    preview = (
        await served.http.get(f"/watchlists/{wanted['id']}/calibration", params={"gallery": 120_000})
    ).json()
    small = (await served.http.get(f"/watchlists/{wanted['id']}/calibration", params={"gallery": 6})).json()
    assert preview["threshold"] > small["threshold"] and preview["false_alerts_per_camera_hour"] <= 0.06
    assert preview["stranger_tracks_per_hour"] == 600

    refused = await served.http.patch(
        f"/watchlists/{by_name['CRO gallery']['id']}", json={"mode": "live", "reason": REASON}
    )
    assert refused.status_code == 409 and "investigative" in refused.json()["detail"]
    nothing = await served.http.patch(f"/watchlists/{wanted['id']}", json={"reason": REASON})
    assert nothing.status_code == 422


async def test_per_list_rights_hold_on_every_list_route(served: Served, nc: Client) -> None:
    supervisor, supervisor_id = await as_user(served, Role.SUPERVISOR)
    other_supervisor, _ = await as_user(served, Role.SUPERVISOR)
    operator, _ = await as_user(served, Role.OPERATOR)
    clerk, _ = await as_user(served, Role.RECORDS_CLERK)
    async with supervisor, other_supervisor, operator, clerk:
        body = {
            "name": "Special Branch targets",
            "purpose": "suspect",
            "mode": "live",
            "viewers": ["role:supervisor"],
            "editors": [f"user:{supervisor_id}"],
            "reason": REASON,
        }
        assert (await clerk.post("/watchlists", json=body)).status_code == 403  # watchlists:manage
        created = await supervisor.post("/watchlists", json=body)
        assert created.status_code == 201, created.text
        lid = created.json()["id"]
        member = {"profile_ids": [1], "reason": REASON}
        routes = [
            ("GET", f"/watchlists/{lid}", None, None),
            ("GET", f"/watchlists/{lid}/calibration", None, None),
            ("GET", f"/watchlists/{lid}/members", None, {"reason": REASON}),
            ("GET", f"/watchlists/{lid}/performance", None, None),
            ("PATCH", f"/watchlists/{lid}", {"priority": 2, "reason": REASON}, None),
            ("POST", f"/watchlists/{lid}/members", member, None),
            ("DELETE", f"/watchlists/{lid}/members/1", None, {"reason": REASON}),
        ]

        async def statuses(http: httpx.AsyncClient) -> list[int]:
            found = []
            for method, path, json_body, params in routes:
                r = await http.request(method, path, json=json_body, params=params)
                found.append(r.status_code)
            return found

        # An operator may not see the list at all: every route answers as if it did not exist.
        assert await statuses(operator) == [404] * len(routes)
        assert lid not in [w["id"] for w in (await operator.get("/watchlists")).json()]
        # Another supervisor sees it but may not change it.
        assert await statuses(other_supervisor) == [200, 200, 200, 200, 403, 403, 403]
        # Its editor may (profile 1 does not exist here: 404 from the store, past the rights).
        changed = await supervisor.patch(f"/watchlists/{lid}", json={"priority": 2, "reason": REASON})
        assert changed.status_code == 200 and changed.json()["priority"] == 2
        # The admin may always.
        assert (await served.http.get(f"/watchlists/{lid}")).status_code == 200

        trail = (await served.http.get("/audit", params={"target": f"watch_list:{lid}"})).json()["entries"]
        actions = [e["action"] for e in trail]
        assert "watchlists.create" in actions and "watchlists.change" in actions
        change = next(e for e in trail if e["action"] == "watchlists.change")
        assert change["reason"] == REASON and change["details"]["changed"]["priority"] == [3, 2]


async def test_members_join_and_leave_announced_and_the_threshold_follows(
    served: Served, nc: Client, media_dir: Path
) -> None:
    changes = await changes_of(nc)
    pid = await enrol_approved(served, media_dir, "Barack Obama (list test)")
    watch = await list_id(served.http, "Watch")
    before = (await served.http.get(f"/watchlists/{watch}")).json()
    added = await served.http.post(
        f"/watchlists/{watch}/members", json={"profile_ids": [pid], "reason": REASON}
    )
    assert added.status_code == 200, added.text
    after = added.json()
    assert after["members"] == before["members"] + 1 and after["gallery_size"] == before["gallery_size"] + 2
    upsert = await asyncio.wait_for(change_of(changes, pid), 10)
    while upsert.action != "upsert" or watch not in upsert.lists:
        upsert = await asyncio.wait_for(change_of(changes, pid), 10)
    members = (await served.http.get(f"/watchlists/{watch}/members", params={"reason": REASON})).json()
    assert [p["id"] for p in members["profiles"]] == [pid]
    unknown = await served.http.post(
        f"/watchlists/{watch}/members", json={"profile_ids": [99_999], "reason": REASON}
    )
    assert unknown.status_code == 404
    removed = await served.http.delete(f"/watchlists/{watch}/members/{pid}", params={"reason": REASON})
    assert removed.status_code == 200 and removed.json()["members"] == before["members"]


async def test_photo_search_ranks_candidates_is_audited_and_raises_no_alert(
    served: Served, media_dir: Path
) -> None:
    pid = await enrol_approved(served, media_dir, "Barack Obama (search test)")
    officer, _ = await as_user(served, Role.PATROL_OFFICER)
    async with officer:
        without_reason = await officer.post(
            "/faces/search", files={"photo": obama(media_dir, "examples_obama2.jpg")}
        )
        assert without_reason.status_code == 422
        found = await officer.post(
            "/faces/search",
            data={"reason": REASON, "top_k": "5"},
            files={"photo": obama(media_dir, "examples_obama2.jpg")},
        )
        assert found.status_code == 200, found.text
        answer = found.json()
        assert answer["faces_in_photo"] == 1 and "CRO gallery" in answer["lists_searched"]
        best = answer["candidates"][0]
        assert best["profile_id"] == pid and best["rank"] == 1 and best["similarity"] > 0.5
        assert best["chance_matches"] < 0.01 and "Wanted" in best["lists"]
        assert best["photo_jpeg"] and best["legal_reference"].startswith("FIR")

        refused = await officer.post(
            "/faces/search",
            data={"reason": REASON, "lists": ["424242"]},
            files={"photo": obama(media_dir, "examples_obama2.jpg")},
        )
        assert refused.status_code == 404
        not_a_photo = await officer.post(
            "/faces/search",
            data={"reason": REASON},
            files={"photo": ("x.jpg", b"not an image", "image/jpeg")},
        )
        assert not_a_photo.status_code == 422

    trail = (await served.http.get("/audit", params={"action": "faces.search"})).json()["entries"]
    mine = [e for e in trail if e["reason"] == REASON and e["details"]["returned"]]
    assert (
        mine and mine[0]["details"]["returned"][0][0] == pid and len(mine[0]["details"]["photo_sha256"]) == 64
    )
    alerts = (await served.http.get("/alerts")).json()
    assert not (alerts["alerts"] if isinstance(alerts, dict) else alerts), "a search pages nobody"


async def test_a_camera_threshold_is_raised_by_a_supervisor_and_audited(served: Served) -> None:
    missing = await served.http.put(
        "/cameras/no-such-camera/face-threshold", json={"face_threshold": 0.6, "reason": REASON}
    )
    assert missing.status_code == 404
    bad = await served.http.put("/cameras/x/face-threshold", json={"face_threshold": 1.5, "reason": REASON})
    assert bad.status_code == 422
