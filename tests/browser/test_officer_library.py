"""The resource library on an officer's phone: a document the control room pinned is kept on the phone and
read there with no network; the library is searched online; an unpinned document leaves the phone."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import System, screenshot

pytestmark = pytest.mark.e2e


def add_document(page: Page, system: System, title: str, text: str, pinned: bool) -> int:
    """A Markdown document added through the API by the supervisor (the console screen has its own test)."""
    answer = page.request.post(
        f"{system.base}/library",
        headers={"Authorization": f"Bearer {system.accounts['supervisor'].token}"},
        multipart={
            "title": title,
            "category": "sop",
            "pinned": "true" if pinned else "false",
            "file": {
                "name": f"{uuid.uuid4().hex[:6]}.md",
                "mimeType": "text/markdown",
                "buffer": text.encode(),
            },
        },
    )
    assert answer.status == 201, answer.text()
    doc_id: int = answer.json()["id"]
    return doc_id


def test_a_pinned_document_is_read_on_the_phone_without_a_network(officer: Page, system: System) -> None:
    token = uuid.uuid4().hex[:8]
    title = f"Checkpoint SOP {token}"
    text = f"# Checkpoint {token}\n\nStop, identify, search with a second officer covering.\n"
    doc_id = add_document(officer, system, title, text, pinned=True)
    officer.goto(f"{system.base}/officer#library")
    officer.reload()  # the app syncs the pinned documents when it starts
    kept = officer.locator("#library-kept li", has_text=title)
    expect(kept).to_be_visible()
    officer.fill("#library-search input[name=q]", f"covering {token}")
    officer.click("#library-search button[type=submit]")
    expect(officer.locator("#library-found li", has_text=title)).to_be_visible()

    officer.context.set_offline(True)
    try:
        kept.get_by_role("button", name=title).click()
        expect(officer.locator("#library-reader pre")).to_contain_text("second officer covering")
        screenshot(officer, "61-officer-library-offline")
        officer.fill("#library-search input[name=q]", "anything")
        officer.click("#library-search button[type=submit]")
        expect(officer.locator("#library-message")).to_contain_text("No network")
    finally:
        officer.context.set_offline(False)

    unpinned = officer.request.patch(
        f"{system.base}/library/{doc_id}",
        headers={"Authorization": f"Bearer {system.accounts['supervisor'].token}"},
        data={"pinned": False},
    )
    assert unpinned.status == 200, unpinned.text()
    officer.reload()
    expect(officer.locator("#library-kept")).to_contain_text("Kept on this phone")
    expect(officer.locator("#library-kept li", has_text=title)).to_have_count(0)
