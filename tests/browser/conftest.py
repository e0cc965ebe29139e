"""One running system and one Chromium for the whole browser package: camera_sim + worker + command
centre (real processes, real NATS, Redis, SQLite), accounts made with the CLI, pages signed in through
the real OTP form and shared by the test modules. Debian's ``chromium`` is driven by Playwright (never
``playwright install``). Only one test drives the camera; the others raise alerts as a worker would,
by publishing a hit on JetStream (see seed.py), which costs a fraction of a video pass.

Screenshots go to ``test-artifacts/browser/`` under the repository (ignored by git).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.js.errors
import pytest
import yaml
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    Route,
    WebError,
    expect,
    sync_playwright,
)

from tests.e2e.procs import Processes, add_staff, outbox_of, sign_in, wait_http, write_system_config
from tests.names import subjects
from tests.services import REPO, SHARED, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "browser"
DISTRICT = "Islamabad"
OTHER_DISTRICT = "Rawalpindi"
CAMERA_AT = (33.7000, 73.0500)
TARGET = "Lin-Manuel Miranda"
FACES = SHARED / "media" / "faces"
TARGET_PHOTO = FACES / "lin_manuel_miranda" / "examples_lin-manuel-miranda.png"
PHONE = {"width": 390, "height": 844}
# What the API answers the page's own session (its token, as the page keeps it) for each path.
STATUS_OF = """async (paths) => {
    const token = JSON.parse(sessionStorage.getItem("safecity.session")).access_token;
    const headers = {Authorization: `Bearer ${token}`};
    return Promise.all(paths.map((path) => fetch(path, {headers}).then((r) => r.status)));
}"""
# A dispatched unit has this long to acknowledge (short, so a timeout is seen within a test module; the
# real-stream test acknowledges at once). P3 alerts escalate after ESCALATE_P3_S.
ACK_TIMEOUT_S = 12.0
ESCALATE_P3_S = 3.0


# Who signs in during the tests: (name, role, districts).
STAFF: tuple[tuple[str, str, list[str]], ...] = (
    ("operator", "operator", [DISTRICT]),
    ("operator2", "operator", [DISTRICT]),
    ("supervisor", "supervisor", []),
    ("officer", "patrol_officer", [DISTRICT]),
    ("idle_officer", "patrol_officer", [DISTRICT]),  # crews unit 3 and never answers a dispatch
    ("clerk", "records_clerk", []),
)


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
    nats_url: str
    accounts: dict[str, Account] = field(default_factory=dict)

    @property
    def outbox(self) -> Path:
        return outbox_of(self.procs.workdir)

    @property
    def afis_data(self) -> Path:
        """The gallery of the system's AFIS (``safecity afis serve``): enrol prints here."""
        return self.procs.workdir / "afis"

    @property
    def desk_camera(self) -> str:
        """A camera of this district with no stream: alerts on it are raised by publishing hits."""
        return f"desk-{self.tag}"

    @property
    def other_camera(self) -> str:
        """A camera of another district (OTHER_DISTRICT), also without a stream."""
        return f"other-{self.tag}"

    @property
    def vault_camera(self) -> str:
        """A camera of OTHER_DISTRICT whose login (username and password) is in the settings."""
        return f"vault-{self.tag}"

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
            self.procs.start("worker", "worker", "--camera", self.camera, "--stop-at-end")


def vault_password(tag: str) -> str:
    """The password of the camera System.vault_camera logs in with (in the settings only)."""
    return f"Vault-{tag}-s3cret"


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def drop_catalogue(nats_url: str, fleet: str) -> None:
    """The fleet's camera catalogue in NATS KV, if a test made one (a camera's raised threshold is written
    there). Playwright's sync API keeps an event loop on this thread: the NATS client runs on its own."""

    async def drop() -> None:
        nc = await nats.connect(nats_url)
        try:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await nc.jetstream().delete_key_value(subjects.cameras_bucket(fleet))
        finally:
            await nc.drain()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, drop()).result(timeout=30)


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


@pytest.fixture(scope="package")
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
    rtsp = settings["cameras"][0]["url"].rsplit("/", 1)[0]
    settings["cameras"] += [  # no position: the map and its tests see only the streaming camera
        {"id": f"desk-{tag}", "name": "Jinnah Avenue", "url": f"{rtsp}/desk-{tag}", "district": DISTRICT},
        {
            "id": f"other-{tag}",
            "name": "Murree Road",
            "url": f"{rtsp}/other-{tag}",
            "district": OTHER_DISTRICT,
        },
        {  # a recorder's login in the settings: no page may ever show its password
            "id": f"vault-{tag}",
            "name": "Blue Area Plaza",
            "url": f"{rtsp}/vault-{tag}",
            "district": OTHER_DISTRICT,
            "username": "viewer",
            "password": vault_password(tag),
        },
    ]
    settings["dispatch"] = {
        "redis_prefix": f"browser:patrol:{tag}",
        "ack_timeout_s": ACK_TIMEOUT_S,
        "max_attempts": 1,  # a timed-out alert goes back to operators, never to another test's unit
        "auto_dispatch_max_priority": 0,  # operators dispatch here (the policy has tests of its own)
        "escalate_after_s": {1: 120, 2: 180, 3: ESCALATE_P3_S},
        "tick_s": 0.5,
    }
    # The control room's clock, whatever the browser's (Chromium runs on the machine's, UTC here).
    settings["command_center"]["time_zone"] = "Asia/Karachi"
    # A fleet of its own: what the tests write to its camera catalogue is seen by no other run.
    fleet = f"browser-{tag}"
    settings["worker"]["fleet"] = fleet
    afis_port = free_port()
    settings["afis"] = {"url": f"http://127.0.0.1:{afis_port}/transactions"}
    config.write_text(yaml.safe_dump(settings))
    procs = Processes(workdir, config)
    try:
        afis = procs.start("afis", "afis", "serve", "--port", str(afis_port), "--data", str(workdir / "afis"))
        wait_http(f"http://127.0.0.1:{afis_port}/health", 60, afis)
        enrolled = procs.enroll(TARGET, [TARGET_PHOTO], f"browser {tag}")
        assert enrolled.returncode == 0, enrolled.stderr
        base = f"http://127.0.0.1:{port}"
        cc = procs.start("command-center", "command-center")
        wait_http(f"{base}/health/ready", 60, cc)
        running = System(procs, base, camera, tag, json.loads(enrolled.stdout)["profile_id"], nats_url)
        # The first administrator as on a fresh install (the CLI); the rest of the staff as that
        # administrator adds them (the API, which is also much quicker than a process per account).
        admin = Account("admin", *add_staff(procs, "admin"))
        admin.token = sign_in(base, running.outbox, admin.government_id, admin.mobile)
        running.accounts["admin"] = admin
        ids: dict[str, int] = {}
        for n, (who, role, districts) in enumerate(STAFF):
            account = Account(role, f"BRW-{tag}-{n}", f"+92300{int(tag[:6], 16) % 10**5:05d}{n:02d}")
            body = {
                "government_id": account.government_id,
                "mobile": account.mobile,
                "name": f"Browser {who.replace('_', ' ')}",
            }
            created = running.call("POST", "/users", "admin", {**body, "role": role, "districts": districts})
            ids[who] = created["id"]
            running.accounts[who] = account
        for who in ("supervisor", "officer", "idle_officer"):  # API tokens (pages sign in themselves)
            account = running.accounts[who]
            account.token = sign_in(base, running.outbox, account.government_id, account.mobile)
        officer_id, idle_id = ids["officer"], ids["idle_officer"]
        for n, crew in ((1, [officer_id]), (2, []), (3, [idle_id])):
            body = {"id": running.unit(n), "name": f"Mobile {n}", "district": DISTRICT}
            running.call("POST", "/patrol/units", "supervisor", body)
            running.call("POST", f"/patrol/units/{running.unit(n)}/crew", "supervisor", {"officer_ids": crew})
        yield running
    finally:
        procs.stop_all()
        drop_catalogue(nats_url, fleet)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    # A service worker's own requests reach context.route (set_offline alone leaves them online, so an
    # "offline" officer app would still be served by the network): test_officer_pwa.py cuts them too.
    os.environ["PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS"] = "1"
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
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
    context.on("response", _print_refused)
    context.on("weberror", _print_script_error)
    context.on("console", _print_console_problem)
    return context


def _print_refused(response: Response) -> None:
    if response.status >= 400:
        print(f"browser: HTTP {response.status} {response.url}")


def _print_script_error(error: WebError) -> None:
    print(f"browser: script error {error.error}")


def _print_console_problem(message: ConsoleMessage) -> None:
    if message.type in ("error", "warning"):
        print(f"browser console: {message.text}")


# -- signed-in pages, shared by the test modules (each test opens the screen it needs) -----------------


def console_page(browser: Browser, system: System, who: str, width: int = 1400, height: int = 900) -> Page:
    page = new_context(browser, viewport={"width": width, "height": height}).new_page()
    sign_in_page(page, system, who)
    return page


def live_console(
    browser: Browser, system: System, who: str, width: int = 1400, height: int = 900
) -> Iterator[Page]:
    """A signed-in console whose live feed is connected, closed at the end."""
    page = console_page(browser, system, who, width, height)
    expect(page.locator("#link")).to_have_text("live")
    yield page
    page.context.close()


@pytest.fixture(scope="package")
def operator(browser: Browser, system: System) -> Iterator[Page]:
    yield from live_console(browser, system, "operator", 1600, 1000)


@pytest.fixture(scope="package")
def operator2(browser: Browser, system: System) -> Iterator[Page]:
    yield from live_console(browser, system, "operator2")


@pytest.fixture(scope="package")
def supervisor(browser: Browser, system: System) -> Iterator[Page]:
    yield from live_console(browser, system, "supervisor")


@pytest.fixture(scope="package")
def officer(browser: Browser, system: System) -> Iterator[Page]:
    lat, lon = CAMERA_AT[0] + 600 / 111_195, CAMERA_AT[1]  # 600 m north of the camera
    context = new_context(
        browser,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": lat, "longitude": lon, "accuracy": 10},
        permissions=["geolocation"],
    )
    page = context.new_page()
    sign_in_page(page, system, "officer", "/officer")
    expect(page.locator("#link")).to_have_text("live")
    yield page
    context.close()


def losing_the_first_answer(lost: list[str]) -> Callable[[Route], None]:
    """A route handler: the first POST reaches the server (its answer is appended to ``lost``), but the
    answer never reaches the phone; everything after goes through."""

    def handle(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().text())
            route.abort("internetdisconnected")
        else:
            route.continue_()

    return handle
