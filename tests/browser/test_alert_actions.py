"""What operators and supervisors are told and do about alerts, in a real browser: dismissing an alert
as a false positive with a reason (refused with the API's reason when too short; shown at once on a
second console), an escalation announced to everyone and listed prominently for supervisors (also after
a reload, from GET /alerts/escalations), and a dispatch nobody acknowledged announced with its cue.

Alerts here come from hits published on JetStream as a worker publishes them (seed.py), on a camera of
the operators' district without a stream."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ACK_TIMEOUT_S, ESCALATE_P3_S, System, screenshot
from tests.browser.seed import raise_alert

pytestmark = pytest.mark.e2e


def cues(page: Page, why: str) -> int:
    """How many times the page sounded its cue for ``why`` (cue.js counts them on #sound)."""
    return int(page.locator("#sound").get_attribute(f"data-cues-{why}") or 0)


@pytest.fixture(scope="module")
def unanswered(system: System, operator: Page, supervisor: Page) -> int:
    """An alert dispatched to unit 3, whose officer never answers: it times out ACK_TIMEOUT_S later,
    while the other tests of this module run (the consoles are open and listening by then)."""
    alert = raise_alert(system, system.desk_camera, "Naveed Akhtar Abbasi")
    system.call("POST", f"/alerts/{alert}/dispatch", "supervisor", {"unit_id": system.unit(3), "note": None})
    return alert


def test_dismissing_as_a_false_positive_shows_at_once_on_another_console(
    operator: Page, operator2: Page, system: System, unanswered: int
) -> None:
    alert = raise_alert(system, system.desk_camera, "Imtiaz Ahmed Qureshi")
    operator2.goto(f"{system.base}/#/alerts/{alert}")  # the second operator has the alert open
    expect(operator2.locator("#detail-status")).to_have_text("new")
    operator.goto(f"{system.base}/#/alerts")
    operator.locator(f"tr.alert[data-id='{alert}']").click()
    expect(operator.locator("#alert-detail h2")).to_have_text("Imtiaz Ahmed Qureshi")

    # A reason too short for the API (past the form's own check): the API's 4xx reason is shown.
    operator.locator("#dismiss-reason").evaluate("input => input.removeAttribute('minlength')")
    operator.fill("#dismiss-reason", "no")
    operator.click("#act-dismiss")
    expect(operator.locator("#detail-message.error")).to_contain_text("reason")
    expect(operator.locator("#detail-status")).to_have_text("new")

    reason = "Not him: a wedding guest with a similar beard"
    operator.fill("#dismiss-reason", reason)
    operator.click("#act-dismiss")
    expect(operator.locator("#detail-status")).to_have_text("dismissed")
    expect(operator.locator("#detail-timeline li.step")).to_contain_text(reason)
    # Over the live feed, no reload: the open detail and the list of the second console follow.
    expect(operator2.locator("#detail-status")).to_have_text("dismissed")
    expect(operator2.locator("#detail-timeline li.step")).to_contain_text(reason)
    expect(operator2.locator(f"tr.alert[data-id='{alert}']")).to_have_count(0)  # no longer open
    expect(operator2.locator("#detail-actions")).to_contain_text("Closed.")
    life = system.call("GET", f"/alerts/{alert}/lifecycle", "supervisor")
    assert (life["status"], life["transitions"][-1]["reason"]) == ("dismissed", reason)
    screenshot(operator2, "15-dismissed-on-second-console")


def test_an_escalation_is_announced_and_listed_for_supervisors(
    operator: Page, supervisor: Page, system: System, unanswered: int
) -> None:
    before = cues(operator, "escalated")
    # A history-sheeter is priority 3: not cued when it opens, escalated after ESCALATE_P3_S.
    alert = raise_alert(system, system.desk_camera, "Zahid Hussain Shah", category="history_sheeter")
    within = int((ESCALATE_P3_S + 15) * 1000)
    notice = operator.locator(f"#notices .notice[data-kind=escalated][data-alert='{alert}']")
    expect(notice).to_contain_text(
        "Zahid Hussain Shah (P3, history sheeter) has not been acknowledged", timeout=within
    )
    assert cues(operator, "escalated") > before
    expect(operator.locator("#escalations")).to_be_hidden()  # the supervisors' list is not an operator's

    listed = supervisor.locator(f"#escalations li[data-alert='{alert}']")
    expect(listed).to_contain_text("Zahid Hussain Shah")
    # One line in the supervisors' list, no second card for the same alert; the list folds to its count.
    expect(supervisor.locator(f"#notices .notice[data-kind=escalated][data-alert='{alert}']")).to_have_count(
        0
    )
    line = listed.evaluate(
        "(li) => li.getBoundingClientRect().height / parseFloat(getComputedStyle(li).fontSize)"
    )
    assert line < 2.0, f"an escalation takes {line:.1f} lines"
    summary = supervisor.locator("#escalations summary")
    expect(summary).to_contain_text("not acknowledged")
    summary.click()
    expect(listed).to_be_hidden()
    summary.click()
    expect(listed).to_be_visible()
    # A supervisor who signs in (or reloads) later finds it listed from GET /alerts/escalations.
    supervisor.reload()
    expect(supervisor.locator("#link")).to_have_text("live")
    expect(listed).to_contain_text("history sheeter")
    expect(listed).to_contain_text("escalated")
    screenshot(supervisor, "16-supervisor-escalations")

    # Taken on: the list and the notices let go of it, on every console.
    supervisor.goto(f"{system.base}/#/alerts/{alert}")
    supervisor.click("#act-acknowledge")
    expect(supervisor.locator("#detail-status")).to_have_text("acknowledged")
    expect(listed).to_have_count(0)
    expect(notice).to_have_count(0)


def test_a_dispatch_nobody_acknowledges_is_announced_with_a_cue(
    operator: Page, supervisor: Page, system: System, unanswered: int
) -> None:
    notice = operator.locator(f"#notices .notice[data-kind=dispatch_timeout][data-alert='{unanswered}']")
    expect(notice).to_contain_text(
        f"Unit {system.unit(3)} did not acknowledge the dispatch to Naveed Akhtar Abbasi in time",
        timeout=int((ACK_TIMEOUT_S + 30) * 1000),
    )
    # No other unit may be sent (max_attempts 1): it comes back to operators, in the same notice.
    expect(notice).to_contain_text("Naveed Akhtar Abbasi is back with operators")
    expect(
        supervisor.locator(f"#notices .notice[data-kind=dispatch_timeout][data-alert='{unanswered}']")
    ).to_be_visible()
    # One cue per timed-out alert: the step that gave it back added a line, not a second cue. (Other
    # systems' tests on the shared NATS may time out dispatches too: each is a notice of its own.)
    timeouts = operator.locator("#notices .notice[data-kind=dispatch_timeout]").count()
    assert cues(operator, "dispatch-timeout") == timeouts >= 1
    operator.goto(f"{system.base}/#/alerts/{unanswered}")
    expect(operator.locator("#detail-timeline")).to_contain_text("dispatch timeout")
    expect(operator.locator(f"#detail-dispatches li:has-text('{system.unit(3)}') .badge")).to_have_text(
        "timed out"
    )
    screenshot(operator, "17-dispatch-timeout-notice")
    notice.locator("button.close").click()
    expect(notice).to_have_count(0)


def test_what_an_operator_types_survives_a_change_made_elsewhere(operator: Page, system: System) -> None:
    """The issue's lost note: another console acknowledges the alert while this operator is writing. (The
    desk camera has no position, so the dispatch box says so; it is kept as it was, like the reason.)"""
    alert = raise_alert(system, system.desk_camera, "Shahid Mehmood Butt")
    operator.goto(f"{system.base}/#/alerts/{alert}")
    expect(operator.locator("#detail-status")).to_have_text("new")
    operator.click("#act-suggest")
    box = operator.locator("#suggestions")
    expect(box).not_to_contain_text("Finding")
    said = box.inner_text()
    operator.fill("#dismiss-reason", "looks like his cousin, checking")

    system.call("POST", f"/alerts/{alert}/acknowledge", "supervisor", {})
    expect(operator.locator("#detail-status")).to_have_text("acknowledged")  # redrawn underneath
    expect(operator.locator("#act-acknowledge")).to_have_count(0)
    expect(operator.locator("#dismiss-reason")).to_have_value("looks like his cousin, checking")
    expect(operator.locator("#dismiss-reason")).to_be_focused()
    expect(box).to_have_text(said)
