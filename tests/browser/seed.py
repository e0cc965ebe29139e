"""Data for the browser tests, made the way the system gets it but without a camera: a face hit published
on JetStream exactly as a worker publishes it (the command centre's own durable consumer turns it into an
alert and fans it out), records over the HTTP API, and a hotel's check-in with the hotel's API key."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats

from pipeline.contracts import Box, FaceHit
from tests.browser.conftest import DISTRICT, FACES, System
from tests.names import subjects

OBAMA = FACES / "obama" / "examples_obama_small.jpg"


def face_hit(
    camera_id: str, name: str, category: str, crop: bytes, watch_list: tuple[int, str] | None = None
) -> FaceHit:
    """``watch_list``: (id, name) of the list the face matched through, as a worker names it."""
    now = datetime.now(UTC)
    return FaceHit(
        camera_id=camera_id,
        worker_id="browser-seed",
        captured_at=now,
        frame_sent_at=now - timedelta(milliseconds=40),
        box=Box(x=10, y=20, w=96, h=96),
        landmarks=[(40.0, 50.0), (70.0, 50.0), (55.0, 65.0), (45.0, 80.0), (65.0, 80.0)],
        detector_score=0.93,
        similarity=0.61,
        threshold=0.42,
        profile_id=100_000 + uuid.uuid4().int % 900_000,  # its own episode, whatever else is open
        profile_name=name,
        category=category,
        embedder_model="mobilefacenet",
        crop_jpeg=crop,
        scene_jpeg=crop,
        watch_list_id=watch_list[0] if watch_list else None,
        watch_list_name=watch_list[1] if watch_list else "",
    )


async def _publish(nats_url: str, hit: FaceHit) -> None:
    nc = await nats.connect(nats_url)
    try:
        headers = {"Nats-Msg-Id": str(hit.event_id)}
        await nc.jetstream().publish(subjects.hits("face", hit.camera_id), hit.to_bytes(), headers=headers)
    finally:
        await nc.drain()


def raise_alert(
    system: System,
    camera_id: str,
    name: str,
    category: str = "wanted",
    within_s: float = 30,
    watch_list: tuple[int, str] | None = None,
) -> int:
    """Publish one hit on ``camera_id`` and wait for its alert in the API (as the supervisor sees it)."""
    hit = face_hit(camera_id, name, category, OBAMA.read_bytes(), watch_list)
    # Playwright's sync API keeps an event loop on this thread: the NATS client runs on its own.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, _publish(system.nats_url, hit)).result(timeout=30)
    deadline = time.monotonic() + within_s
    while True:
        page = system.call("GET", f"/alerts?camera_id={camera_id}&limit=50", "supervisor")
        found = [a["id"] for a in page["alerts"] if a["profile_name"] == name]
        if found:
            return int(found[0])
        assert time.monotonic() < deadline, f"no alert for {name} on {camera_id} within {within_s} s"
        time.sleep(0.2)


def post_form(
    system: System,
    path: str,
    who: str,
    files: list[tuple[str, Path]],
    data: dict[str, Any] | None = None,
    expect: int = 201,
) -> dict[str, Any]:
    """A multipart POST as the pages send one: photos (field, path) and form fields."""
    token = system.accounts[who].token
    parts = [(field, (photo.name, photo.read_bytes(), "image/jpeg")) for field, photo in files]
    response = httpx.post(
        f"{system.base}{path}",
        files=parts,
        data=data,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


def add_photo(system: System, person_id: int, photo: Path, who: str = "supervisor") -> dict[str, Any]:
    """A person's photo, uploaded as the records screen would (multipart)."""
    return post_form(system, f"/persons/{person_id}/photos", who, [("photo", photo)])


def enrol_profile(
    system: System, name: str, photo: Path, category: str, lists: list[int], reference: str
) -> int:
    """A watchlist entry proposed by the supervisor on these watch lists and approved by the
    administrator (the four-eyes path); its profile id."""
    expires = (datetime.now(UTC) + timedelta(days=90)).isoformat()
    fields = {
        "name": name,
        "category": category,
        "legal_reference": reference,
        "authorised_by": "SSP Operations",
        "expires_at": expires,
        "lists": [str(i) for i in lists],
    }
    proposed = post_form(system, "/watchlist/profiles", "supervisor", [("photos", photo)], fields)
    system.call("POST", f"/watchlist/profiles/{proposed['id']}/approve", "admin", {})
    return int(proposed["id"])


def cnic() -> str:
    digits = f"{uuid.uuid4().int % 10**13:013d}"
    return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"


def hotel_key(system: System, name: str) -> tuple[int, str]:
    """A hotel of this district and a check-in key for it, as the administrator makes them."""
    hotel = {
        "name": name,
        "licence_no": f"LIC-{uuid.uuid4().hex[:10]}",
        "address": "Club Road",
        "district": DISTRICT,
    }
    hotel_id = int(system.call("POST", "/integrations/hotels", "admin", hotel)["id"])
    issued = system.call("POST", f"/integrations/hotels/{hotel_id}/keys", "admin", {"label": "front desk"})
    return hotel_id, str(issued["api_key"])


def post_checkin(system: System, key: str, body: dict[str, Any], photo: Path | None = None) -> int:
    """A check-in as the hotel's system posts it (API key, never a person's token)."""
    if photo is not None:
        body = {**body, "photo_jpeg": base64.b64encode(photo.read_bytes()).decode()}
    request = urllib.request.Request(
        f"{system.base}/checkins",
        data=json.dumps(body).encode(),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.loads(response.read())["id"])
