"""Arrests, missing persons and unidentified bodies sent with an ``Idempotency-Key`` are stored once, on
both databases, as crime reports are: the officer app queues them on the phone while offline and sends
them again whenever it did not hear the answer. The same key twice gives the first record back (200);
four requests at once with one key store one; a key is a UUID and its officer's own."""

from __future__ import annotations

import asyncio
import urllib.parse
import uuid
from typing import Any

import httpx
import pytest

from command_center.security.permissions import Role
from tests.command_center.casework_helpers import ago, arrest, b64
from tests.command_center.helpers import Served, jpeg
from tests.command_center.records_helpers import REASON, client

KINDS = ("arrests", "missing", "udr")


def body_of(kind: str, tag: str) -> dict[str, Any]:
    if kind == "arrests":
        return arrest(f"Sajjad Hussain {tag}", fir_number=f"{tag[:4]}/2026")
    photos = [b64(jpeg((40, 90, 160), 64))]
    if kind == "missing":
        return {
            "name": f"Rukhsana Bibi {tag}",
            "sex": "female",
            "last_seen_at": ago(days=1),
            "photos_jpeg": photos,
        }
    return {"udr_number": f"UDR {tag}", "sex": "male", "found_at": ago(hours=5), "photos_jpeg": photos}


async def stored(http: httpx.AsyncClient, kind: str, tag: str) -> list[dict[str, Any]]:
    """The records the supervisor finds for this test's tag."""
    if kind == "arrests":
        query = {"fir": f"{tag[:4]}/2026", "police_station": "PS Civil Lines", **REASON}
        return list((await http.get(f"/arrests?{urllib.parse.urlencode(query)}")).json()["arrests"])
    query = {"q": f"{'UDR ' if kind == 'udr' else 'Rukhsana Bibi '}{tag}", **REASON}
    page = (await http.get(f"/{kind}?{urllib.parse.urlencode(query)}")).json()
    label = "udr_number" if kind == "udr" else "name"
    return [c for c in page["cases"] if tag in c[label]]


@pytest.mark.parametrize("kind", KINDS)
async def test_sent_again_or_at_once_with_its_key_it_is_stored_once(served: Served, kind: str) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    supervisor = await client(served, Role.SUPERVISOR)
    async with officer, supervisor:
        key, tag = str(uuid.uuid4()), uuid.uuid4().hex[:8]
        body = body_of(kind, tag)
        first = await officer.post(f"/{kind}", json=body, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        again = await officer.post(f"/{kind}", json=body, headers={"Idempotency-Key": key.upper()})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert len(await stored(supervisor, kind, tag)) == 1
        if kind != "arrests":  # the photo of the second sending is the same one
            assert len(first.json()["photos"]) == len(again.json()["photos"]) == 1
        other = await officer.post(f"/{kind}", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
        assert len(await stored(supervisor, kind, tag)) == 2
        # four at once with one new key (two tabs, a retry during the first send): one stored
        key, tag = str(uuid.uuid4()), uuid.uuid4().hex[:8]
        body = body_of(kind, tag)
        answers = await asyncio.gather(
            *(officer.post(f"/{kind}", json=body, headers={"Idempotency-Key": key}) for _ in range(4))
        )
        assert sorted(r.status_code for r in answers) == [200, 200, 200, 201], [r.text for r in answers]
        assert len({r.json()["id"] for r in answers}) == 1
        assert len(await stored(supervisor, kind, tag)) == 1


async def test_a_key_is_a_uuid_and_belongs_to_its_officer(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    other = await client(served, Role.PATROL_OFFICER)
    async with officer, other:
        for kind in KINDS:
            body = body_of(kind, uuid.uuid4().hex[:8])
            bad = await officer.post(f"/{kind}", json=body, headers={"Idempotency-Key": "arrest-1"})
            assert bad.status_code == 422, bad.text
            key = str(uuid.uuid4())
            mine = await officer.post(f"/{kind}", json=body, headers={"Idempotency-Key": key})
            assert mine.status_code == 201, mine.text
            taken = await other.post(f"/{kind}", json=body, headers={"Idempotency-Key": key})
            assert taken.status_code == 422 and "another officer" in taken.json()["detail"], taken.text
