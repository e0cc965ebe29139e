"""The console's administration screens in Chromium, against the running system: an administrator adds
an officer, changes their districts and puts them in a unit (their app then shows the unit), lifts a
sign-in lockout, adds a hotel and issues, rotates and revokes its keys (a revoked key is refused at the
check-in API); the camera catalogue never shows a camera's password; a supervisor makes a unit and its
crew; several alerts are acknowledged at once. Every check waits on the page or polls the API."""

from __future__ import annotations

import re
import time
import urllib.error
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    DISTRICT,
    OTHER_DISTRICT,
    PHONE,
    Account,
    System,
    console_page,
    new_context,
    screenshot,
    sign_in_page,
    vault_password,
)
from tests.browser.seed import cnic, post_checkin, raise_alert
from tests.e2e.procs import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def admin(browser: Browser, system: System) -> Iterator[Page]:
    page = console_page(browser, system, "admin")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=system.base)
    expect(page.locator("#link")).to_have_text("live")
    yield page
    page.context.close()


def new_account(system: System, who: str, role: str) -> tuple[Account, dict[str, str]]:
    """Details of an account not made yet, kept in ``system.accounts`` so that its owner can sign in."""
    n = uuid.uuid4().int
    account = Account(role, f"ADM-{system.tag}-{n % 10**6:06d}".upper(), f"+92301{n % 10**7:07d}")
    system.accounts[who] = account
    return account, {"government_id": account.government_id, "mobile": account.mobile}


def open_screen(page: Page, system: System, screen: str) -> None:
    """The screen with its list read afresh (already shown, its address alone would not read it again)."""
    page.goto(f"{system.base}/#/{screen}")
    page.click(f"#{screen}-refresh")


def user_id(system: System, government_id: str) -> int:
    return next(u["id"] for u in system.call("GET", "/users", "admin") if u["government_id"] == government_id)


def crew_of(system: System, unit_id: str) -> list[int]:
    units = system.call("GET", "/patrol/units", "admin")
    return [o["user_id"] for u in units if u["id"] == unit_id for o in u["officers"]]


def test_an_admin_adds_an_officer_and_puts_them_in_a_unit(
    admin: Page, browser: Browser, system: System
) -> None:
    account, ids = new_account(system, "recruit", "patrol_officer")
    unit_id = f"ADM-{system.tag}-A"  # off duty, in the other district: no other test dispatches to it
    body = {"id": unit_id, "name": "Mobile Adm", "district": OTHER_DISTRICT, "duty_status": "off_duty"}
    system.call("POST", "/patrol/units", "supervisor", body)
    open_screen(admin, system, "users")
    form = admin.locator("#user-form")
    form.locator("input[name=government_id]").fill(ids["government_id"])
    form.locator("input[name=mobile]").fill(ids["mobile"])
    form.locator("input[name=name]").fill("Constable Faisal Recruit")
    form.locator("select[name=role]").select_option("patrol_officer")
    form.locator("input[name=districts]").fill(DISTRICT)
    form.locator("button[type=submit]").click()
    expect(admin.locator("#users-message")).to_contain_text(
        "made for Constable Faisal Recruit (patrol officer)"
    )
    officer_id = user_id(system, account.government_id)
    row = admin.locator(f"#users-table tr[data-user='{officer_id}']")
    expect(row).to_contain_text(account.government_id)

    # A change of districts needs a reason (the API's refusal is shown), then is made.
    row.locator("input[name=districts]").fill(f"{DISTRICT}, {OTHER_DISTRICT}")
    row.locator("button", has_text="Save role and districts").click()
    expect(admin.locator("#users-message")).to_contain_text("State a reason")
    admin.fill("#users-reason", "Posted to the twin-city patrol, order 41/2026")
    row.locator("button", has_text="Save role and districts").click()
    expect(admin.locator("#users-message")).to_contain_text("Constable Faisal Recruit: patrol officer")
    districts = next(u["districts"] for u in system.call("GET", "/users", "admin") if u["id"] == officer_id)
    assert districts == sorted([DISTRICT, OTHER_DISTRICT])

    context = new_context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        sign_in_page(phone, system, "recruit", "/officer")
        expect(phone.locator("#unit")).to_contain_text("You are not in a patrol unit")
        row.locator("select[name=unit]").select_option(unit_id)
        expect(admin.locator("#users-message")).to_have_text(
            f"Constable Faisal Recruit now serves in {unit_id}"
        )
        assert crew_of(system, unit_id) == [officer_id]
        screenshot(admin, "30-admin-users")
        phone.reload()
        expect(phone.locator("#unit")).to_contain_text(unit_id)
        expect(phone.locator("#unit")).not_to_contain_text("not in a patrol unit")
        screenshot(phone, "31-officer-in-a-unit")
    finally:
        context.close()


def test_a_locked_account_is_unlocked(admin: Page, system: System) -> None:
    account, ids = new_account(system, "locked", "operator")
    created = system.call(
        "POST", "/users", "admin", {**ids, "name": "Operator Locked Out", "role": "operator"}
    )
    with httpx.Client(base_url=system.base, timeout=10) as anon:
        answers = [anon.post("/auth/verify", json={**ids, "code": "000000"}).status_code for _ in range(5)]
        assert answers[-1] == 423, answers
        assert anon.post("/auth/login", json=ids).status_code == 423
        open_screen(admin, system, "users")
        admin.fill("#users-reason", "Owner called the control room, verified by callback")
        row = admin.locator(f"#users-table tr[data-user='{created['id']}']")
        row.locator("button", has_text="Unlock sign-in").click()
        expect(admin.locator("#users-message")).to_contain_text("Operator Locked Out may sign in again")
    account.token = sign_in(system.base, system.outbox, account.government_id, account.mobile)
    assert system.call("GET", "/auth/me", "locked")["name"] == "Operator Locked Out"
    audit = system.call("GET", f"/audit?target=staff:{created['id']}", "admin")["entries"]
    assert "users.unlock" in [e["action"] for e in audit]
    assert account.government_id in row.inner_text()


def checkin(system: System, key: str, booking: str) -> int:
    """A check-in posted with ``key``; the HTTP status it was refused with, or 201."""
    body: dict[str, Any] = {
        "booking_ref": booking,
        "guest_name": "Adeel Ahmed",
        "cnic": cnic(),
        "room": "12",
        "guests": 1,
        "checked_in_at": datetime.now(UTC).isoformat(),
    }
    try:
        post_checkin(system, key, body)
    except urllib.error.HTTPError as refused:
        return refused.code
    return 201


def new_key(admin: Page, previous: str = "") -> str:
    """The key shown once (after ``previous``, if one was shown before), as its copy button copies it."""
    value = admin.locator("#new-key-value")
    expect(value).to_have_value(re.compile(r".{20,}"))
    expect(value).not_to_have_value(previous)
    expect(admin.locator("#new-key")).to_contain_text("It will not be shown again")
    admin.click("#new-key-copy")
    expect(admin.locator("#new-key-copied")).to_have_text("Copied")
    key = value.input_value()
    assert admin.evaluate("navigator.clipboard.readText()") == key
    return key


def test_a_hotel_key_is_issued_used_rotated_and_revoked(admin: Page, system: System) -> None:
    open_screen(admin, system, "hotels")
    form = admin.locator("#hotel-form")
    form.locator("input[name=name]").fill("Hotel Serena Admin")
    form.locator("input[name=licence_no]").fill(f"LIC-{uuid.uuid4().hex[:10]}")
    form.locator("input[name=address]").fill("Khayaban-e-Suhrawardy")
    form.locator("input[name=district]").fill(DISTRICT)
    form.locator("button[type=submit]").click()
    expect(admin.locator("#hotel-keys h3")).to_have_text("API keys of Hotel Serena Admin")
    admin.fill("#key-form input[name=label]", "front desk PMS")
    admin.click("#key-form button[type=submit]")
    first = new_key(admin)
    screenshot(admin, "32-admin-hotel-key")
    assert checkin(system, first, "ADM-1") == 201

    # Rotating: a new key is shown once, the old one is refused from then on.
    row = admin.locator("#keys-table tbody tr").filter(has_text="valid")
    expect(row).to_have_count(1)
    row.locator("button", has_text="Rotate").click()
    row.locator("button", has_text="Really rotate?").click()
    second = new_key(admin, first)
    assert second != first
    assert checkin(system, first, "ADM-2") in (401, 403)
    assert checkin(system, second, "ADM-3") == 201
    expect(admin.locator("#keys-table tbody tr").filter(has_text="revoked")).to_have_count(1)

    valid = admin.locator("#keys-table tbody tr").filter(has_text="valid")
    valid.locator("button", has_text="Revoke").click()
    valid.locator("button", has_text="Really revoke?").click()
    expect(admin.locator("#keys-message")).to_contain_text("revoked")
    expect(admin.locator("#keys-table tbody tr").filter(has_text="revoked")).to_have_count(2)
    expect(admin.locator("#new-key")).to_have_count(0)  # the key is never shown again
    assert checkin(system, second, "ADM-4") in (401, 403)
    screenshot(admin, "33-admin-hotel-keys-revoked")


def test_the_camera_catalogue_never_shows_a_password(admin: Page, system: System) -> None:
    open_screen(admin, system, "cameras")
    table = admin.locator("#cameras-table")
    streaming = table.locator(f"tr[data-camera='{system.camera}']")
    for text in ("Constitution Avenue", DISTRICT, "33.70000, 73.05000", "ok"):
        expect(streaming).to_contain_text(text)
    vault = table.locator(f"tr[data-camera='{system.vault_camera}']")
    for text in ("Blue Area Plaza", OTHER_DISTRICT, "not placed"):
        expect(vault).to_contain_text(text)
    assert vault_password(system.tag) not in admin.content()
    assert "rtsp://" not in admin.content()

    # Its threshold cannot go to the shared catalogue with the password: the API's reason is shown.
    admin.fill("#cameras-reason", "False alerts at dusk, ticket 88")
    vault.locator("input[name=face_threshold]").fill("0.7")
    vault.locator("button", has_text="Set").click()
    expect(admin.locator("#cameras-message")).to_contain_text("holds no passwords")
    other = table.locator(f"tr[data-camera='{system.other_camera}']")
    other.locator("input[name=face_threshold]").fill("0.7")
    other.locator("button", has_text="Set").click()
    expect(admin.locator("#cameras-message")).to_have_text("Murree Road: face threshold now 0.7")
    expect(other.locator("input[name=face_threshold]")).to_have_value("0.7")
    screenshot(admin, "34-admin-cameras")
    other.locator("input[name=face_threshold]").fill("")
    other.locator("button", has_text="Set").click()
    expect(admin.locator("#cameras-message")).to_contain_text("cleared")
    assert vault_password(system.tag) not in admin.content()


def test_a_supervisor_makes_a_unit_and_its_crew(supervisor: Page, system: System) -> None:
    account, ids = new_account(system, "crewman", "patrol_officer")
    body = {**ids, "name": "Constable Crew Member", "role": "patrol_officer", "districts": [OTHER_DISTRICT]}
    officer = system.call("POST", "/users", "admin", body)
    unit_id = f"ADM-{system.tag}-B"
    open_screen(supervisor, system, "units")
    form = supervisor.locator("#unit-form")
    form.locator("input[name=id]").fill(unit_id)
    form.locator("input[name=name]").fill("Mobile Bravo")
    form.locator("input[name=district]").fill(OTHER_DISTRICT)
    form.locator("select[name=duty_status]").select_option("off_duty")
    form.locator("button[type=submit]").click()
    editor = supervisor.locator("#crew-editor")
    expect(editor.locator("h3")).to_have_text(f"Crew of {unit_id} · Mobile Bravo")
    pick = editor.locator(f"label[data-officer='{officer['id']}'] input")
    expect(pick).not_to_be_checked()
    pick.check()
    editor.locator("button[type=submit]").click()
    expect(supervisor.locator("#units-message")).to_have_text(f"{unit_id}: Constable Crew Member")
    row = supervisor.locator(f"#units-table tr[data-unit='{unit_id}']")
    expect(row).to_contain_text("Constable Crew Member")
    expect(row.locator("select[name=duty_status]")).to_have_value("off_duty")
    expect(row).to_contain_text("no recent fix")
    assert crew_of(system, unit_id) == [officer["id"]]
    assert account.government_id in editor.inner_text()
    screenshot(supervisor, "35-supervisor-units")


def test_three_alerts_are_acknowledged_at_once(admin: Page, system: System) -> None:
    admin.goto(f"{system.base}/#/alerts")
    names = [f"Bulk Suspect {n} {system.tag}" for n in range(3)]
    ids = [raise_alert(system, system.desk_camera, name) for name in names]
    admin.select_option("#alert-filters select[name=camera]", system.desk_camera)
    admin.select_option("#alert-filters select[name=status]", "new")
    for alert_id in ids:
        expect(admin.locator(f"tr.alert[data-id='{alert_id}'] input.pick")).to_be_enabled()
    admin.check("#alerts-select-all")
    for alert_id in ids:
        expect(admin.locator(f"tr.alert[data-id='{alert_id}'] input.pick")).to_be_checked()
    button = admin.locator("#alerts-ack-selected")
    expect(button).to_have_text(re.compile(r"^Acknowledge selected \((\d+)\)$"))
    screenshot(admin, "36-bulk-acknowledge-selected")
    button.click()
    expect(admin.locator("#alerts-bulk-message")).to_have_text(re.compile(r"^(\d+) of \1 acknowledged$"))
    for alert_id in ids:  # no longer new: gone from the list of new alerts
        expect(admin.locator(f"tr.alert[data-id='{alert_id}']")).to_have_count(0)
    deadline = time.monotonic() + 10
    for alert_id in ids:
        while system.call("GET", f"/alerts/{alert_id}", "supervisor")["status"] != "acknowledged":
            assert time.monotonic() < deadline, f"alert {alert_id} was not acknowledged"
            time.sleep(0.1)
        audit = system.call("GET", f"/audit?target=alert:{alert_id}", "admin")["entries"]
        assert [e["action"] for e in audit].count("alerts.acknowledge") == 1
    expect(button).to_be_disabled()
    admin.select_option("#alert-filters select[name=status]", "open")
    admin.select_option("#alert-filters select[name=camera]", "")


def test_an_operator_reads_units_and_cameras_but_changes_neither(operator: Page, system: System) -> None:
    open_screen(operator, system, "units")
    row = operator.locator(f"#units-table tr[data-unit='{system.unit(1)}']")
    expect(row).to_contain_text("Browser officer")
    expect(operator.locator("#unit-form")).to_have_count(0)
    expect(row.locator("select")).to_have_count(0)
    open_screen(operator, system, "cameras")
    expect(operator.locator(f"#cameras-table tr[data-camera='{system.desk_camera}']")).to_contain_text(
        DISTRICT
    )
    expect(operator.locator(f"#cameras-table tr[data-camera='{system.other_camera}']")).to_have_count(0)
    expect(operator.locator("#cameras-table input")).to_have_count(0)
    expect(operator.locator("#cameras-reason")).to_have_count(0)
