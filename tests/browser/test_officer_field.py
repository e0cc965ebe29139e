"""The officer app's reports from the field on a phone-sized page (the M-CCTNS app): an arrest notified
with a photo and its screening shown; a crime reported at the spot, online and offline (kept on the phone,
sent when the network is back, stored exactly once even when an answer is lost and a reload sends it
again); a missing person registered with a photo; a vehicle checked against the hotlist. Everything is
checked again through the API."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import FACES, System, losing_the_first_answer, screenshot

pytestmark = pytest.mark.e2e

ARREST_PHOTO = FACES / "deepface_p03" / "img47.jpg"
MISSING_PHOTO = FACES / "deepface_p01" / "img1.jpg"
BODY_PHOTO = FACES / "deepface_p01" / "img2.jpg"  # found on the day the same man was reported missing
SCENE_PHOTO = FACES / "_multi" / "couple.jpg"
REASON = "Checking the officer app's field reports"


def open_report(page: Page, kind: str) -> None:
    page.click("#tabs a[data-tab=report]")
    page.click(f"#officer-report-show-{kind}")
    expect(page.locator(f"#officer-report-{kind}")).to_be_visible()


def until(what: str, found: Callable[[], Any], within_s: float = 30) -> Any:
    """Poll the API until ``found`` answers something truthy."""
    deadline = time.monotonic() + within_s
    while not (answer := found()):
        assert time.monotonic() < deadline, f"{what}: not within {within_s} s"
        time.sleep(0.2)
    return answer


def crimes_described(system: System, description: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"reason": REASON, "limit": 500})
    page = system.call("GET", f"/crimes?{query}", "supervisor")
    return [r for r in page["reports"] if r["description"] == description]


def test_the_officer_notifies_an_arrest_and_sees_its_screening(officer: Page, system: System) -> None:
    fir = f"{uuid.uuid4().int % 900 + 100}/2026"
    open_report(officer, "arrest")
    officer.set_input_files("#officer-arrest-photo", str(ARREST_PHOTO))
    expect(officer.locator("#officer-arrest-photo-previews img")).to_have_count(1)
    officer.fill("#officer-arrest-name", "Zulfiqar Ali Khoso")
    officer.fill("#officer-arrest-father", "Ali Nawaz Khoso")
    officer.fill("#officer-arrest-fir", fir)
    officer.fill("#officer-arrest-sections", "392 PPC, 34 PPC")
    officer.fill("#officer-arrest-ps", "PS Aabpara")
    officer.fill("#officer-arrest-cnic", "123")  # mistyped: the API's reason is shown
    officer.click("#officer-arrest-form button[type=submit]")
    expect(officer.locator("#officer-arrest-message")).to_contain_text("Not sent: cnic")
    officer.fill("#officer-arrest-cnic", "")
    officer.click("#officer-arrest-form button[type=submit]")
    # the first photo a fresh command centre embeds loads the face models: seconds on a busy machine
    expect(officer.locator("#officer-arrest-message")).to_contain_text("notified", timeout=30_000)
    result = officer.locator("#officer-arrest-result article.screening")
    expect(result).to_have_attribute("data-status", "screened", timeout=60_000)
    expect(officer.locator("#officer-arrest-verdict")).not_to_contain_text("Checking")
    screenshot(officer, "20-officer-arrest")
    query = urllib.parse.urlencode({"fir": fir, "police_station": "PS Aabpara", "reason": REASON})
    arrests = system.call("GET", f"/arrests?{query}", "supervisor")["arrests"]
    assert [(a["person_name"], a["sections"]) for a in arrests] == [
        ("Zulfiqar Ali Khoso", ["392 PPC", "34 PPC"])
    ]
    assert arrests[0]["photo"] and arrests[0]["status"] == "screened"


def fill_crime(page: Page, description: str) -> None:
    open_report(page, "crime")
    expect(page.locator("#officer-crime-type option[value=snatching]")).to_be_attached()
    page.select_option("#officer-crime-type", "snatching")
    page.fill("#officer-crime-description", description)
    expect(page.locator("#officer-crime-lat")).not_to_have_value("")  # the phone's GPS
    page.set_input_files("#officer-crime-photos", str(SCENE_PHOTO))


def test_the_officer_reports_a_crime_at_the_spot(officer: Page, system: System) -> None:
    description = f"Mobile phone snatched at the bus stop ({uuid.uuid4().hex[:8]})"
    fill_crime(officer, description)
    officer.click("#officer-crime-form button[type=submit]")
    expect(officer.locator("#officer-crime-message")).to_contain_text("sent")
    expect(officer.locator("#officer-outbox-empty")).to_be_visible()
    [report] = until("the report", lambda: crimes_described(system, description))
    assert report["type"] == "snatching" and len(report["photos"]) == 1
    assert abs(report["latitude"] - 33.7054) < 0.001  # the GPS position the page was given


def test_a_crime_reported_offline_arrives_once(officer: Page, system: System) -> None:
    description = f"House broken into, nobody home ({uuid.uuid4().hex[:8]})"
    context = officer.context
    lost: list[str] = []
    lose_the_answer = losing_the_first_answer(lost)

    context.set_offline(True)
    try:
        fill_crime(officer, description)
        officer.click("#officer-crime-form button[type=submit]")
        expect(officer.locator("#officer-crime-message")).to_contain_text("No network")
        queued = officer.locator("#officer-outbox article.queued", has_text=description)
        expect(queued.locator(".badge")).to_have_text("waiting to send")
        screenshot(officer, "21-officer-crime-waiting")
        assert crimes_described(system, description) == []
        officer.route(f"{system.base}/crimes", lose_the_answer)
    finally:
        sent = officer.expect_event(
            "requestfailed", lambda r: r.method == "POST" and r.url.endswith("/crimes")
        )
        with sent:
            context.set_offline(False)  # the "online" event: the phone sends what waits
    assert len(crimes_described(system, description)) == 1
    expect(queued).to_have_count(1)  # the phone never heard back: it still waits
    officer.unroute(f"{system.base}/crimes")
    officer.reload()  # the app sends what waits when it starts, with the same key
    expect(officer.locator("#link")).to_have_text("live")
    open_report(officer, "crime")
    expect(officer.locator("#officer-outbox-empty")).to_be_visible()
    [report] = crimes_described(system, description)
    assert len(report["photos"]) == 1 and lost and str(report["id"]) in lost[0]


def test_the_officer_registers_a_missing_person_with_a_photo(officer: Page, system: System) -> None:
    name = f"Nasreen Akhtar {uuid.uuid4().hex[:4]}"
    open_report(officer, "missing")
    officer.set_input_files("#officer-missing-photos", str(MISSING_PHOTO))
    officer.fill("#officer-missing-name", name)
    officer.select_option("#officer-missing-sex", "female")
    officer.click("#officer-missing-form button[type=submit]")
    expect(officer.locator("#officer-missing-message")).to_contain_text("registered")
    screenshot(officer, "22-officer-missing-person")
    query = urllib.parse.urlencode({"q": name, "reason": REASON})
    found = system.call("GET", f"/missing?{query}", "supervisor")
    [case] = [c for c in found["cases"] if c["name"] == name]
    reason = urllib.parse.urlencode({"reason": REASON})
    assert len(system.call("GET", f"/missing/{case['id']}?{reason}", "supervisor")["photos"]) == 1


def test_the_officer_checks_a_hotlisted_vehicle(officer: Page, system: System) -> None:
    number = uuid.uuid4().int % 9000 + 1000
    entry = {"plate": f"ICT-{number}", "status": "stolen", "reason": "taken from Jinnah Super market"}
    entry["case_reference"] = "FIR 77/2026 PS Kohsar"
    system.call("POST", "/vehicles", "supervisor", entry)
    officer.click("#tabs a[data-tab=search]")
    officer.fill("#officer-vehicle-q", f"ICT-{number}")
    officer.fill("#officer-vehicle-reason", "Checkpost, Kashmir Highway")
    officer.click("#officer-vehicle-search button[type=submit]")
    verdict = officer.locator("#officer-vehicle-verdict")
    expect(verdict).to_contain_text(f"ICT-{number}: STOLEN")
    expect(verdict).to_contain_text("taken from Jinnah Super market")
    screenshot(officer, "23-officer-vehicle-check")
    officer.fill("#officer-vehicle-q", "QQQ-987")
    officer.click("#officer-vehicle-search button[type=submit]")
    expect(verdict).to_contain_text("QQQ-987: not listed")


def test_the_officer_registers_a_body_found_on_patrol(officer: Page, system: System) -> None:
    number = f"UDR-{uuid.uuid4().hex[:6]}/2026"
    open_report(officer, "udr")
    officer.set_input_files("#officer-udr-photos", str(BODY_PHOTO))
    officer.fill("#officer-udr-number", number)
    expect(officer.locator("#officer-udr-lat")).not_to_have_value("")  # the phone's GPS
    officer.select_option("#officer-udr-sex", "male")
    officer.fill("#officer-udr-form input[name=age_min]", "40")
    officer.fill("#officer-udr-form input[name=age_max]", "30")
    officer.click("#officer-udr-form button[type=submit]")
    expect(officer.locator("#officer-udr-message")).to_contain_text(
        "Not registered: age_min is above age_max"
    )
    officer.fill("#officer-udr-form input[name=age_max]", "45")
    officer.click("#officer-udr-form button[type=submit]")
    expect(officer.locator("#officer-udr-message")).to_contain_text("registered")
    query = urllib.parse.urlencode({"q": number, "reason": REASON})
    [case] = system.call("GET", f"/udr?{query}", "supervisor")["cases"]
    assert (case["sex"], case["age_min"], case["age_max"]) == ("male", 40, 45)
    assert abs(case["latitude"] - 33.7054) < 0.001
