"""The watchlist over HTTP with the real face models, on both databases: four-eyes, legal basis, audit."""

from __future__ import annotations

import asyncio
import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from nats.aio.client import Client

from command_center.security.permissions import Role
from pipeline.contracts import WatchlistChange
from tests.command_center.helpers import Served, bearer, jpeg, staff_session
from tests.names import subjects
from watchlist.matcher import WatchlistMatcher

REASON = {"reason": "FIR 12/2025 enquiry"}


def obama(media_dir: Path, name: str = "examples_obama.jpg") -> tuple[str, bytes, str]:
    return (name, (media_dir / "faces" / "obama" / name).read_bytes(), "image/jpeg")


def legal(days: float = 30, **override: str) -> dict[str, str]:
    fields = {
        "legal_reference": "FIR 12/2025 PS Saddar",
        "authorised_by": "SSP Investigation",
        "expires_at": (datetime.now(UTC) + timedelta(days=days)).isoformat(),
    }
    return {**fields, **override}


async def propose(
    http: httpx.AsyncClient, name: str, category: str, *photos: tuple[str, bytes, str], **fields: str
) -> httpx.Response:
    return await http.post(
        "/watchlist/profiles",
        data={"name": name, "category": category, **legal(), **fields},
        files=[("photos", photo) for photo in photos],
        timeout=120,
    )


async def client(served: Served, role: Role) -> httpx.AsyncClient:
    pair = await staff_session(served.app, role)
    return httpx.AsyncClient(base_url=served.url, timeout=10, headers=bearer(pair.access_token))


async def changes_of(nc: Client) -> asyncio.Queue[WatchlistChange]:
    queue: asyncio.Queue[WatchlistChange] = asyncio.Queue()

    async def on_change(msg: Any) -> None:
        queue.put_nowait(WatchlistChange.from_bytes(msg.data))

    await nc.subscribe(subjects.watchlist_changes(), cb=on_change)
    return queue


async def change_of(
    changes: asyncio.Queue[WatchlistChange], profile_id: int, name: str | None = None
) -> WatchlistChange:
    while True:
        change = await changes.get()
        if change.profile_id == profile_id and (name is None or change.name in ("", name)):
            return change


def matches(served: Served, change: WatchlistChange) -> int | None:
    services = served.app.state.services
    matcher = WatchlistMatcher(services.settings)
    matcher.load(services.watchlist)
    found = matcher.match(np.asarray(change.embeddings[:1], np.float32), 1)[0]
    return found[0].profile_id if found and found[0].passes else None


async def test_clerk_proposes_supervisor_approves_and_removal_likewise(
    served: Served, nc: Client, media_dir: Path
) -> None:
    changes = await changes_of(nc)
    # Other tests on the same NATS announce their own profiles (their ids restart at 1 in each database):
    # this one is told apart by a name of its own.
    name = "Barack Obama " + "".join(random.choices(string.ascii_uppercase, k=8))
    clerk, supervisor = await client(served, Role.RECORDS_CLERK), await client(served, Role.SUPERVISOR)
    async with clerk, supervisor:
        response = await propose(
            clerk, name, "wanted", obama(media_dir), obama(media_dir, "examples_obama2.jpg")
        )
        assert response.status_code == 201, response.text
        profile = response.json()
        assert (profile["status"], profile["matching"], profile["photo_count"]) == ("pending_add", False, 2)
        assert profile["legal_reference"] == "FIR 12/2025 PS Saddar" and profile["approved_by"] is None
        pid = profile["id"]

        assert (await clerk.post(f"/watchlist/profiles/{pid}/approve")).status_code == 403, (
            "clerks cannot approve"
        )
        pending = (await supervisor.get("/watchlist/pending")).json()
        assert [p["id"] for p in pending["profiles"]] == [pid]
        await asyncio.sleep(0.3)
        announced = [changes.get_nowait() for _ in range(changes.qsize())]
        assert not [c for c in announced if c.name == name], "a pending profile is never announced"

        approved = await supervisor.post(
            f"/watchlist/profiles/{pid}/approve", json={"reason": "warrant checked"}
        )
        assert approved.status_code == 200, approved.text
        assert (approved.json()["status"], approved.json()["matching"]) == ("active", True)
        upsert = await asyncio.wait_for(change_of(changes, pid, name), 10)
        assert upsert.action == "upsert" and len(upsert.embeddings) == 2 and upsert.expires_at is not None
        assert matches(served, upsert) == pid

        assert (await clerk.delete(f"/watchlist/profiles/{pid}")).status_code == 422, "a reason is required"
        proposed = await clerk.delete(f"/watchlist/profiles/{pid}", params={"reason": "arrested 3 March"})
        assert proposed.status_code == 202 and proposed.json()["status"] == "pending_removal"
        assert matches(served, upsert) == pid, "still matching until the removal is approved"
        removed = await supervisor.post(f"/watchlist/profiles/{pid}/approve")
        assert removed.status_code == 200 and removed.json()["status"] == "removed"
        removal = await asyncio.wait_for(change_of(changes, pid, name), 10)
        assert removal.action == "remove" and removal.embedding_ids == upsert.embedding_ids
        assert matches(served, upsert) is None
        again = await supervisor.post(f"/watchlist/profiles/{pid}/approve")
        assert again.status_code == 409 and "nothing is pending" in again.json()["detail"]

        trail = (await supervisor.get("/audit", params={"target": f"watchlist_profile:{pid}"})).json()[
            "entries"
        ]
        actions = [e["action"] for e in reversed(trail)]
        assert actions == [
            "watchlist.propose_add",
            "watchlist.approve_add",
            "watchlist.propose_removal",
            "watchlist.approve_removal",
        ]
        assert trail[0]["role"] == "supervisor" and trail[0]["ip"] == "127.0.0.1"
        assert trail[1]["reason"] == "arrested 3 March" and trail[1]["role"] == "records_clerk"
        assert (await clerk.get("/audit")).status_code == 403


async def test_four_eyes_applies_to_supervisors_and_is_audited(served: Served, media_dir: Path) -> None:
    supervisor = await client(served, Role.SUPERVISOR)
    async with supervisor:
        response = await propose(supervisor, "Barack Obama", "wanted", obama(media_dir))
        pid = response.json()["id"]
        refused = await supervisor.post(f"/watchlist/profiles/{pid}/approve")
        assert refused.status_code == 403 and "four-eyes" in refused.json()["detail"]
        assert (await supervisor.post(f"/watchlist/profiles/{pid}/reject", json={})).status_code == 422
        rejected = await served.http.post(
            f"/watchlist/profiles/{pid}/reject", json={"reason": "no warrant on file"}
        )
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        assert rejected.json()["rejection_reason"] == "no warrant on file"
        entries = (await served.http.get("/audit", params={"target": f"watchlist_profile:{pid}"})).json()[
            "entries"
        ]
        assert [e["action"] for e in reversed(entries)] == [
            "watchlist.propose_add",
            "watchlist.approve_refused",
            "watchlist.reject_add",
        ]


async def test_reads_need_a_reason_and_are_audited(served: Served, media_dir: Path) -> None:
    operator = await client(served, Role.OPERATOR)
    async with operator:
        pid = (await propose(served.http, "Barack Obama", "wanted", obama(media_dir))).json()["id"]
        assert (await operator.get("/watchlist/profiles")).status_code == 422
        assert (await operator.get("/watchlist/profiles", params={"reason": "x"})).status_code == 422
        assert (await operator.get(f"/watchlist/profiles/{pid}")).status_code == 422
        listed = await operator.get("/watchlist/profiles", params={**REASON, "status": "pending_add"})
        assert listed.status_code == 200 and [p["id"] for p in listed.json()["profiles"]] == [pid]
        shown = await operator.get(f"/watchlist/profiles/{pid}", params=REASON)
        assert shown.status_code == 200 and shown.json()["name"] == "Barack Obama"
        crop = await operator.get(f"/watchlist/profiles/{pid}/photo")
        face = cv2.imdecode(np.frombuffer(crop.content, np.uint8), cv2.IMREAD_COLOR)
        assert crop.headers["content-type"] == "image/jpeg" and face is not None
        assert (await operator.get("/watchlist/pending")).status_code == 403
        assert (await operator.post(f"/watchlist/profiles/{pid}/approve")).status_code == 403

    entries = (await served.http.get("/audit", params={"limit": 10})).json()["entries"]
    mine = [e for e in reversed(entries) if e["role"] == "operator"]
    assert [(e["action"], e["reason"]) for e in mine] == [
        ("watchlist.search", REASON["reason"]),
        ("watchlist.view", REASON["reason"]),
        ("watchlist.photo_view", None),
    ]
    assert mine[0]["details"]["returned"] == [pid]
    verified = (await served.http.get("/audit/verify")).json()
    assert verified["ok"] is True and verified["checked"] >= 5
    queries = (await served.http.get("/audit", params={"action": "audit.query"})).json()["entries"]
    assert len(queries) >= 1 and queries[0]["details"]["action"] == "audit.query", "audit queries are audited"


async def test_refusals_are_4xx_with_the_reason(served: Served, media_dir: Path) -> None:
    blank = ("blank.jpg", jpeg((128, 128, 128), 400), "image/jpeg")
    response = await propose(served.http, "Nobody", "wanted", obama(media_dir), blank)
    assert response.status_code == 422
    assert "blank.jpg" in response.json()["detail"] and "no face" in response.json()["detail"]

    response = await propose(served.http, "Junk", "wanted", ("junk.jpg", b"not an image", "image/jpeg"))
    assert response.status_code == 422 and "junk.jpg" in response.json()["detail"]

    response = await propose(served.http, "Obama", "no-such-category", obama(media_dir))
    assert response.status_code == 422 and "category" in response.json()["detail"]

    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = await propose(served.http, "Obama", "wanted", obama(media_dir), expires_at=past)
    assert response.status_code == 422 and "not in the future" in response.json()["detail"]
    far = (datetime.now(UTC) + timedelta(days=6 * 365)).isoformat()
    response = await propose(served.http, "Obama", "wanted", obama(media_dir), expires_at=far)
    assert response.status_code == 422 and "five years" in response.json()["detail"]
    response = await served.http.post(
        "/watchlist/profiles",
        data={"name": "No basis", "category": "wanted"},
        files=[("photos", obama(media_dir))],
    )
    assert response.status_code == 422

    response = await served.http.post(
        "/watchlist/profiles", data={"name": "No photo", "category": "wanted", **legal()}
    )
    assert response.status_code == 422
    assert (await served.http.post("/watchlist/profiles/999999/approve")).status_code == 404
    assert (await served.http.delete("/watchlist/profiles/999999", params=REASON)).status_code == 404
    assert (await served.http.get("/watchlist/profiles", params=REASON)).json()["total"] == 0
