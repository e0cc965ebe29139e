"""A CRO person's face and known vehicle seen by one camera within minutes: the fused alert in the console's
alert list and detail (linking both alerts), and the person's dossier screen with its timeline and map."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from playwright.sync_api import Page, expect

from pipeline.contracts import Box, PlateHit
from tests.browser.conftest import System, screenshot
from tests.browser.seed import OBAMA, cnic, face_hit
from tests.names import subjects

pytestmark = pytest.mark.e2e
NAME = "Tariq Mehmood Dossier"
REASON = "FIR 301/2025 PS Margalla"


def _publish(nats_url: str, kind: str, camera_id: str, data: bytes) -> None:
    async def publish() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().publish(subjects.hits(kind, camera_id), data)
        finally:
            await nc.drain()

    # Playwright's sync API keeps an event loop on this thread: the NATS client runs on its own.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, publish()).result(timeout=30)


def plate_hit(camera_id: str, entry: dict[str, Any], crop: bytes) -> PlateHit:
    now = datetime.now(UTC)
    return PlateHit(
        camera_id=camera_id,
        read_id=uuid.uuid4(),
        worker_id="browser-seed",
        read_text=entry["plate_key"],
        read_display=entry["plate"],
        read_confidence=0.93,
        entry_id=entry["id"],
        plate=entry["plate_key"],
        plate_display=entry["plate"],
        status="stolen",
        priority=3,
        reason="snatched at gunpoint",
        match_kind="exact",
        match_score=1.0,
        captured_at=now + timedelta(seconds=90),
        box=Box(x=100, y=200, w=120, h=40),
        detector_score=0.8,
        crop_jpeg=crop,
        scene_jpeg=crop,
    )


def wait_for(system: System, path: str, pick: Any, within_s: float = 30) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        found = pick(system.call("GET", path, "supervisor"))
        if found:
            return found
        assert time.monotonic() < deadline, f"nothing from {path} within {within_s} s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def fused(system: System) -> dict[str, Any]:
    """A person linked to the enrolled profile, with a stolen car; their face and the car on the desk
    camera 90 s apart; an arrest with its place. The fused alert, once raised."""
    number = int(system.tag[4:8], 16) % 9000 + 1000
    entry = system.call(
        "POST",
        "/vehicles",
        "supervisor",
        {
            "plate": f"ICT-{number}",
            "status": "stolen",
            "reason": "snatched at gunpoint",
            "case_reference": "FIR 5/26",
        },
    )
    person = system.call(
        "POST",
        "/persons",
        "supervisor",
        {
            "category": "wanted",
            "name": NAME,
            "cnic": cnic(),
            "district": "Islamabad",
            "watchlist_profile_id": system.profile_id,
            "vehicles": [{"plate": f"ICT {number}", "hotlist_entry_id": entry["id"]}],
        },
    )
    arrest = {
        "person_name": NAME,
        "person_id": person["id"],
        "fir_number": "12/2024",
        "police_station": "PS Kohsar",
        "sections": ["392 PPC"],
        "arrested_at": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
        "district": "Islamabad",
        "place": "Aabpara Market",
        "latitude": 33.7078,
        "longitude": 73.0875,
    }
    system.call("POST", "/arrests", "supervisor", arrest)
    crop = OBAMA.read_bytes()
    face = face_hit(system.desk_camera, NAME, "wanted", crop).model_copy(
        update={"profile_id": system.profile_id}
    )
    _publish(system.nats_url, "face", system.desk_camera, face.to_bytes())
    _publish(
        system.nats_url, "plate", system.desk_camera, plate_hit(system.desk_camera, entry, crop).to_bytes()
    )
    found = wait_for(
        system,
        "/alerts?kind=fusion&limit=50",
        lambda page: [a for a in page["alerts"] if a["profile_id"] == person["id"]],
    )
    return {"alert": found[0], "person": person}


def test_the_fused_alert_shows_in_the_list_and_links_both_sightings(
    supervisor: Page, fused: dict[str, Any], system: System
) -> None:
    alert = fused["alert"]
    supervisor.goto(f"{system.base}/#/alerts")
    row = supervisor.locator(f"tr.alert[data-id='{alert['id']}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text(NAME)
    row.click()
    detail = supervisor.locator("#alert-detail")
    expect(detail.locator("h2")).to_have_text(NAME)
    expect(detail).to_contain_text(f"P{alert['priority']}")
    fused_links = detail.locator("#detail-fused a.fused-link")
    expect(fused_links).to_have_count(2)
    face_id, plate_id = alert["details"]["face_alert"]["id"], alert["details"]["plate_alert"]["id"]
    expect(fused_links.nth(0)).to_have_attribute("href", f"#/alerts/{face_id}")
    expect(fused_links.nth(1)).to_have_attribute("href", f"#/alerts/{plate_id}")
    expect(detail).to_contain_text("Criminal record: face and vehicle")
    expect(detail).to_contain_text("90 s and 0 m apart")
    screenshot(supervisor, "20-fused-alert")


def test_the_dossier_shows_a_timeline_and_a_map(
    supervisor: Page, fused: dict[str, Any], system: System
) -> None:
    person = fused["person"]
    page = supervisor
    page.goto(f"{system.base}/#/persons")
    page.fill("#person-q", NAME)
    page.fill("#person-reason", REASON)
    page.click("#person-search button[type=submit]")
    page.locator("#person-table a", has_text=NAME).click()
    expect(page.locator("#person-profile h3")).to_have_text(NAME)
    page.click("#open-dossier")
    expect(page).to_have_url(f"{system.base}/#/persons/{person['id']}/dossier")
    timeline = page.locator("#dossier-timeline")
    expect(timeline).to_be_visible()
    for kind in ("fusion", "face", "plate", "arrest"):
        expect(timeline.locator(f"td .badge.kind-{kind}").first).to_be_visible()
    expect(timeline.locator("tbody tr").last).to_contain_text(
        "arrested, FIR 12/2024, PS Kohsar"
    )  # oldest last
    expect(page.locator("#dossier-map path.dossier-marker.kind-arrest")).to_have_count(1)  # its place
    expect(page.locator("#dossier-counts")).to_contain_text("1 face + vehicle alert")
    screenshot(page, "21-dossier")
