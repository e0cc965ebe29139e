"""Records screens in a real browser: spelling-agnostic person search whose stated reason the audit log
shows, a profile's photos and case history, the hotel check-in log with its screening, watchlist
enrolment with feedback on each photo, and the missing/UDR cross-search."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import cv2
import numpy as np
import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import FACES, System, screenshot
from tests.browser.seed import add_photo, cnic, hotel_key, post_checkin

pytestmark = pytest.mark.e2e
OBAMA = FACES / "obama" / "examples_obama_small.jpg"
COUPLE = FACES / "_multi" / "couple.jpg"


def test_person_search_states_a_reason_that_the_audit_log_shows(supervisor: Page, system: System) -> None:
    person = {"category": "wanted", "name": "Muhammad Imran Khan", "father_name": "Abdul Khaliq"}
    created = system.call("POST", "/persons", "supervisor", person)
    page = supervisor
    page.goto(f"{system.base}/#/persons")
    page.fill("#person-q", "Mohammad Imraan")  # another spelling
    page.fill("#person-reason", "FIR 77/2025 PS Kohsar")
    page.click("#person-search button[type=submit]")
    link = page.locator("#person-table a", has_text="Muhammad Imran Khan")
    expect(link).to_be_visible()
    page.fill("#person-q", "محمد عمران خان")  # in Urdu script: the same person
    page.click("#person-search button[type=submit]")
    expect(page.locator("#person-table tbody tr").first).to_contain_text("Muhammad Imran Khan")
    link.click()
    expect(page.locator("#person-profile h3")).to_have_text("Muhammad Imran Khan")
    page.goto(f"{system.base}/#/audit")
    page.fill("#audit-form input[name=action]", "persons.view")
    page.click("#audit-form button[type=submit]")
    entry = page.locator("#audit-table tr", has_text="persons.view").filter(
        has_text=f"person:{created['id']}"
    )
    expect(entry).to_contain_text("FIR 77/2025 PS Kohsar")
    # Readable: the log fits the window (no sideways scrolling) and details are lines, not raw JSON.
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the audit page is wider than its window"
    assert "{" not in page.locator("#audit-table tbody").inner_text()
    screenshot(page, "08-audit-log")


def png(width: int, height: int) -> bytes:
    image = np.full((height, width, 3), 128, np.uint8)
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def test_enrolment_gives_feedback_on_each_photo(supervisor: Page, system: System) -> None:
    page = supervisor
    page.goto(f"{system.base}/#/watchlist")
    tiny: FilePayload = {"name": "tiny.png", "mimeType": "image/png", "buffer": png(120, 90)}
    page.set_input_files("#enrol-photos", [tiny])
    expect(page.locator("#enrol-quality li.bad[data-photo='tiny.png']")).to_contain_text("only 90 px")
    page.fill("#enrol-form input[name=name]", "Barack Obama")
    page.fill("#enrol-form input[name=legal_reference]", "Warrant 12/2025")
    page.fill("#enrol-form input[name=authorised_by]", "SSP Operations")
    page.click("#enrol-submit")
    expect(page.locator("#enrol-message")).to_contain_text("Replace the photos")

    # Both look fine in the browser; the command centre finds two faces in one and names it.
    page.set_input_files("#enrol-photos", [OBAMA, COUPLE])
    expect(page.locator("#enrol-quality li.ok, #enrol-quality li.warn")).to_have_count(2)
    page.click("#enrol-submit")
    expect(page.locator("#enrol-quality li.bad[data-photo='couple.jpg']")).to_contain_text(
        "faces found", timeout=60_000
    )
    screenshot(page, "09-enrolment-feedback")

    page.set_input_files("#enrol-photos", [OBAMA])
    expect(page.locator("#enrol-quality li.ok, #enrol-quality li.warn")).to_have_count(1)
    page.click("#enrol-submit")
    expect(page.locator("#enrol-message")).to_contain_text("pending add")
    expect(page.locator("#pending-table")).to_contain_text("Barack Obama")  # waits for a second approver


def test_missing_and_udr_cross_search_ranks_candidates(supervisor: Page, system: System) -> None:
    now = datetime.now(UTC)
    described = {
        "sex": "female",
        "age_min": 20,
        "age_max": 25,
        "height_cm": 158,
        "marks": "mole on the left cheek",
    }
    system.call(
        "POST",
        "/missing",
        "supervisor",
        {"name": "Ayesha Bibi", "last_seen_at": (now - timedelta(days=3)).isoformat(), **described},
    )
    system.call(
        "POST",
        "/udr",
        "supervisor",
        {"udr_number": f"UDR-{system.tag}", "found_at": (now - timedelta(days=1)).isoformat(), **described},
    )
    page = supervisor
    page.goto(f"{system.base}/#/crossmatch")
    page.fill("#crossmatch-form input[name=q]", "Aysha")
    page.fill("#crossmatch-reason", "Missing report 4/2025 PS Aabpara")
    page.click("#crossmatch-form button[type=submit]")
    row = page.locator("#crossmatch-table tr", has_text="Ayesha Bibi")
    row.locator("button").click()
    expect(page.locator("#crossmatch-candidates article.candidate h4").first).to_contain_text(
        f"UDR-{system.tag}"
    )
    screenshot(page, "10-missing-udr-candidates")


BIDEN = sorted((FACES / "biden").glob("*.jpg"))


def test_a_profile_shows_its_photos_and_case_history(supervisor: Page, system: System) -> None:
    cases = [
        {
            "fir_number": "45/2024",
            "police_station": "PS Margalla",
            "sections": ["392 PPC", "34 PPC"],
            "status": "under_investigation",
            "fir_date": "2024-03-02",
            "court": "ATC-I Islamabad",
        },
        {
            "fir_number": "12/2021",
            "police_station": "PS Kohsar",
            "sections": ["379 PPC"],
            "status": "convicted",
            "prison": "Adiala Jail",
        },
    ]
    person = {"category": "history_sheeter", "name": "Rashid Mehmood Butt", "cnic": cnic(), "cases": cases}
    created = system.call("POST", "/persons", "supervisor", person)
    for photo in BIDEN:
        add_photo(system, created["id"], photo)

    page = supervisor
    page.goto(f"{system.base}/#/persons")
    page.fill("#person-q", "Rasheed Butt")
    page.fill("#person-reason", "FIR 45/2024 PS Margalla")
    page.click("#person-search button[type=submit]")
    page.locator("#person-table a", has_text="Rashid Mehmood Butt").click()
    profile = page.locator("#person-profile")
    expect(profile.locator("h3")).to_have_text("Rashid Mehmood Butt")
    photos = profile.locator(".photos img.photo")
    expect(photos).to_have_count(len(BIDEN))
    for n in range(len(BIDEN)):  # fetched with the page's token and the stated reason, and decoded
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=photos.nth(n).element_handle()
        )
    rows = profile.locator("#case-table tbody tr")
    expect(rows).to_have_count(2)
    newest = rows.filter(has_text="45/2024")
    for text in ("PS Margalla", "2024-03-02", "392 PPC, 34 PPC", "under investigation", "ATC-I Islamabad"):
        expect(newest).to_contain_text(text)
    older = rows.filter(has_text="12/2021")
    for text in ("PS Kohsar", "379 PPC", "convicted", "Adiala Jail"):
        expect(older).to_contain_text(text)
    screenshot(page, "13-person-profile")


def test_the_check_in_log_shows_guests_and_what_screening_found(supervisor: Page, system: System) -> None:
    wanted_cnic = cnic()
    person = {"category": "wanted", "name": "Tariq Aziz Bhatti", "cnic": wanted_cnic}
    wanted = system.call("POST", "/persons", "supervisor", person)
    hotel_id, key = hotel_key(system, "Hotel Margalla View")
    arrived = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    guest = {"phone": "0300 1234567", "guests": 2, "checked_in_at": arrived}
    post_checkin(
        system,
        key,
        {**guest, "booking_ref": "BK-1", "guest_name": "T. Aziz", "cnic": wanted_cnic, "room": "204"},
    )
    post_checkin(
        system,
        key,
        {**guest, "booking_ref": "BK-2", "guest_name": "Sana Iqbal", "cnic": cnic(), "room": "118"},
        photo=OBAMA,  # matched against the watchlist too: not on it
    )
    reason = "Hotel register check, PS Kohsar"
    listed = f"/checkins?{urlencode({'hotel_id': hotel_id, 'reason': reason})}"
    deadline = time.monotonic() + 60  # screening runs in the background (the photo through the face models)
    while not all(c["screened_at"] for c in system.call("GET", listed, "supervisor")["checkins"]):
        assert time.monotonic() < deadline, "the check-ins were not screened within 60 s"
        time.sleep(0.3)

    page = supervisor
    page.goto(f"{system.base}/#/checkins")
    page.fill("#checkin-form input[name=hotel_id]", str(hotel_id))
    page.fill("#checkin-reason", reason)
    page.click("#checkin-form button[type=submit]")
    expect(page.locator("#checkin-message")).to_have_text("2 of 2 shown")
    table = page.locator("#checkin-table")
    hit = table.locator("tbody tr", has_text="T. Aziz")
    for text in (wanted_cnic, "204", "+923001234567", str(hotel_id)):
        expect(hit).to_contain_text(text)
    expect(hit.locator(".hit")).to_contain_text(f"checkin {wanted['id']} (cnic, 100 %)")
    expect(hit.locator(".hit a")).to_have_attribute("href", re.compile(r"^#/alerts/\d+$"))
    clear = table.locator("tbody tr", has_text="Sana Iqbal")
    expect(clear).to_contain_text("118")
    expect(clear.locator("td").nth(8)).to_have_text("clear")
    clear.locator("button", has_text="Show").click()  # the guest photo, fetched with the reason
    photo = clear.locator("img.photo")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    screenshot(page, "14-checkin-log")
