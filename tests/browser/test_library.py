"""The resource library in a real browser: a supervisor adds an SOP pinned for offline reading, finds it by
words of its text with the words marked in a snippet, unpins it; an operator may search but not add."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import System, screenshot

pytestmark = pytest.mark.e2e


def test_a_supervisor_adds_an_sop_and_finds_it_by_the_words_of_its_text(
    supervisor: Page, operator: Page, system: System
) -> None:
    token = uuid.uuid4().hex[:8]  # a word only this document holds (the library is shared by the tests)
    sop = f"# SOP: bomb threat at a hotel {token}\n\nEvacuate the lobby, cordon 200 metres, call BDS.\n"
    page = supervisor
    page.goto(f"{system.base}/#/library")
    form = page.locator("#library-upload")
    form.locator("input[name=title]").fill(f"Bomb threat SOP {token}")
    form.locator("select[name=category]").select_option("sop")
    form.locator("input[name=issued_on]").fill("2026-03-01")
    form.locator("input[name=file]").set_input_files(
        FilePayload(name=f"bomb-threat-{token}.md", mimeType="text/markdown", buffer=sop.encode())
    )
    form.locator("input[name=pinned]").check()
    form.locator("button[type=submit]").click()
    expect(page.locator("#library-added")).to_contain_text(f"Added: Bomb threat SOP {token}")
    row = page.locator("#library-table tr", has_text=f"Bomb threat SOP {token}")
    expect(row).to_contain_text("pinned")

    page.fill("#library-search input[name=q]", f"cordon {token}")
    page.click("#library-search button[type=submit]")
    expect(page.locator("#library-message")).to_have_text("1 found")
    expect(page.locator("#library-table mark", has_text="cordon")).to_be_visible()
    screenshot(page, "60-library-search")
    page.locator("#library-table tr", has_text=token).get_by_role("button", name="Unpin").click()
    expect(page.locator("#library-table tr", has_text=token)).not_to_contain_text("pinned")

    operator.goto(f"{system.base}/#/library")
    expect(operator.locator("#library-search")).to_be_visible()
    expect(operator.locator("#library-upload")).to_have_count(0)
    operator.fill("#library-search input[name=q]", f"evacuate {token}")
    operator.click("#library-search button[type=submit]")
    expect(operator.locator("#library-table tr", has_text=f"Bomb threat SOP {token}")).to_be_visible()
