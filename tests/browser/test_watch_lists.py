"""Watch lists and investigative photo search in a real browser: every list with its calibrated threshold
in words, a list's threshold previewed while its target is edited and saved only on request, a change the
command centre refuses shown with its reason, a new list and its members (each change with a reason),
the alerts per camera with the supervisor's raised thresholds, read-only lists for an operator, entries
enrolled onto chosen lists, and a photo search (console and officer app) that ranks the enrolled person
first, raises nothing and is audited with its reason."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import FACES, TARGET, System, screenshot
from tests.browser.seed import enrol_profile, raise_alert

pytestmark = pytest.mark.e2e

ENROLLED = FACES / "obama" / "examples_obama.jpg"
PROBE = FACES / "obama" / "examples_obama2.jpg"  # another photo of the same man
PROPOSED = FACES / "biden" / sorted(p.name for p in (FACES / "biden").glob("*.jpg"))[0]
REASON = "Order 14/2026, SSP Operations"


def watch_list(system: System, list_id: int) -> dict[str, Any]:
    found: dict[str, Any] = system.call("GET", f"/watchlists/{list_id}", "supervisor")
    return found


def named(system: System, name: str) -> dict[str, Any]:
    return next(w for w in system.call("GET", "/watchlists", "supervisor") if w["name"] == name)


def preview(system: System, list_id: int, **params: float) -> dict[str, Any]:
    found: dict[str, Any] = system.call(
        "GET", f"/watchlists/{list_id}/calibration?{urlencode(params)}", "supervisor"
    )
    return found


def audited(system: System, action: str, reason: str) -> list[dict[str, Any]]:
    entries = system.call("GET", f"/audit?action={action}&limit=50", "supervisor")["entries"]
    return [e for e in entries if e["reason"] == reason]


@pytest.fixture(scope="module")
def squad(system: System) -> dict[str, Any]:
    """A search list made by the supervisor, holding the seed's enrolled profile."""
    body = {"name": f"Burglary squad {system.tag}", "purpose": "suspect", "reason": REASON}
    made = system.call("POST", "/watchlists", "supervisor", body)
    members = {"profile_ids": [system.profile_id], "reason": REASON}
    return dict(system.call("POST", f"/watchlists/{made['id']}/members", "supervisor", members))


@pytest.fixture(scope="module")
def obama(system: System, squad: dict[str, Any]) -> int:
    """Barack Obama enrolled on the squad's list, linked to a CRO record with a case; his profile id."""
    profile_id = enrol_profile(system, "Barack Obama", ENROLLED, "wanted", [squad["id"]], "Warrant 31/2026")
    case = {
        "fir_number": "31/2026",
        "police_station": "PS Kohsar",
        "sections": ["420 PPC"],
        "status": "absconding",
    }
    person = {"category": "wanted", "name": "Barack Obama", "father_name": "Barack Obama Sr."}
    system.call(
        "POST", "/persons", "supervisor", {**person, "watchlist_profile_id": profile_id, "cases": [case]}
    )
    return profile_id


def test_a_supervisor_sees_every_list_with_its_threshold(supervisor: Page, system: System) -> None:
    lists = system.call("GET", "/watchlists", "supervisor")
    page = supervisor
    page.goto(f"{system.base}/#/lists")
    table = page.locator("#lists-table")
    for w in lists:
        row = table.locator(f"tr[data-list='{w['id']}']")
        expect(row.locator(".threshold")).to_have_text(f"≥ {w['threshold']:.3f}")
        expect(row.locator(".note")).to_have_text(w["calibration_note"])
        expect(row.locator(".badge")).to_have_text("LIVE" if w["live"] else "search")
    wanted = named(system, "Wanted")
    assert wanted["live"] and wanted["members"] >= 1  # the seed's enrolled target is on it
    row = table.locator(f"tr[data-list='{wanted['id']}']")
    expect(row).to_contain_text("everywhere")
    expect(row.locator(".per-hour")).to_contain_text(f"{wanted['false_alerts_per_camera_hour']:.2g}")
    gallery = next(w for w in lists if w["all_profiles"])
    expect(table.locator(f"tr[data-list='{gallery['id']}']")).to_contain_text("nowhere (search only)")
    screenshot(page, "30-watch-lists")


def test_editing_a_list_previews_its_threshold_before_saving(
    supervisor: Page, system: System, squad: dict[str, Any]
) -> None:
    page = supervisor
    page.goto(f"{system.base}/#/lists/{squad['id']}")
    calibration = page.locator(f"#list-detail[data-list='{squad['id']}'] #list-edit-preview .calibration")
    before = watch_list(system, squad["id"])
    expect(calibration).to_contain_text(f"similarity ≥ {before['threshold']:.3f}")
    strict = preview(system, squad["id"], target_fpir=1e-9)
    assert strict["threshold"] > before["threshold"]

    page.fill("#list-edit-target", "1000000000")  # one false alert per billion strangers
    expect(calibration).to_contain_text(f"similarity ≥ {strict['threshold']:.3f}")
    expect(calibration).to_contain_text(f"At {strict['gallery']:,} enrolled face image")
    page.fill("#list-edit-gallery", "120000")  # what if it grew to a national list: refused for live use
    grown = preview(system, squad["id"], target_fpir=1e-9, gallery=120000)
    assert not grown["feasible"]
    expect(page.locator("#list-edit-preview .refusal")).to_have_text(f"Cannot be live: {grown['reason']}")
    screenshot(page, "31-watch-list-preview")
    assert watch_list(system, squad["id"])["threshold"] == before["threshold"]  # nothing stored yet

    page.fill("#list-edit-gallery", str(before["gallery_size"]))
    page.fill("#list-edit-reason", "Fewer false alerts, order 9/2026")
    page.click("#list-edit-save")
    expect(page.locator("#list-detail-message")).to_contain_text("Saved.")
    row = page.locator(f"#lists-table tr[data-list='{squad['id']}']")
    expect(row.locator(".threshold")).to_have_text(f"≥ {strict['threshold']:.3f}")
    after = watch_list(system, squad["id"])
    assert after["target_fpir"] == 1e-9 and after["threshold"] == strict["threshold"]
    assert audited(system, "watchlists.change", "Fewer false alerts, order 9/2026")


def test_a_refused_change_is_shown_with_the_servers_reason(
    supervisor: Page, system: System, squad: dict[str, Any]
) -> None:
    page = supervisor
    page.goto(f"{system.base}/#/lists/{squad['id']}")
    expect(page.locator(f"#list-detail[data-list='{squad['id']}']")).to_be_visible()
    before = watch_list(system, squad["id"])
    refused = preview(system, squad["id"], threshold_floor=0.9)  # few genuine faces reach 0.9
    assert not refused["feasible"]
    page.select_option("#list-edit-mode", "live")
    page.fill("#list-edit-floor", "0.9")
    expect(page.locator("#list-edit-preview .refusal")).to_have_text(f"Cannot be live: {refused['reason']}")
    page.fill("#list-edit-reason", "Live for the festival, order 11/2026")
    page.click("#list-edit-save")
    message = page.locator("#list-edit-message")
    expect(message).to_have_text(f"{squad['name']} cannot be live: {refused['reason']}")
    expect(message).to_have_class(re.compile(r"\berror\b"))
    screenshot(page, "32-watch-list-refused")
    stored = watch_list(system, squad["id"])
    assert (stored["mode"], stored["threshold_floor"]) == (
        before["mode"],
        before["threshold_floor"],
    )  # refused whole


def test_an_alert_names_its_list_and_the_list_counts_it_per_camera(
    supervisor: Page, system: System, squad: dict[str, Any]
) -> None:
    name = f"Pass of {system.tag}"
    alert_id = raise_alert(system, system.desk_camera, name, watch_list=(squad["id"], squad["name"]))
    page = supervisor
    page.goto(f"{system.base}/#/alerts/{alert_id}")
    expect(page.locator("#detail-watch-list")).to_have_text(squad["name"])

    page.goto(f"{system.base}/#/lists/{squad['id']}")
    row = page.locator(f"#performance-table tr[data-camera='{system.desk_camera}']")
    expect(row.locator("td").nth(1)).to_have_text("1")  # alerts through the list on this camera
    expect(row.locator("td").nth(4)).to_have_text("1")  # still open
    row.locator("button.raise-camera").click()
    row.locator("input[name=threshold]").fill("0.65")
    row.locator("input[name=reason]").fill("Glare at noon, order 7/2026")
    row.locator("button[type=submit]").click()
    expect(row.locator(".camera-threshold")).to_have_text("≥ 0.650")
    cameras = {c["id"]: c for c in system.call("GET", "/cameras", "supervisor")}
    assert cameras[system.desk_camera]["face_threshold"] == 0.65
    screenshot(page, "33-watch-list-performance")
    row.locator("button.raise-camera").click()  # and back to each list's own threshold
    row.locator("input[name=reason]").fill("Shade fitted, order 8/2026")
    row.get_by_role("button", name="Clear").click()
    expect(row.locator(".camera-threshold")).to_have_text("lists' own")

    page.click("#raise-list")
    page.fill("#raise-list-form input[name=threshold]", "0.7")
    page.fill("#raise-list-form input[name=reason]", "Too many false alerts, order 10/2026")
    page.click("#raise-list-form button[type=submit]")
    expect(page.locator("#performance-message")).to_have_text("The list now alerts at similarity ≥ 0.700.")
    expect(page.locator(f"#lists-table tr[data-list='{squad['id']}'] .threshold")).to_have_text("≥ 0.700")
    assert watch_list(system, squad["id"])["threshold_floor"] == 0.7


def test_a_supervisor_makes_a_list_and_changes_its_members_with_reasons(
    supervisor: Page, system: System
) -> None:
    page = supervisor
    name = f"Festival watch {system.tag}"
    page.goto(f"{system.base}/#/lists")
    page.click("#list-new-open")
    page.fill("#list-new-name", name)
    page.select_option("#list-new-purpose", "watch")
    page.fill("#list-new-reason", "Festival security, order 5/2026")
    page.click("#list-new-save")
    detail = page.locator("#list-detail")
    expect(detail.locator("> header h3")).to_contain_text(name)
    list_id = named(system, name)["id"]
    expect(detail).to_have_attribute("data-list", str(list_id))

    page.fill("#members-reason", "Festival security, order 5/2026")
    page.fill("#add-members-ids", str(system.profile_id))
    page.click("#add-members")
    expect(page.locator("#members-count")).to_contain_text("(1 person,")
    page.click("#members-show")
    member = page.locator(f"#members-table tr[data-profile='{system.profile_id}']")
    expect(member).to_contain_text(TARGET)
    screenshot(page, "34-watch-list-members")
    member.locator("button.remove").click()
    member.locator("input.remove-reason").fill("Not needed at the festival")
    member.locator("button.confirm-remove").click()
    expect(page.locator("#members-count")).to_contain_text("(0 persons,")
    removed = audited(system, "watchlists.remove_member", "Not needed at the festival")
    assert [e["target"] for e in removed] == [f"watch_list:{list_id}"]
    assert audited(system, "watchlists.members_view", "Festival security, order 5/2026")


def test_an_operator_sees_the_lists_read_only(operator: Page, system: System) -> None:
    wanted = named(system, "Wanted")
    page = operator
    page.goto(f"{system.base}/#/lists/{wanted['id']}")
    detail = page.locator(f"#list-detail[data-list='{wanted['id']}']")
    expect(detail.locator("#list-facts")).to_contain_text(wanted["calibration_note"])
    expect(detail.locator("#list-read-only")).to_have_text("You may see this list but not change it.")
    expect(detail.locator("#performance-table tbody tr").first).to_be_visible()  # verdicts: yes
    for control in ("#list-edit-form", "#add-members", "#raise-list", ".raise-camera"):
        expect(detail.locator(control)).to_have_count(0)
    expect(page.locator("#list-new-open")).to_have_count(0)
    screenshot(page, "35-watch-lists-operator")


def test_enrolment_puts_an_entry_on_the_lists_chosen(
    supervisor: Page, system: System, squad: dict[str, Any]
) -> None:
    page = supervisor
    page.goto(f"{system.base}/#/watchlist")
    hint = page.locator("#enrol-lists-hint")
    expect(hint).to_have_text("None ticked: it goes on Wanted, the list for wanted entries.")
    page.select_option("#enrol-form select[name=category]", "missing")
    expect(hint).to_contain_text("it goes on Missing persons")
    gallery = next(w for w in system.call("GET", "/watchlists", "supervisor") if w["all_profiles"])
    expect(page.locator(f"#enrol-lists input[value='{gallery['id']}']")).to_have_count(0)  # not a choice
    page.check(f"#enrol-lists input[value='{squad['id']}']")
    reference = f"Warrant 77/2026 {system.tag}"
    page.fill("#enrol-form input[name=name]", "Joseph Biden")
    page.fill("#enrol-form input[name=legal_reference]", reference)
    page.fill("#enrol-form input[name=authorised_by]", "SSP Operations")
    page.set_input_files("#enrol-photos", [PROPOSED])
    expect(page.locator("#enrol-quality li.ok, #enrol-quality li.warn")).to_have_count(1)
    page.click("#enrol-submit")
    expect(page.locator("#enrol-message")).to_contain_text("on 1 chosen list")
    entries = system.call("GET", "/audit?action=watchlist.propose_add&limit=20", "supervisor")["entries"]
    [proposal] = [e for e in entries if e["details"]["legal_reference"] == reference]
    assert proposal["details"]["lists"] == [squad["id"]]  # the chosen list, not the category's


def test_a_photo_search_ranks_the_enrolled_person_first_and_is_audited(
    supervisor: Page, system: System, squad: dict[str, Any], obama: int
) -> None:
    page = supervisor
    page.goto(f"{system.base}/#/facesearch")
    expect(page.locator("#face-investigative")).to_contain_text("no alert is raised")
    expect(page.locator(f"#face-lists input[value='{squad['id']}']")).to_have_count(1)
    page.set_input_files("#face-photo", PROBE)
    reason = f"FIR 88/2026 PS Kohsar {system.tag}"
    page.fill("#face-reason", reason)
    page.click("#face-search-form button[type=submit]")
    first = page.locator("#face-candidates article.face-candidate").first
    expect(first).to_have_attribute("data-profile", str(obama))
    expect(first.locator("h4")).to_contain_text("Barack Obama")
    expect(first.locator(".chance")).to_contain_text("strangers would score this high")
    expect(first).to_contain_text(squad["name"])  # the lists it is on
    expect(first).to_contain_text("Warrant 31/2026")  # its legal basis
    expect(first.locator(".cases")).to_contain_text("FIR 31/2026 · PS Kohsar · 420 PPC · absconding")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=first.locator("img").element_handle()
    )
    expect(page.locator("#face-message")).to_contain_text("One face found")
    screenshot(page, "36-photo-search")

    [entry] = audited(system, "faces.search", reason)
    assert entry["details"]["returned"][0][0] == obama
    alerts = system.call("GET", "/alerts?limit=50", "supervisor")["alerts"]
    assert not [
        a for a in alerts if a["kind"] == "face" and a["profile_id"] == obama
    ]  # a search raises no alert


def test_the_officer_checks_a_face_with_the_phone_camera(officer: Page, system: System, obama: int) -> None:
    officer.click("#tabs a[data-tab=face]")
    photo = officer.locator("#officer-face-photo")
    expect(photo).to_have_attribute("capture", "environment")
    photo.set_input_files(PROBE)
    expect(officer.locator("#officer-face-preview")).to_be_visible()
    officer.fill("#officer-face-reason", "Suspicious person, Aabpara market")
    officer.click("#officer-face-form button[type=submit]")
    first = officer.locator("#officer-face-results article.face-candidate").first
    expect(first).to_have_attribute("data-profile", str(obama))
    expect(first).to_contain_text("Barack Obama")
    expect(first.locator(".chance")).to_be_visible()
    screenshot(officer, "37-officer-face-check")
    assert audited(system, "faces.search", "Suspicious person, Aabpara market")
