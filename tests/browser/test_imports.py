"""Bulk import in a real browser: a records clerk uploads a CSV of CRO persons on the Bulk import screen,
watches the job's progress bar fill as its batches commit (pushed over /ws/imports) until it completes,
and downloads the report of the rows left out with their reasons."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from tests.browser.conftest import System, console_page, screenshot
from tests.command_center.import_job_helpers import persons_csv

pytestmark = pytest.mark.e2e

ROWS = 1200  # three batches of the default 500 rows


@pytest.fixture(scope="module")
def clerk(browser: Browser, system: System) -> Iterator[Page]:
    page = console_page(browser, system, "clerk")
    yield page
    page.context.close()


def test_a_clerk_starts_an_import_and_watches_it_finish(clerk: Page, system: System) -> None:
    data, tag, bad = persons_csv(ROWS)
    page = clerk
    page.goto(f"{system.base}/#/imports")
    form = page.locator("#import-form")
    form.locator("input[name=file]").set_input_files(
        FilePayload(name=f"cro-{tag}.csv", mimeType="text/csv", buffer=data)
    )
    form.locator("button[type=submit]").click()
    expect(page.locator("#imports-message")).to_contain_text(f"{ROWS} rows of cro-{tag}.csv")
    job = page.locator("#imports-table tr", has_text=f"cro-{tag}.csv")
    state = job.locator("[id^=import-state-]")
    expect(state).to_have_text("completed", timeout=60_000)
    expect(job.locator(".import-count")).to_have_text(f"{ROWS} / {ROWS} rows (100 %)")
    expect(job.locator("progress")).to_have_attribute("value", "100")
    expect(job).to_contain_text(f"{ROWS - len(bad):,} imported, {len(bad)} left out")
    screenshot(page, "70-import-completed")

    with page.expect_download() as caught:
        job.get_by_role("button", name="Error report").click()
    report = caught.value
    assert report.suggested_filename == f"cro-{tag}.errors.csv"
    lines = report.path().read_text(encoding="utf-8").splitlines()
    assert lines[0] == "row,outcome,reason" and len(lines) == 1 + len(bad)
