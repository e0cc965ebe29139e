"""The officer app as an installed phone app: it opens with no network at all once it was opened (the
service worker keeps the shell) and says it is offline; an arrest notified with no network is kept on the
phone with its photo and sent once when the network is back, even when the first answer is lost; the
investigating officer's case reminders are listed with a count on the tab. Checked through the API."""

from __future__ import annotations

import urllib.parse
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import FACES, System, losing_the_first_answer, screenshot

pytestmark = pytest.mark.e2e

ARREST_PHOTO = FACES / "deepface_p03" / "img48.jpg"
REASON = "Checking the officer app offline"
KEPT_PHOTO = """async (key) => new Promise((resolve) => {
    const opening = indexedDB.open("safecity-officer");
    opening.onsuccess = () => {
        const get = opening.result.transaction("queue").objectStore("queue").get(key);
        get.onsuccess = () => resolve(((get.result || {}).body || {}).photo_jpeg.length);
    };
})"""


CUT: list[str] = []


def no_network_for_workers(route: Route) -> None:
    """What the service worker asks the network for fails too (set_offline leaves workers online)."""
    if route.request.service_worker is not None:
        CUT.append(route.request.url)
        route.abort("internetdisconnected")
    else:
        route.continue_()


def test_the_app_opens_with_no_network_after_one_visit(officer: Page) -> None:
    manifest = officer.evaluate("() => fetch('/officer.webmanifest').then((r) => r.json())")
    assert (manifest["display"], manifest["start_url"], manifest["theme_color"]) == (
        "standalone",
        "/officer",
        "#0d1117",
    )
    icons = officer.evaluate(
        "(urls) => Promise.all(urls.map((u) => fetch(u).then((r) => r.headers.get('content-type'))))",
        [icon["src"] for icon in manifest["icons"]],
    )
    assert set(icons) == {"image/png"}
    assert officer.evaluate("() => navigator.serviceWorker.ready.then((r) => r.active.state)") == "activated"
    context = officer.context
    context.set_offline(True)
    context.route("**/*", no_network_for_workers)
    try:
        answer = officer.reload()
        assert answer is not None and answer.from_service_worker
        assert any(url.endswith("/officer") for url in CUT)  # the worker tried the network: none
        expect(officer.locator("#offline")).to_be_visible()
        expect(officer.locator("#offline")).to_contain_text("You are offline")
        expect(officer.locator("#app")).to_be_visible()  # signed in still: the session was kept
        expect(officer.locator("#link")).to_have_text("offline")
        officer.click("#tabs a[data-tab=report]")
        expect(officer.locator("#officer-queue")).to_be_visible()
        officer.click("#tabs a[data-tab=library]")
        expect(officer.locator("#library-kept")).to_contain_text("Kept on this phone")
        screenshot(officer, "30-officer-offline")
    finally:
        context.unroute("**/*", no_network_for_workers)
        context.set_offline(False)
    expect(officer.locator("#offline")).to_be_hidden()
    expect(officer.locator("#link")).to_have_text("live")


def arrests_of(system: System, fir: str) -> list[dict[str, object]]:
    query = urllib.parse.urlencode({"fir": fir, "police_station": "PS Kohsar", "reason": REASON})
    return list(system.call("GET", f"/arrests?{query}", "supervisor")["arrests"])


def test_an_arrest_notified_offline_is_sent_once_when_back(officer: Page, system: System) -> None:
    fir = f"{uuid.uuid4().int % 900 + 100}/2026"
    context = officer.context
    lost: list[str] = []
    lose_the_answer = losing_the_first_answer(lost)

    officer.goto(f"{system.base}/officer#report")
    context.set_offline(True)
    try:
        officer.click("#officer-report-show-arrest")
        officer.set_input_files("#officer-arrest-photo", str(ARREST_PHOTO))
        expect(officer.locator("#officer-arrest-photo-previews img")).to_have_count(1)
        officer.fill("#officer-arrest-name", "Imran Shah")
        officer.fill("#officer-arrest-fir", fir)
        officer.fill("#officer-arrest-sections", "379 PPC")
        officer.fill("#officer-arrest-ps", "PS Kohsar")
        officer.click("#officer-arrest-form button[type=submit]")
        expect(officer.locator("#officer-arrest-message")).to_contain_text("No network")
        queued = officer.locator("#officer-queue article.queued", has_text=f"FIR {fir}")
        expect(queued).to_have_attribute("data-state", "waiting")
        expect(queued.locator(".badge")).to_have_text("waiting to send")
        expect(officer.locator("#report-waiting")).to_be_visible()
        assert officer.evaluate(KEPT_PHOTO, queued.get_attribute("data-key")) > 1000  # the photo is kept too
        screenshot(officer, "31-officer-arrest-waiting")
        assert arrests_of(system, fir) == []
        officer.route(f"{system.base}/arrests", lose_the_answer)
    finally:
        with officer.expect_event(
            "requestfailed", lambda r: r.method == "POST" and r.url.endswith("/arrests")
        ):
            context.set_offline(False)  # the "online" event: the phone sends what waits
    assert len(arrests_of(system, fir)) == 1 and lost
    expect(queued).to_have_attribute("data-state", "waiting")  # it never heard back: it waits still
    officer.unroute(f"{system.base}/arrests")
    officer.reload()  # the app sends what waits when it starts, with the same key
    sent = officer.locator("#officer-queue article.queued", has_text=f"FIR {fir}")
    expect(sent).to_have_attribute("data-state", "sent")
    [arrest] = arrests_of(system, fir)
    assert arrest["photo"] and str(arrest["id"]) in lost[0]
    expect(sent).to_contain_text(f"arrest {arrest['id']}")
    screenshot(officer, "32-officer-arrest-sent")


def test_the_investigating_officer_sees_reminders(officer: Page, system: System) -> None:
    fir = f"{uuid.uuid4().int % 900 + 100}/2026"
    officer_id = system.accounts["officer"].government_id
    case = {"fir_number": fir, "police_station": "PS Margalla", "sections": ["420 PPC"]}
    case |= {"status": "under_investigation", "investigating_officer": officer_id}
    case["fir_date"] = (date.today() - timedelta(days=20)).isoformat()  # the challan is overdue
    person = {"category": "local", "name": "Tariq Mehmood", "district": "Islamabad", "cases": [case]}
    system.call("POST", "/persons", "supervisor", person)
    officer.goto(f"{system.base}/officer#reminders")
    reminder = officer.locator("#reminders-list article.reminder", has_text=f"FIR {fir}")
    expect(reminder).to_contain_text("Challan overdue")
    expect(reminder).to_contain_text("Tariq Mehmood")
    expect(officer.locator("#reminders-due")).to_be_visible()
    screenshot(officer, "33-officer-reminders")


def test_an_arrest_refused_after_it_left_the_form_stays_to_be_corrected(
    officer: Page, system: System
) -> None:
    fir = f"{uuid.uuid4().int % 900 + 100}/2026"
    officer.goto(f"{system.base}/officer#report")
    officer.context.set_offline(True)
    try:
        officer.click("#officer-report-show-arrest")
        officer.fill("#officer-arrest-name", "Kashif Javed")
        officer.fill("#officer-arrest-cnic", "12345")  # mistyped, and no network to say so yet
        officer.fill("#officer-arrest-fir", fir)
        officer.fill("#officer-arrest-sections", "411 PPC")
        officer.fill("#officer-arrest-ps", "PS Kohsar")
        officer.click("#officer-arrest-form button[type=submit]")
        expect(officer.locator("#officer-arrest-message")).to_contain_text("No network")
    finally:
        officer.context.set_offline(False)
    item = officer.locator("#officer-queue article.queued", has_text=f"FIR {fir}")
    expect(item).to_have_attribute("data-state", "refused")  # sent when back: the server said why not
    expect(item.locator(".error")).to_contain_text("cnic")
    screenshot(officer, "34-officer-arrest-refused")
    officer.reload()  # still there after the app is opened again: never dropped
    expect(item).to_have_attribute("data-state", "refused")
    item.get_by_role("button", name="Correct and send again").click()
    expect(officer.locator("#officer-arrest-fir")).to_have_value(fir)  # the form holds what was refused
    officer.fill("#officer-arrest-cnic", "")
    officer.click("#officer-arrest-form button[type=submit]")
    expect(officer.locator("#officer-arrest-message")).to_contain_text("notified")
    expect(item).to_have_attribute("data-state", "sent")
    assert [a["person_name"] for a in arrests_of(system, fir)] == ["Kashif Javed"]
