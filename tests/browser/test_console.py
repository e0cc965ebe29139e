"""The operator console and the officer app in a real browser, against a real system: a face on a
camera_sim stream becomes an alert on the operator's screen; acknowledging it shows on a second
operator's screen at once; dispatching it reaches the officer's phone, whose acknowledgement, arrival and
resolution come back; an arrest recorded elsewhere reaches the officer's notices with its photo. An
officer sees no operator screens; filters, the map and statistics (with crime hotspots, CSV) work."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.browser.conftest import (
    CAMERA_AT,
    FACES,
    STATUS_OF,
    TARGET,
    System,
    new_context,
    screenshot,
    sign_in_page,
)

pytestmark = pytest.mark.e2e
ALERT_WITHIN_MS = 150_000  # a loaded machine analyses fewer frames: the e2e tests allow as long
OBAMA = FACES / "obama" / "examples_obama_small.jpg"


@pytest.fixture(scope="module")
def alert_id(operator: Page, officer: Page, system: System) -> int:
    """The alert the camera raises, as it appears live on the operator's list (the officer's unit is
    placed near the camera first, by the officer app sharing its location)."""
    officer.click("#share-location")
    expect(officer.locator("#share-location")).to_have_text("Sharing location")
    system.start_camera()
    # Only this system's camera: other tests' workers publish hits on the same NATS server.
    row = operator.locator(f"tr.alert[data-camera='{system.camera}']", has_text=TARGET).first
    expect(row).to_be_visible(timeout=ALERT_WITHIN_MS)
    return int(row.get_attribute("data-id") or 0)


def test_a_camera_alert_appears_live_with_its_evidence(operator: Page, alert_id: int, system: System) -> None:
    row = operator.locator(f"tr.alert[data-id='{alert_id}']")
    expect(row.locator(".category")).to_contain_text("wanted")
    expect(row).to_contain_text("Constitution Avenue")
    expect(row.locator("img[alt='what the camera saw']")).to_have_attribute(
        "src", re.compile("^data:image/jpeg")
    )
    expect(row.locator("img[alt='enrolled photo']")).to_have_attribute("src", re.compile("^data:image/"))
    assert float(row.locator(".similarity").inner_text()) >= 0.42
    # Wanted is priority 1: the cue sounded (and was counted) when the alert was created.
    assert int(operator.locator("#sound").get_attribute("data-cues") or 0) >= 1
    screenshot(operator, "01-alert-live")


def test_acknowledging_shows_at_once_on_another_operators_screen(
    operator: Page, operator2: Page, alert_id: int
) -> None:
    elsewhere = operator2.locator(f"tr.alert[data-id='{alert_id}'] .badge")
    expect(elsewhere).to_have_text("new")
    operator.locator(f"tr.alert[data-id='{alert_id}']").click()
    expect(operator.locator("#alert-detail h2")).to_have_text(TARGET)
    expect(operator.locator("#detail-timeline li.sighting").first).to_be_visible()
    expect(operator.locator("#alert-detail img.scene")).to_have_attribute(
        "src", re.compile("^data:image/jpeg")
    )
    operator.click("#act-acknowledge")
    expect(operator.locator("#detail-status")).to_have_text("acknowledged")
    expect(elsewhere).to_have_text("acknowledged")  # over the live feed, no reload
    screenshot(operator2, "02-second-operator-sees-acknowledged")


def test_dispatch_reaches_the_officer_who_acknowledges(
    operator: Page, operator2: Page, officer: Page, alert_id: int, system: System
) -> None:
    operator.goto(f"{system.base}/#/alerts/{alert_id}")
    operator.click("#act-suggest")
    suggestion = operator.locator(f"#suggestions tr[data-unit='{system.unit(1)}']")
    expect(suggestion).to_contain_text("600 m")
    expect(operator.locator(f"#suggestions tr[data-unit='{system.unit(2)}']")).to_have_count(0)  # no crew
    operator.fill("#dispatch-note", "white kurta, near the stage")
    suggestion.locator("button.send-unit").click()
    expect(operator.locator("#detail-status")).to_have_text("dispatched")
    expect(operator2.locator(f"tr.alert[data-id='{alert_id}'] .badge")).to_have_text("dispatched")

    card = officer.locator("article.dispatch").first
    expect(card.locator("h2")).to_have_text(TARGET)
    card.locator("button.step-ack").click()  # at once: the unit has ACK_TIMEOUT_S to acknowledge
    expect(card.locator(".badge")).to_have_text("acknowledged")
    expect(card).to_contain_text("Constitution Avenue")
    expect(card).to_contain_text("white kurta, near the stage")
    expect(card.locator("img.evidence")).to_have_attribute("src", re.compile("^data:image/jpeg;base64,"))
    screenshot(officer, "03-officer-dispatch")
    expect(operator.locator("#detail-timeline")).to_contain_text("dispatch ack")
    card.locator("button.step-on_scene").click()
    expect(card.locator(".badge")).to_have_text("on scene")
    expect(operator.locator("#detail-status")).to_have_text("on scene")
    screenshot(operator, "04-operator-timeline")


def test_an_arrest_reaches_the_officers_notices_with_its_photo(officer: Page, system: System) -> None:
    fir = f"{int(system.tag[:4], 16) % 900 + 100}/2025"  # names this arrest on a NATS shared with other tests
    arrest = {
        "person_name": "Shahid Mehmood",
        "fir_number": fir,
        "police_station": "PS Kohsar",
        "sections": ["392 PPC", "34 PPC"],
        "arrested_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
        "district": "Islamabad",
        "place": "Jinnah Avenue, Blue Area",
        "latitude": CAMERA_AT[0],
        "longitude": CAMERA_AT[1],
        "photo_jpeg": base64.b64encode(OBAMA.read_bytes()).decode(),
    }
    system.call("POST", "/arrests", "supervisor", arrest)  # only patrol officers and supervisors may

    # It comes over the officer's channel while the app shows the dispatches: the Notices tab counts it.
    expect(officer.locator("#notices-unread")).to_be_visible()
    officer.click("#tabs a[data-tab=notices]")
    card = officer.locator("article.notice-bulletin[data-kind=arrest]", has_text=f"FIR {fir}")
    expect(card.locator("h3")).to_contain_text("Shahid Mehmood")
    expect(card).to_contain_text("Jinnah Avenue, Blue Area")
    expect(card).to_contain_text("392 PPC, 34 PPC")
    expect(card.locator("a.map-link")).to_have_text(f"{CAMERA_AT[0]:.5f},{CAMERA_AT[1]:.5f}")
    photo = card.locator("img.photo")
    expect(photo).to_have_attribute("src", re.compile("^data:image/jpeg;base64,"))
    officer.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    expect(officer.locator("#notices-unread")).to_be_hidden()  # read, now that the tab is open
    screenshot(officer, "11-officer-arrest-bulletin")

    # Confirmed once shown: a reload (a new connection) shows it from the phone, not twice.
    officer.reload()
    expect(officer.locator("#link")).to_have_text("live")
    expect(card).to_have_count(1)
    expect(card.locator("img.photo")).to_be_visible()


def test_filters_narrow_the_list(operator: Page, alert_id: int, system: System) -> None:
    operator.goto(f"{system.base}/#/alerts")
    row = operator.locator(f"tr.alert[data-id='{alert_id}']")
    expect(row).to_be_visible()
    operator.select_option("#alert-filters select[name=kind]", "plate")
    expect(row).to_have_count(0)
    operator.select_option("#alert-filters select[name=kind]", "face")
    expect(row).to_be_visible()
    operator.select_option("#alert-filters select[name=status]", "new")
    expect(row).to_have_count(0)
    operator.select_option("#alert-filters select[name=status]", "on_scene")
    expect(row).to_be_visible()
    operator.select_option("#alert-filters select[name=district]", "Islamabad")
    operator.select_option("#alert-filters select[name=camera]", system.camera)
    expect(row).to_be_visible()
    for name, value in (("kind", ""), ("camera", ""), ("district", ""), ("status", "open")):
        operator.select_option(f"#alert-filters select[name={name}]", value)  # as a new console starts


@pytest.fixture(scope="module")
def crime(system: System) -> dict[str, Any]:
    """A theft reported by the officer near the camera two hours ago (a hotspot for the map and charts)."""
    report = {
        "type": "theft",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "latitude": CAMERA_AT[0] + 0.001,
        "longitude": CAMERA_AT[1],
        "district": "Islamabad",
        "police_station": "PS Kohsar",
    }
    created: dict[str, Any] = system.call("POST", "/crimes", "officer", report)
    return created


def hotspots_answered(response: Response) -> bool:
    """The console reads crime counts from /crimes/hotspots (no reason needed), never /crimes (needs one)."""
    return urlparse(response.url).path in ("/crimes", "/crimes/hotspots")


def test_map_draws_offline_with_cameras_units_and_alerts(
    operator: Page, alert_id: int, crime: dict[str, Any], system: System
) -> None:
    with operator.expect_response(hotspots_answered) as answered:
        operator.goto(f"{system.base}/#/map")
    assert (urlparse(answered.value.url).path, answered.value.status) == ("/crimes/hotspots", 200)
    expect(operator.locator("#map.offline")).to_be_visible()
    expect(operator.locator("#map path.camera-marker")).to_have_count(1)
    expect(operator.locator("#map path.alert-marker")).to_have_count(1)
    expect(operator.locator("#map path.unit-marker")).to_have_count(1)  # the officer's shared position
    expect(operator.locator("#map path.hotspot")).to_have_count(1)
    expect(operator.locator("#map-status")).to_contain_text("hotspots: 1 reports in 30 days")
    screenshot(operator, "05-map-offline")


def test_statistics_download_as_csv(
    operator: Page, alert_id: int, crime: dict[str, Any], system: System
) -> None:
    with operator.expect_response(hotspots_answered) as answered:
        operator.goto(f"{system.base}/#/stats")
    assert (urlparse(answered.value.url).path, answered.value.status) == ("/crimes/hotspots", 200)
    crimes = operator.locator("#stats-crimes")
    expect(crimes).to_contain_text("1 reports in the period.")
    expect(crimes).to_contain_text("theft")
    stations = operator.locator("#stats-crimes-stations")
    expect(stations.locator("tbody tr").first).to_contain_text("PS Kohsar")
    with operator.expect_download() as by_station:
        stations.locator("button.csv").click()
    station_rows = by_station.value.path().read_text().splitlines()
    assert station_rows[0].startswith("police_station,count") and station_rows[1].startswith("PS Kohsar,1")
    panel = operator.locator("#stats-camera")
    expect(panel.locator("table")).to_contain_text("Constitution Avenue")
    with operator.expect_download() as download:
        panel.locator("button.csv").click()
    path = download.value.path()
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    mine = [r for r in rows if r["key"] == system.camera]
    assert mine and int(mine[0]["total"]) == 1 and int(mine[0]["open"]) == 1
    assert rows[-1]["key"] == "total"
    assert download.value.suggested_filename.startswith("alerts-by-camera-")
    screenshot(operator, "06-statistics")


def test_the_officer_resolves_and_every_console_shows_it(
    operator: Page, operator2: Page, officer: Page, alert_id: int, system: System
) -> None:
    operator.goto(f"{system.base}/#/alerts/{alert_id}")
    expect(operator.locator("#detail-status")).to_have_text("on scene")
    operator2.goto(f"{system.base}/#/alerts")
    listed = operator2.locator(f"tr.alert[data-id='{alert_id}']")
    expect(listed).to_be_visible()
    officer.click("#tabs a[data-tab=dispatches]")
    card = officer.locator("article.dispatch", has_text=TARGET).first
    card.locator("button.step-resolve").click()
    expect(card.locator(".badge")).to_have_text("resolved")
    expect(card.locator("button")).to_have_count(0)  # closed: no more steps offered
    expect(operator.locator("#detail-status")).to_have_text("resolved")
    expect(operator.locator("#detail-timeline")).to_contain_text("resolved")
    expect(listed).to_have_count(0)  # no longer open: gone from the second operator's list, no reload
    screenshot(officer, "12-officer-resolved")


def test_an_officer_sees_no_operator_screens_and_the_api_refuses(browser: Browser, system: System) -> None:
    context = new_context(browser, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        sign_in_page(page, system, "officer")
        expect(page.locator("#nav")).to_be_visible()
        shown = page.locator("#nav a").all_inner_texts()
        assert "Alerts" not in shown and "Map" not in shown and "Statistics" not in shown
        assert "Audit log" not in shown and "Watchlist" not in shown
        assert "Persons" in shown and "Vehicles" in shown and "Officer app" in shown
        page.goto(f"{system.base}/#/audit")
        expect(page.locator("#denied")).to_contain_text("may not use the Audit log screen")
        statuses = page.evaluate(STATUS_OF, ["/audit", "/alerts", "/stats/alerts", "/cameras"])
        assert statuses == [403, 403, 403, 403]
        screenshot(page, "07-officer-on-console")

        # What an officer may do here works: a misread plate still finds the stolen car.
        number = int(system.tag[:4], 16) % 9000 + 1000
        plate = f"LEB-{number}"
        entry = {
            "plate": plate,
            "status": "stolen",
            "reason": "stolen from Jinnah Super",
            "case_reference": "FIR 9/2025",
        }
        system.call("POST", "/vehicles", "supervisor", entry)
        page.goto(f"{system.base}/#/vehicles")
        page.fill("#vehicle-q", f"LE8{number}")  # B read as 8
        page.fill("#vehicle-reason", "Stop and search, Jinnah Avenue")
        page.click("#vehicle-search button[type=submit]")
        expect(page.locator("#vehicle-table")).to_contain_text("stolen from Jinnah Super")
    finally:
        context.close()


def test_times_are_shown_in_the_deployments_zone_on_the_24_hour_clock(operator: Page) -> None:
    """command_center.time_zone is Asia/Karachi (UTC+5, no summer time) in these tests."""
    shown = operator.evaluate("import('/static/js/dom.js').then((m) => m.formatTime('2026-01-01T18:30:00Z'))")
    assert "23:30:00" in shown and "PM" not in shown.upper(), shown
