"""Roles in the console exactly as in the API, checked against the one permissions table: each role's
navigation holds the screens its permissions allow and no other, enrolment appears only for roles that
may propose watchlist entries, a screen typed into the address bar is refused, a records clerk gets no
live alert feed, and an operator never sees another district's alert (a supervisor does)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from command_center.security.permissions import ROLE_PERMISSIONS, Permission, Role
from tests.browser.conftest import STATUS_OF, System, console_page, screenshot
from tests.browser.seed import raise_alert

pytestmark = pytest.mark.e2e

# The console's screens (js/console/main.js) and the permission each needs, in navigation order.
SCREENS = [
    ("Alerts", "alerts", Permission.ALERTS_READ),
    ("Map", "map", Permission.ALERTS_READ),
    ("Statistics", "stats", Permission.STATS_READ),
    ("Persons", "persons", Permission.PERSONS_READ),
    ("Vehicles", "vehicles", Permission.VEHICLES_READ),
    ("Missing / UDR", "crossmatch", Permission.MISSING_READ),
    ("Hotel check-ins", "checkins", Permission.CHECKINS_READ),
    ("Watchlist entries", "watchlist", Permission.WATCHLIST_READ),
    ("Watch lists", "lists", Permission.WATCHLIST_READ),
    ("Photo search", "facesearch", Permission.FACES_SEARCH),
    ("Library", "library", Permission.LIBRARY_READ),
    ("Bulk import", "imports", Permission.PERSONS_WRITE),
    ("Audit log", "audit", Permission.AUDIT_READ),
    ("Cameras", "cameras", Permission.ALERTS_READ),
    ("Patrol units", "units", Permission.PATROL_READ),
    ("Staff accounts", "users", Permission.USERS_MANAGE),
    ("Hotels and keys", "hotels", Permission.INTEGRATIONS_MANAGE),
]


@pytest.fixture(scope="module")
def clerk(browser: Browser, system: System) -> Iterator[Page]:
    page = console_page(browser, system, "clerk")
    yield page
    page.context.close()


def pages(who: str, operator: Page, supervisor: Page, clerk: Page) -> Page:
    return {"operator": operator, "supervisor": supervisor, "clerk": clerk}[who]


@pytest.mark.parametrize("who", ["operator", "clerk", "supervisor"])
def test_each_role_sees_the_screens_its_permissions_allow(
    who: str, operator: Page, supervisor: Page, clerk: Page, system: System
) -> None:
    page = pages(who, operator, supervisor, clerk)
    granted = ROLE_PERMISSIONS[Role(system.accounts[who].role)]
    page.goto(f"{system.base}/#/persons")
    expect(page.locator("#nav")).to_be_visible()
    shown = page.locator("#nav a[data-screen]").all_inner_texts()
    assert shown == [title for title, _, needs in SCREENS if needs in granted]

    for title, screen, needs in SCREENS:
        if needs not in granted:  # typed into the address bar: refused, and the API agrees
            page.goto(f"{system.base}/#/{screen}")
            expect(page.locator("#denied")).to_contain_text(f"may not use the {title} screen")
    if Permission.WATCHLIST_READ in granted:
        page.goto(f"{system.base}/#/watchlist")
        enrol = page.locator("#enrol-form")
        expect(enrol).to_have_count(1 if Permission.WATCHLIST_PROPOSE in granted else 0)
    refused = ["/audit", "/alerts", "/stats/alerts"]
    needed = [Permission.AUDIT_READ, Permission.ALERTS_READ, Permission.STATS_READ]
    assert page.evaluate(STATUS_OF, refused) == [200 if p in granted else 403 for p in needed]
    screenshot(page, f"20-roles-{who}")


def test_a_records_clerk_gets_no_live_alerts(clerk: Page, system: System) -> None:
    assert Permission.ALERTS_READ not in ROLE_PERMISSIONS[Role.RECORDS_CLERK]  # the table says so
    clerk.goto(f"{system.base}/#/alerts")
    expect(clerk.locator("#denied")).to_contain_text("may not use the Alerts screen")
    expect(clerk.locator("#screen-alerts")).to_have_count(0)  # never mounted: no list in the page
    expect(clerk.locator("#link")).to_be_hidden()  # no feed connection, no count, no cue
    expect(clerk.locator("#alert-count")).to_be_hidden()
    expect(clerk.locator("#sound")).to_be_hidden()
    # What a clerk may do works: the enrolment form is there.
    clerk.goto(f"{system.base}/#/watchlist")
    expect(clerk.locator("#enrol-form")).to_be_visible()


def test_an_operator_never_sees_another_districts_alert(
    operator: Page, supervisor: Page, system: System
) -> None:
    operator.goto(f"{system.base}/#/alerts")
    supervisor.goto(f"{system.base}/#/alerts")
    theirs = raise_alert(system, system.other_camera, "Waqas Ali Rawalpindi")
    ours = raise_alert(system, system.desk_camera, "Kamran Islamabad")  # after theirs, on the same feed
    for page in (operator, supervisor):  # every type, camera, status and district
        for name in ("kind", "camera", "status", "district"):
            page.select_option(f"#alert-filters select[name={name}]", "")
    expect(supervisor.locator(f"tr.alert[data-id='{theirs}']")).to_contain_text("Murree Road")
    expect(supervisor.locator(f"tr.alert[data-id='{ours}']")).to_be_visible()
    expect(operator.locator(f"tr.alert[data-id='{ours}']")).to_be_visible()
    expect(operator.locator(f"tr.alert[data-id='{theirs}']")).to_have_count(0)
    assert operator.locator("#alerts").inner_text().count("Waqas Ali Rawalpindi") == 0

    # Nor by reloading, nor by typing its address: the API answers 404 as for no such alert.
    operator.reload()
    expect(operator.locator("#link")).to_have_text("live")
    expect(operator.locator(f"tr.alert[data-id='{ours}']")).to_be_visible()
    expect(operator.locator(f"tr.alert[data-id='{theirs}']")).to_have_count(0)
    operator.goto(f"{system.base}/#/alerts/{theirs}")
    expect(operator.locator("#alert-detail .message.error")).to_be_visible()
    assert operator.evaluate(STATUS_OF, [f"/alerts/{theirs}", f"/alerts/{ours}"]) == [404, 200]
    screenshot(operator, "21-operator-own-district")
    supervisor.select_option("#alert-filters select[name=status]", "open")
