"""One running system and one Chromium per test module: camera_sim + worker + command centre (real
processes, real NATS, Redis, SQLite), accounts made with the CLI, pages signed in through the real
OTP form. Debian's ``chromium`` is driven by Playwright (never ``playwright install``).

Screenshots go to ``test-artifacts/browser/`` under the repository (ignored by git).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.e2e.procs import Processes, add_staff, outbox_of, sign_in, wait_http, write_system_config
from tests.services import REPO, SHARED

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "browser"
DISTRICT = "Islamabad"
CAMERA_AT = (33.7000, 73.0500)
TARGET = "Lin-Manuel Miranda"
FACES = SHARED / "media" / "faces"
TARGET_PHOTO = FACES / "lin_manuel_miranda" / "examples_lin-manuel-miranda.png"
PHONE = {"width": 390, "height": 844}


@dataclass
class Account:
    role: str
    government_id: str
    mobile: str
    token: str = ""


@dataclass
class System:
    procs: Processes
    base: str
    camera: str
    tag: str
    profile_id: int
    accounts: dict[str, Account] = field(default_factory=dict)

    @property
    def outbox(self) -> Path:
        return outbox_of(self.procs.workdir)

    def unit(self, n: int) -> str:
        return f"ISB-{self.tag}-{n}"

    def call(self, method: str, path: str, who: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.accounts[who].token}",
                "Content-Type": "application/json",
            },
            method=method,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def start_camera(self) -> None:
        """The Hamilton clip on an RTSP stream, and a worker that stops when the stream ends."""
        if "camera-sim" not in self.procs.procs:
            self.procs.start("camera-sim", "camera-sim", "--loops", "3")
            self.procs.start("worker", "worker", "--stop-at-end")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def _codes(outbox: Path, mobile: str) -> list[str]:
    if not outbox.exists():
        return []
    messages = [json.loads(line) for line in outbox.read_text().splitlines()]
    return [c for m in messages if m["to"] == mobile for c in re.findall(r"code is ([0-9]+)", m["text"])]


def sign_in_page(page: Page, system: System, who: str, path: str = "/") -> None:
    """Sign in through the page's own form, reading the SMS code from the outbox as a phone would."""
    account = system.accounts[who]
    page.goto(f"{system.base}{path}")
    before = len(_codes(system.outbox, account.mobile))
    page.fill("#government-id", account.government_id)
    page.fill("#mobile", account.mobile)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#code-form")).to_be_visible()
    deadline = time.monotonic() + 10
    while len(codes := _codes(system.outbox, account.mobile)) <= before:
        assert time.monotonic() < deadline, f"no code was sent to {who}"
        time.sleep(0.1)
    page.fill("#code", codes[-1])
    page.click("#code-form button[type=submit]")
    expect(page.locator("#signin")).to_be_hidden()


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, redis_url: str, models_dir: Path
) -> Iterator[System]:
    workdir = tmp_path_factory.mktemp("browser")
    tag = uuid.uuid4().hex[:8]
    camera = f"browser-{tag}"
    config, _scenario, port = write_system_config(
        workdir,
        nats_url=nats_url,
        redis_url=redis_url,
        database_url=f"sqlite:///{workdir / 'safecity.db'}",
        models_dir=models_dir,
        videos={camera: "hamilton_whitehouse_clip.mp4"},
        tag=tag,
        district=DISTRICT,
    )
    settings = yaml.safe_load(config.read_text())
    settings["cameras"][0].update(latitude=CAMERA_AT[0], longitude=CAMERA_AT[1], name="Constitution Avenue")
    settings["dispatch"] = {"redis_prefix": f"browser:patrol:{tag}", "ack_timeout_s": 300, "tick_s": 0.5}
    config.write_text(yaml.safe_dump(settings))
    procs = Processes(workdir, config)
    try:
        enrolled = procs.enroll(TARGET, [TARGET_PHOTO], f"browser {tag}")
        assert enrolled.returncode == 0, enrolled.stderr
        base = f"http://127.0.0.1:{port}"
        cc = procs.start("command-center", "command-center")
        wait_http(f"{base}/health/ready", 60, cc)
        running = System(procs, base, camera, tag, json.loads(enrolled.stdout)["profile_id"])
        for who, role, districts in (
            ("operator", "operator", (DISTRICT,)),
            ("operator2", "operator", (DISTRICT,)),
            ("supervisor", "supervisor", ()),
            ("officer", "patrol_officer", (DISTRICT,)),
        ):
            government_id, mobile = add_staff(procs, role, *districts)
            running.accounts[who] = Account(role, government_id, mobile)
        for who in ("supervisor", "officer"):  # API tokens for setting up (pages sign in themselves)
            account = running.accounts[who]
            account.token = sign_in(base, running.outbox, account.government_id, account.mobile)
        officer_id = running.call("GET", "/auth/me", "officer")["id"]
        for n, crew in ((1, [officer_id]), (2, [])):
            body = {"id": running.unit(n), "name": f"Mobile {n}", "district": DISTRICT}
            running.call("POST", "/patrol/units", "supervisor", body)
            running.call("POST", f"/patrol/units/{running.unit(n)}/crew", "supervisor", {"officer_ids": crew})
        yield running
    finally:
        procs.stop_all()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run scripts/setup-system.sh (apt-get install chromium)")
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield launched
    launched.close()


def new_context(browser: Browser, **options: Any) -> BrowserContext:
    """A context whose refused requests and script errors are printed (pytest shows them on failure)."""
    context = browser.new_context(accept_downloads=True, **options)
    context.set_default_timeout(15_000)
    context.on("response", lambda r: r.status >= 400 and print(f"browser: HTTP {r.status} {r.url}"))
    context.on("weberror", lambda e: print(f"browser: script error {e.error}"))
    context.on("console", lambda m: m.type in ("error", "warning") and print(f"browser console: {m.text}"))
    return context
