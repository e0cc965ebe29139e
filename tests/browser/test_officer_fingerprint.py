"""The officer app's fingerprint search: a print chosen from the phone (as the camera would give it) is
identified by the system's AFIS (``safecity afis serve``, with a synthetic print enrolled under a CRO
person's id), and the person is shown first; the search is audited with its reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from safecity_afis import synth
from safecity_afis.gallery import Gallery
from tests.browser.conftest import System, screenshot

pytestmark = pytest.mark.e2e


def test_the_officer_identifies_a_fingerprint(officer: Page, system: System) -> None:
    person = {"category": "wanted", "name": "Rashid Minhas Qureshi", "district": "Islamabad"}
    created = system.call("POST", "/persons", "supervisor", person)
    rng = np.random.default_rng(4242)
    finger = synth.master(rng)
    Gallery(system.afis_data).enrol(str(created["id"]), synth.impression(finger, rng))
    ok, probe = cv2.imencode(".png", synth.impression(finger, rng))
    assert ok

    officer.click("#tabs a[data-tab=search]")
    officer.set_input_files(
        "#officer-fingerprint-image",
        {"name": "print.png", "mimeType": "image/png", "buffer": probe.tobytes()},
    )
    officer.fill("#officer-fingerprint-reason", "Unknown man at the checkpost, Kashmir Highway")
    officer.click("#officer-fingerprint-form button[type=submit]")
    first = officer.locator("#officer-fingerprint-results article.fingerprint").first
    expect(first).to_have_attribute("data-person", str(created["id"]), timeout=60_000)
    expect(first.locator("h3")).to_contain_text("1. Rashid Minhas Qureshi")
    expect(officer.locator("#officer-fingerprint-message")).to_contain_text("candidate")
    screenshot(officer, "officer-fingerprint")
    entries = system.call("GET", "/audit?action=fingerprints.identify", "supervisor")
    assert any(e["reason"] == "Unknown man at the checkpost, Kashmir Highway" for e in entries["entries"])
