"""Missing persons and unidentified dead bodies over HTTP on both databases: registered with features and
photos, every officer told, ranked candidates both ways re-computed whenever either side changes (sex a
hard filter, time plausible, features and faces scored), and a missing person's photos on the camera
watchlist in the category 'missing' whose alerts ask for a welfare check: at once (no second approval),
with the report as its legal basis, who registered it as the authorising officer and an expiry, audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client

from command_center.alerts.instructions import WELFARE_CHECK
from command_center.security.permissions import Role
from tests.command_center.casework_helpers import Mailbox, ago, b64, bulletin_about, face
from tests.command_center.helpers import Served, add_user, camera, eventually, hit, jpeg
from tests.command_center.records_helpers import REASON, audited, client, client_of
from tests.names import subjects

MISSING = {
    "name": "Muhammad Bilal",
    "father_name": "Ghulam Nabi",
    "sex": "male",
    "age_min": 25,
    "age_max": 30,
    "height_cm": 170,
    "build": "slim",
    "complexion": "wheatish",
    "marks": "Mole on left cheek, scar on right hand",
    "clothing": "White shalwar kameez, black chappal",
    "district": "Lahore",
    "police_station": "PS Shadman",
    "last_seen_place": "Ichhra bazaar",
}
BODY = {
    "udr_number": "UDR 14/2025",
    "sex": "male",
    "age_min": 28,
    "age_max": 35,
    "height_cm": 172,
    "build": "slim",
    "complexion": "wheatish",
    "marks": "Scar on right hand; mole on the left cheek",
    "clothing": "white kameez",
    "district": "Lahore",
    "police_station": "PS Ravi Road",
    "found_place": "Ravi river bank",
}


async def register(http: httpx.AsyncClient, kind: str, body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    when = "last_seen_at" if kind == "missing" else "found_at"
    values = {**body, when: ago(days=10 if kind == "missing" else 3), **fields}
    response = await http.post(f"/{kind}", json=values)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def candidates(http: httpx.AsyncClient, kind: str, case_id: int) -> list[dict[str, Any]]:
    response = await http.get(f"/{kind}/{case_id}/candidates", params=REASON)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["candidates"]
    return found


def ids(found: list[dict[str, Any]], side: str) -> list[int]:
    return [c[side]["id"] for c in found]


async def test_features_rank_candidates_both_ways_and_every_change_reranks(
    served: Served, nc: Client
) -> None:
    clerk_user = await add_user(served.app, Role.RECORDS_CLERK)
    clerk = await client_of(served, clerk_user)
    officer_user = await add_user(served.app, Role.PATROL_OFFICER)
    officer = await client_of(served, officer_user)
    async with clerk, officer:
        bilal = await register(clerk, "missing", MISSING)
        assert bilal["status"] == "open" and bilal["instruction"] == WELFARE_CHECK
        woman = await register(clerk, "missing", {**MISSING, "name": "Ayesha Bibi", "sex": "female"})
        elder = await register(
            clerk, "missing", {**MISSING, "name": "Nazir Ahmad", "age_min": 65, "age_max": 70}
        )
        unlike = await register(
            clerk,
            "missing",
            {**MISSING, "name": "Imran Ali", "height_cm": 190, "build": "heavy", "complexion": "fair"}
            | {
                "marks": "tattoo of an eagle on the neck",
                "clothing": "blue jeans, red jacket",
                "district": "Multan",
            },
        )
        body = await register(clerk, "udr", BODY)
        assert body["status"] == "unidentified"

        ranked = await candidates(officer, "udr", body["id"])
        assert ids(ranked, "missing")[0] == bilal["id"]
        assert woman["id"] not in ids(ranked, "missing")  # sex: a hard filter
        assert elder["id"] not in ids(ranked, "missing")  # 65-70 is no 28-35
        scores = [c["score"] for c in ranked]
        assert scores == sorted(scores, reverse=True)
        best = ranked[0]
        assert best["score"] >= 0.8 and best["face_score"] is None
        assert best["reasons"]["marks"] > 0.8 and best["reasons"]["age"] == 1.0
        if unlike["id"] in ids(ranked, "missing"):
            assert ranked[ids(ranked, "missing").index(unlike["id"])]["score"] < best["score"] - 0.3
        assert ids(await candidates(officer, "missing", bilal["id"]), "udr") == [body["id"]]

        # A body found before he went missing is no candidate; a later change on either side reranks.
        earlier = await register(clerk, "udr", {**BODY, "udr_number": "UDR 1/2025"}, found_at=ago(days=30))
        assert earlier["id"] not in ids(await candidates(officer, "missing", bilal["id"]), "udr")
        before = best["score"]
        taller = await clerk.patch(f"/missing/{bilal['id']}", json={"height_cm": 150, "build": "heavy"})
        assert taller.status_code == 200, taller.text
        [after] = [
            c for c in await candidates(officer, "udr", body["id"]) if c["missing"]["id"] == bilal["id"]
        ]
        assert after["score"] < before and after["reasons"]["height"] == 0.0
        moved = await clerk.patch(f"/udr/{body['id']}", json={"sex": "female"})
        assert moved.status_code == 200
        assert bilal["id"] not in ids(await candidates(officer, "udr", body["id"]), "missing")
        assert ids(await candidates(officer, "udr", body["id"]), "missing") == [woman["id"]]

        mailbox = Mailbox(nc, officer_user)
        news = await mailbox.find("missing", bilal["id"])
        assert news.instruction == WELFARE_CHECK and "Muhammad Bilal" in news.title
        assert (await mailbox.find("udr", body["id"])).place == "Ravi river bank"
        match = await bulletin_about(nc, clerk_user, "missing", bilal["id"], casework=True)
        assert match.kind == "missing_match" and match.matches[0].id == body["id"]

        found = await officer.get("/missing", params={"q": "Mohd Bilal", **REASON})
        assert [c["id"] for c in found.json()["cases"]][:1] == [bilal["id"]]
        bodies = await officer.get("/udr", params={"q": "14/2025", **REASON})
        assert [c["id"] for c in bodies.json()["cases"]] == [body["id"]]
        [entry, *_] = audited(served, "udr.candidates")
        assert entry.reason == REASON["reason"]
        assert audited(served, "missing.update", f"missing:{bilal['id']}")


async def test_faces_lead_the_ranking_and_missing_photos_go_on_the_watchlist(
    served: Served, nc: Client, media_dir: Path
) -> None:
    clerk_user = await add_user(served.app, Role.RECORDS_CLERK)
    clerk = await client_of(served, clerk_user)
    operator = await client(served, Role.OPERATOR)
    async with clerk, operator:
        sparse = {"sex": "male", "age_min": 40, "age_max": 60, "district": "Islamabad"}
        obama = b64(face(media_dir, "obama", "examples_obama.jpg"))
        biden = b64(face(media_dir, "biden", "examples_biden.jpg"))
        missing = await register(clerk, "missing", {**sparse, "name": "Barry Soetoro"}, photos_jpeg=[obama])
        other = await register(clerk, "missing", {**sparse, "name": "Joe Robinette"}, photos_jpeg=[biden])
        assert missing["photos"][0]["face_found"] is True
        profile_id = missing["watchlist_profile_id"]
        assert profile_id is not None and "camera watchlist" in missing["watchlist"]
        watchlist = served.app.state.services.watchlist
        profile = await asyncio.to_thread(watchlist.get_profile, profile_id)
        assert (profile.category, profile.status) == ("missing", "active")

        probe = b64(face(media_dir, "obama", "examples_obama2.jpg"))
        body = await register(clerk, "udr", {**sparse, "udr_number": "UDR 7/2025"}, photos_jpeg=[probe])
        ranked = await candidates(operator, "udr", body["id"])
        # The same description, but a clearly different face: sunk below the cut, not listed.
        assert ids(ranked, "missing") == [missing["id"]]
        assert ranked[0]["face_score"] > 0.42 and ranked[0]["score"] > 0.8
        assert other["id"] not in ids(await candidates(operator, "udr", body["id"]), "missing")

        # A camera sees him: the alert asks for a welfare check; the case's clerk is told.
        cam = camera()
        seen = hit(cam, profile_id=profile_id).model_copy(update={"category": "missing"})
        await nc.jetstream().publish(subjects.hits("face", cam), seen.to_bytes())

        async def alert() -> dict[str, Any] | None:
            found = (await served.http.get("/alerts", params={"camera_id": cam})).json()["alerts"]
            return found[0] if found else None

        raised = await eventually(alert)
        assert raised["category"] == "missing" and raised["instruction"] == WELFARE_CHECK
        mailbox = Mailbox(nc, clerk_user, casework=True)
        match = await mailbox.find("missing", missing["id"], of_kind="missing_match")
        assert [m.id for m in match.matches] == [body["id"]] and match.matches[0].how == "face"
        told = await mailbox.find("missing", missing["id"], of_kind="missing_seen")
        assert told.instruction == WELFARE_CHECK and cam in told.title

        closed = await clerk.patch(f"/missing/{missing['id']}", json={"status": "found"})
        assert closed.status_code == 200 and closed.json()["watchlist_profile_id"] is None
        profile = await asyncio.to_thread(watchlist.get_profile, profile_id)
        assert profile.status == "removed"
        assert missing["id"] not in ids(await candidates(operator, "udr", body["id"]), "missing")
        more = await clerk.post(
            f"/missing/{missing['id']}/photos", files={"photo": ("p.jpg", jpeg((1, 2, 3), 64), "image/jpeg")}
        )
        assert more.status_code == 422  # a closed case does not change


async def test_bad_cases_are_refused(served: Served) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    officer = await client(served, Role.PATROL_OFFICER)
    async with clerk, officer:
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        refused: list[tuple[str, dict[str, Any], str]] = [
            ("missing", {**MISSING, "age_min": 40, "age_max": 30}, "ages"),
            ("missing", {**MISSING, "sex": "x"}, "sex"),
            ("missing", {**MISSING, "build": "giant"}, "build"),
            ("missing", {**MISSING, "last_seen_at": future}, "future"),
            ("missing", {**MISSING, "photos_jpeg": ["nope!"]}, "photo"),
            ("missing", {**MISSING, "latitude": 31.5}, "half a position"),
            ("missing", {**MISSING, "cnic": "123"}, "cnic"),
            ("udr", {**BODY, "udr_number": ""}, "udr number"),
            ("udr", {**BODY, "found_at": future}, "future"),
        ]
        for kind, body, why in refused:
            when = "last_seen_at" if kind == "missing" else "found_at"
            response = await clerk.post(f"/{kind}", json={when: ago(days=1), **body})
            assert response.status_code == 422, (why, response.text)
        # a field officer registers a case (missing:register) but changes none (missing:write)
        mine = await officer.post("/missing", json={**MISSING, "last_seen_at": ago(days=1)})
        assert mine.status_code == 201, mine.text
        assert (await officer.patch(f"/missing/{mine.json()['id']}", json={"notes": "x"})).status_code == 403
        case = await register(clerk, "missing", MISSING)
        assert (await clerk.patch(f"/missing/{case['id']}", json={"name": None})).status_code == 422
        assert (await clerk.patch(f"/missing/{case['id']}", json={"status": "lost"})).status_code == 422
        assert (await clerk.patch(f"/missing/{case['id']}", json={"age_min": 50})).status_code == 422
        body = await register(clerk, "udr", BODY)
        wrong = await clerk.patch(f"/udr/{body['id']}", json={"identified_missing_id": 424242})
        assert wrong.status_code == 404
        assert (await officer.get("/missing")).status_code == 422  # no reason
        assert (await officer.get(f"/udr/{body['id']}/candidates")).status_code == 422
        assert (await officer.get("/missing/424242", params=REASON)).status_code == 404
        identified = await clerk.patch(
            f"/udr/{body['id']}", json={"status": "identified", "identified_missing_id": case["id"]}
        )
        assert identified.status_code == 200, identified.text
        now_found = await officer.get(f"/missing/{case['id']}", params=REASON)
        assert now_found.json()["status"] == "found"
        await asyncio.sleep(0)


async def test_a_missing_persons_watchlist_entry_carries_its_legal_basis_and_is_audited(
    served: Served, media_dir: Path
) -> None:
    registering, other = [await add_user(served.app, Role.RECORDS_CLERK) for _ in range(2)]
    watchlist = served.app.state.services.watchlist
    async with await client_of(served, registering) as clerk, await client_of(served, other) as second:
        sparse = {"sex": "male", "age_min": 40, "age_max": 60, "district": "Islamabad"}
        obama = b64(face(media_dir, "obama", "examples_obama.jpg"))
        missing = await register(
            clerk,
            "missing",
            {**sparse, "name": "Barry Soetoro"},
            report_number="MPR 41/2025",
            photos_jpeg=[obama],
        )
        first = missing["watchlist_profile_id"]
        profile = await asyncio.to_thread(watchlist.get_profile, first)
        assert profile.legal_reference == f"Missing person case {missing['id']}, report MPR 41/2025"
        assert profile.authorised_by.startswith(f"staff:{registering.id}:")
        days = (profile.expires_at - datetime.now(UTC)).days
        assert 363 <= days <= 365 and profile.status == "active"  # missing_watchlist_days: 365
        [entry] = audited(served, "watchlist.enroll_missing", f"watchlist_profile:{first}")
        assert entry.actor.startswith(f"staff:{registering.id}:") and "no second approval" in (
            entry.reason or ""
        )
        assert entry.details["missing_case_id"] == missing["id"] and entry.details["replaces"] is None
        assert (entry.details["legal_reference"], entry.details["authorised_by"]) == (
            profile.legal_reference,
            profile.authorised_by,
        )
        assert entry.details["expires_at"] == profile.expires_at.isoformat()

        # Another clerk adds a photo: a new entry, still authorised by who registered the report.
        more = await second.post(
            f"/missing/{missing['id']}/photos",
            files={"photo": ("p.jpg", face(media_dir, "obama", "examples_obama2.jpg"), "image/jpeg")},
        )
        assert more.status_code == 201, more.text
        view = await clerk.get(f"/missing/{missing['id']}", params=REASON)
        replacement = view.json()["watchlist_profile_id"]
        assert replacement not in (None, first)
        renewed = await asyncio.to_thread(watchlist.get_profile, replacement)
        assert renewed.authorised_by == profile.authorised_by and renewed.photo_count == 2
        [added] = audited(served, "watchlist.enroll_missing", f"watchlist_profile:{replacement}")
        assert added.actor.startswith(f"staff:{other.id}:") and added.details["replaces"] == first
        [replaced] = audited(served, "watchlist.remove_missing", f"watchlist_profile:{first}")
        assert replaced.reason == f"replaced by profile {replacement}"

        closed = await second.patch(f"/missing/{missing['id']}", json={"status": "found"})
        assert closed.status_code == 200, closed.text
        [removed] = audited(served, "watchlist.remove_missing", f"watchlist_profile:{replacement}")
        assert removed.actor.startswith(f"staff:{other.id}:") and "found" in (removed.reason or "")
        assert (await asyncio.to_thread(watchlist.get_profile, replacement)).status == "removed"
        assert (await asyncio.to_thread(served.app.state.services.audit.verify)).ok
