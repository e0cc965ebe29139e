"""The officer app's records tools on a phone-sized page: person search (any spelling, with a stated
reason), following a person from the results, the personal watchlist that lists and unfollows them,
and vehicle search on the hotlist with a misread plate. (Dispatch steps, resolve included, are driven in
test_console.py with the alert a real camera raised.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import System, screenshot

pytestmark = pytest.mark.e2e


def following(system: System) -> list[int]:
    return [p["id"] for p in system.call("GET", "/persons/following", "officer")]


def test_the_officer_finds_a_person_follows_and_unfollows_them(officer: Page, system: System) -> None:
    person = {
        "category": "wanted",
        "name": "Ghulam Mustafa Jatoi",
        "father_name": "Ghulam Rasool",
        "aliases": ["Mustafa Jatt"],
        "district": "Islamabad",
        "address": "House 12, Street 4, G-9/2",
    }
    created = system.call("POST", "/persons", "supervisor", person)
    officer.click("#tabs a[data-tab=search]")
    expect(officer.locator("#tab-search")).to_be_visible()
    officer.fill("#officer-person-q", "Gulam Mustafa Jatoi")  # as a shopkeeper spelled it
    officer.fill("#officer-person-reason", "Suspicious person, Aabpara market")
    officer.click("#officer-person-search button[type=submit]")
    card = officer.locator(f"#officer-person-results article.person[data-person='{created['id']}']")
    expect(card.locator("h3")).to_contain_text("Ghulam Mustafa Jatoi")
    expect(card).to_contain_text("also: Mustafa Jatt")
    expect(card).to_contain_text("s/o Ghulam Rasool")
    expect(card).to_contain_text("House 12, Street 4, G-9/2")
    officer.fill("#officer-person-q", "غلام مصطفی جتوئی")  # the same name typed in Urdu on the phone
    officer.click("#officer-person-search button[type=submit]")
    expect(card.locator("h3")).to_contain_text("Ghulam Mustafa Jatoi")
    assert officer.locator("#officer-person-q").evaluate("el => getComputedStyle(el).direction") == "rtl"
    card.locator("button", has_text="Follow").click()
    expect(card.locator(".message")).to_have_text("Following")
    assert created["id"] in following(system)

    officer.click("#tabs a[data-tab=watchlist]")
    mine = officer.locator(f"#following article.person[data-person='{created['id']}']")
    expect(mine.locator("h3")).to_contain_text("Ghulam Mustafa Jatoi")
    expect(mine.locator(".badge")).to_have_text("wanted")
    screenshot(officer, "18-officer-watchlist")
    mine.locator("button", has_text="Stop following").click()
    expect(mine).to_have_count(0)
    expect(officer.locator("#tab-watchlist")).to_contain_text("You follow nobody yet")
    assert created["id"] not in following(system)


def test_the_officer_finds_a_vehicle_despite_a_misread_plate(officer: Page, system: System) -> None:
    number = int(system.tag[4:8], 16) % 9000 + 1000
    entry = {
        "plate": f"ISB-{number}",
        "status": "stolen",
        "reason": "snatched at gunpoint, F-10 Markaz",
        "case_reference": "FIR 311/2025 PS Shalimar",
        "vehicle": "white Suzuki Mehran",
    }
    system.call("POST", "/vehicles", "supervisor", entry)
    officer.click("#tabs a[data-tab=search]")
    officer.fill("#officer-vehicle-q", f"1SB{number}")  # I read as 1, no dash
    officer.fill("#officer-vehicle-reason", "Checkpost, Kashmir Highway")
    officer.click("#officer-vehicle-search button[type=submit]")
    row = officer.locator("#officer-vehicle-results #vehicle-table tbody tr", has_text=f"ISB-{number}")
    expect(row).to_contain_text("stolen")
    expect(row).to_contain_text("snatched at gunpoint, F-10 Markaz")
    expect(row).to_contain_text("FIR 311/2025 PS Shalimar")
    expect(row).to_contain_text("white Suzuki Mehran")
    expect(officer.locator("#officer-vehicle-message")).to_contain_text("found")
    screenshot(officer, "19-officer-vehicle-search")
