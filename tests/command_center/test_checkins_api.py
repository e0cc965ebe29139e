"""Hotel check-ins over HTTP on both databases: a wanted CNIC raises exactly one alert in the hotel's
district and tells followers, repeats are idempotent, the hotel learns nothing, keys stay in their
hotel, staff read the log with a reason, and a guest photo is matched against the face watchlist."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client

from command_center.security.permissions import Role
from pipeline.face import FaceAnalyzer
from tests.command_center.helpers import Served, add_user, eventually, jpeg
from tests.command_center.records_helpers import (
    REASON,
    add_person,
    audited,
    checkin,
    client,
    client_of,
    cnic,
    hotel_key,
    officer_notices,
)
from watchlist.enrol import Enroller
from watchlist.governance import LegalBasis


def hotel(served: Served, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=served.url, timeout=15, headers={"X-API-Key": key})


async def alerts_of(served: Served, hotel_id: int) -> list[dict[str, Any]]:
    response = await served.http.get("/alerts", params={"camera_id": f"hotel-{hotel_id}"})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["alerts"]
    return found


async def screened(served: Served, checkin_id: int) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        log = await served.http.get("/checkins", params=REASON)
        rows = [c for c in log.json()["checkins"] if c["id"] == checkin_id and c["screened_at"]]
        return rows[0] if rows else None

    row: dict[str, Any] = await eventually(done, 30)
    return row


async def test_wanted_cnic_raises_one_alert_and_the_hotel_learns_nothing(served: Served, nc: Client) -> None:
    hotel_id, key = await hotel_key(served, district="Lahore", lat=31.55, lon=74.34)
    clerk = await client(served, Role.RECORDS_CLERK)
    officer_user = await add_user(served.app, Role.PATROL_OFFICER)
    officer = await client_of(served, officer_user)
    operator = await client_of(served, await add_user(served.app, Role.OPERATOR, ("Lahore",)))
    async with clerk, officer, operator, hotel(served, key) as desk:
        wanted_cnic = cnic()
        pid = (await add_person(clerk, "Muhammad Husain", cnic=wanted_cnic, category="wanted"))["id"]
        assert (await officer.post(f"/persons/{pid}/follow", params=REASON)).status_code == 200

        post = checkin("BK-1001", wanted_cnic.replace("-", ""))
        first = await desk.post("/checkins", json=post)
        assert first.status_code == 201, first.text
        again = await desk.post("/checkins", json=post)
        assert again.status_code == 200 and again.json() == first.json()  # idempotent
        clean = await desk.post("/checkins", json=checkin("BK-1002", cnic()))
        assert clean.status_code == 201
        assert set(clean.json()) == set(first.json()) == {"id", "received_at", "status"}
        assert clean.json()["status"] == first.json()["status"] == "received"

        row = await screened(served, first.json()["id"])
        assert [s["id"] for s in row["screening"]["subjects"]] == [pid]
        assert (await screened(served, clean.json()["id"]))["screening"]["subjects"] == []
        alerts = await alerts_of(served, hotel_id)
        assert len(alerts) == 1, alerts
        [alert] = alerts
        assert (alert["kind"], alert["profile_id"], alert["district"]) == ("checkin", pid, "Lahore")
        assert alert["details"]["hotel"]["latitude"] == 31.55 and alert["details"]["room"] == "204"
        seen_by_operator = await operator.get("/alerts", params={"camera_id": f"hotel-{hotel_id}"})
        assert [a["id"] for a in seen_by_operator.json()["alerts"]] == [alert["id"]]

        [notice] = await officer_notices(nc, officer_user, 1)
        assert (notice.kind, notice.person_id, notice.alert_id) == ("checkin", pid, alert["id"])
        assert notice.district == "Lahore" and notice.latitude == 31.55

        await desk.post("/checkins", json=post)  # a third repeat still raises nothing new
        await asyncio.sleep(0.5)
        assert len(await alerts_of(served, hotel_id)) == 1


async def test_hotel_keys_stay_in_their_hotel_and_read_nothing(served: Served) -> None:
    _, key_a = await hotel_key(served)
    hotel_b, key_b = await hotel_key(served, district="Rawalpindi")
    async with hotel(served, key_a) as desk_a, hotel(served, key_b) as desk_b:
        ack = (await desk_a.post("/checkins", json=checkin("A-1", cnic()))).json()
        other = await desk_a.post("/checkins", json=checkin("A-2", cnic(), hotel_id=hotel_b))
        assert other.status_code == 403
        assert (await desk_b.post(f"/checkins/{ack['id']}/checkout", json={})).status_code == 404
        out = await desk_a.post(f"/checkins/{ack['id']}/checkout", json={})
        assert out.status_code == 200 and out.json()["checked_out_at"]
        again = await desk_a.post(f"/checkins/{ack['id']}/checkout", json={})
        assert again.json() == out.json()  # the first departure stands
        for path in ("/checkins", "/persons/search", "/persons/1", "/alerts", "/persons/following"):
            assert (await desk_a.get(path, params={**REASON, "q": "Ali"})).status_code == 403, path


async def test_bad_checkins_are_refused_with_a_reason(served: Served) -> None:
    _, key = await hotel_key(served)
    async with hotel(served, key) as desk:
        guest = cnic()
        ok = await desk.post("/checkins", json=checkin("B-1", guest))
        assert ok.status_code == 201
        changed = await desk.post("/checkins", json=checkin("B-1", guest, room="305"))
        assert changed.status_code == 409 and "booking reference" in changed.json()["detail"]
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        refused = [
            (checkin("B-2", "12345-1234567"), "CNIC"),
            (checkin("B-3", guest, phone="12"), "phone"),
            (checkin("B-4", guest, checked_in_at=future), "future"),
            (checkin("B-5", guest, checked_in_at="2025-01-01T10:00:00"), "no timezone"),
            (checkin("B-6", guest, photo_jpeg="not base64!"), "base64"),
            (checkin("B-7", guest, photo_jpeg=base64.b64encode(b"GIF89a").decode()), "not JPEG"),
            (checkin("B-8", guest, photo_jpeg=base64.b64encode(b"\xff\xd8\xff\xe0junk").decode()), "corrupt"),
            (checkin("B 9", guest), "booking ref"),
            (checkin("B-10", guest, hotel_name="x"), "unknown field"),
        ]
        for body, why in refused:
            response = await desk.post("/checkins", json=body)
            assert response.status_code == 422, (why, response.text)
    reader = await client(served, Role.OPERATOR)
    async with reader:
        assert (await reader.get("/checkins")).status_code == 422  # no reason
        assert (await reader.get("/checkins", params={**REASON, "cnic": "1-2"})).status_code == 422
        log = await reader.get("/checkins", params={**REASON, "cnic": guest.replace("-", "")})
        assert [c["booking_ref"] for c in log.json()["checkins"]] == ["B-1"]
        [entry, *_] = audited(served, "checkins.search")
        assert entry.reason == REASON["reason"] and entry.details["filters"]["cnic"] == guest


async def test_guest_photo_is_matched_against_the_face_watchlist(served: Served, media_dir: Path) -> None:
    settings = served.app.state.services.settings
    faces = media_dir / "faces" / "obama"
    photos = [(n, (faces / n).read_bytes()) for n in ("examples_obama.jpg", "examples_obama2.jpg")]
    enroller = Enroller(
        settings, FaceAnalyzer(settings, settings.models_dir), served.app.state.services.watchlist
    )
    basis = LegalBasis("FIR 12/2025 PS Saddar", "SSP Investigation", datetime.now(UTC) + timedelta(days=30))
    enrolled = await asyncio.to_thread(
        enroller.enrol, "Barack Obama", "wanted", photos, basis, "staff:1:test"
    )
    hotel_id, key = await hotel_key(served)
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk, hotel(served, key) as desk:
        pid = (await add_person(clerk, "Barack Obama", watchlist_profile_id=enrolled.profile_id))["id"]
        probe = base64.b64encode((faces / "examples_knn_examples_test_obama1.jpg").read_bytes()).decode()
        matched = await desk.post(
            "/checkins", json=checkin("F-1", cnic(), guest_name="B. Hussein", photo_jpeg=probe)
        )
        stranger = base64.b64encode(jpeg((90, 90, 90), 96)).decode()
        unmatched = await desk.post("/checkins", json=checkin("F-2", cnic(), photo_jpeg=stranger))
        assert matched.status_code == unmatched.status_code == 201
        assert set(matched.json()) == set(unmatched.json())
        row = await screened(served, matched.json()["id"])
        [subject] = row["screening"]["subjects"]
        assert (subject["id"], subject["match"]) == (pid, "face")
        assert row["photo"] == f"/checkins/{matched.json()['id']}/photo"
        assert (await screened(served, unmatched.json()["id"]))["screening"]["subjects"] == []
        [alert] = await alerts_of(served, hotel_id)
        assert (alert["kind"], alert["profile_id"], alert["details"]["match"]) == ("checkin", pid, "face")
        evidence = await served.http.get(f"/alerts/{alert['id']}/evidence/crop")
        assert evidence.status_code == 200 and evidence.content[:2] == b"\xff\xd8"


async def test_a_guest_photo_is_kept_without_the_hotel_cameras_metadata(served: Served) -> None:
    """EXIF (device, time, the hotel's GPS) is not the guest's record: the photo is stored re-encoded."""
    plain = jpeg((120, 110, 100), 96)
    app1 = b"Exif\x00\x00" + b"MM\x00*\x00\x00\x00\x08" + b"GPS 24.8607N 67.0011E secret"
    with_exif = plain[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + plain[2:]
    _, key = await hotel_key(served)
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk, hotel(served, key) as desk:
        posted = await desk.post(
            "/checkins", json=checkin("X-1", cnic(), photo_jpeg=base64.b64encode(with_exif).decode())
        )
        assert posted.status_code == 201, posted.text
        stored = await clerk.get(f"/checkins/{posted.json()['id']}/photo", params={"reason": "FIR 12/2025"})
        assert stored.status_code == 200 and stored.content[:2] == b"\xff\xd8"
        assert b"Exif" not in stored.content and b"secret" not in stored.content


async def test_checkins_the_fast_path_hands_on_answer_as_the_route_does(served: Served) -> None:
    """``checkin_fast`` serves a hotel's JSON post; what it hands on to the route is answered as ever."""
    _, key = await hotel_key(served)
    async with hotel(served, key) as desk:
        guest = checkin("F-1", cnic())
        first = await desk.post("/checkins", json=guest)
        assert first.status_code == 201 and set(first.json()) == {"id", "received_at", "status"}
        assert first.headers["x-frame-options"] == "DENY"  # the headers every answer carries
        assert first.headers["content-security-policy"].startswith("default-src 'self'")
        with_query = await desk.post("/checkins?via=pms", json=checkin("F-5", cnic()))  # the route's
        assert with_query.status_code == 201 and with_query.headers["x-frame-options"] == "DENY"
        again = await desk.post("/checkins", json=guest)  # a retried post: its first acknowledgement
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        invalid = await desk.post("/checkins", json=checkin("F-2", "1-2"))  # the body, handed on, refused
        assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "cnic"]
        as_text = await desk.post("/checkins", content=b"{}", headers={"Content-Type": "text/plain"})
        assert as_text.status_code == 422
        both = await desk.post(
            "/checkins", json=checkin("F-3", cnic()), headers={"Authorization": "Bearer x"}
        )
        assert both.status_code == 401 and "either" in both.json()["detail"]
    async with hotel(served, key[:-2] + "xx") as wrong:
        refused = await wrong.post("/checkins", json=checkin("F-4", cnic()))
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
