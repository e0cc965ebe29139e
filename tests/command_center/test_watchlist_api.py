"""Watchlist enrolment over HTTP with the real face models, on both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
from nats.aio.client import Client

from pipeline import subjects
from pipeline.contracts import WatchlistChange
from tests.command_center.helpers import Served, jpeg


def obama(media_dir: Path, name: str = "examples_obama.jpg") -> tuple[str, bytes, str]:
    return (name, (media_dir / "faces" / "obama" / name).read_bytes(), "image/jpeg")


async def enrol(served: Served, name: str, category: str, *photos: tuple[str, bytes, str]):  # type: ignore[no-untyped-def]
    return await served.http.post(
        "/watchlist/profiles",
        data={"name": name, "category": category},
        files=[("photos", photo) for photo in photos],
        timeout=120,
    )


async def test_enrol_list_show_photo_and_remove(served: Served, nc: Client, media_dir: Path) -> None:
    changes: asyncio.Queue[WatchlistChange] = asyncio.Queue()

    async def on_change(msg) -> None:  # type: ignore[no-untyped-def]
        changes.put_nowait(WatchlistChange.from_bytes(msg.data))

    await nc.subscribe(subjects.watchlist_changes(), cb=on_change)
    response = await enrol(
        served, "Barack Obama", "wanted", obama(media_dir), obama(media_dir, "examples_obama2.jpg")
    )
    assert response.status_code == 201, response.text
    profile = response.json()
    assert (profile["name"], profile["category"], profile["photo_count"]) == ("Barack Obama", "wanted", 2)
    change = await asyncio.wait_for(_change_of(changes, profile["id"]), 10)
    assert change.action == "upsert" and len(change.embeddings) == 2

    assert (await served.http.get(f"/watchlist/profiles/{profile['id']}")).json() == profile
    listed = (await served.http.get("/watchlist/profiles")).json()
    assert [p["id"] for p in listed["profiles"]] == [profile["id"]]

    crop = await served.http.get(profile["photo"])
    assert crop.headers["content-type"] == "image/jpeg"
    face = cv2.imdecode(np.frombuffer(crop.content, np.uint8), cv2.IMREAD_COLOR)
    assert face is not None and min(face.shape[:2]) >= 60
    full = await served.http.get(profile["photo_full"])
    assert full.content == obama(media_dir)[1]

    assert (await served.http.delete(f"/watchlist/profiles/{profile['id']}")).status_code == 204
    removal = await asyncio.wait_for(_change_of(changes, profile["id"]), 10)
    assert removal.action == "remove"
    assert (await served.http.get(f"/watchlist/profiles/{profile['id']}")).status_code == 404
    assert (await served.http.delete(f"/watchlist/profiles/{profile['id']}")).status_code == 404


async def _change_of(changes: asyncio.Queue[WatchlistChange], profile_id: int) -> WatchlistChange:
    while True:
        change = await changes.get()
        if change.profile_id == profile_id:
            return change


async def test_refusals_are_422_with_the_reason(served: Served, media_dir: Path) -> None:
    blank = ("blank.jpg", jpeg((128, 128, 128), 400), "image/jpeg")
    response = await enrol(served, "Nobody", "wanted", obama(media_dir), blank)
    assert response.status_code == 422
    assert "blank.jpg" in response.json()["detail"] and "no face" in response.json()["detail"]

    crowd = ("couple.jpg", (media_dir / "faces" / "_multi" / "couple.jpg").read_bytes(), "image/jpeg")
    response = await enrol(served, "Two", "wanted", crowd)
    assert response.status_code == 422 and "faces found" in response.json()["detail"]

    response = await enrol(served, "Junk", "wanted", ("junk.jpg", b"not an image", "image/jpeg"))
    assert response.status_code == 422 and "junk.jpg" in response.json()["detail"]

    response = await enrol(served, "Obama", "no-such-category", obama(media_dir))
    assert response.status_code == 422 and "category" in response.json()["detail"]

    response = await served.http.post("/watchlist/profiles", data={"name": "No photo", "category": "wanted"})
    assert response.status_code == 422

    assert (await served.http.get("/watchlist/profiles")).json()["total"] == 0
