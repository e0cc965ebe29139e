from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from tests.services import (
    SHARED,
    port_open,
    postgres_database,
    private_nats,
    running_nats,
    running_redis,
    sqlite_database,
)


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """The machine's NATS; under pytest-xdist, a private server per process instead, so that tests running
    side by side never see each other's hits, alerts or announcements (each deployment has a NATS of its
    own in production too). The end-to-end phase runs alone, on the machine's server, unless
    SAFECITY_TEST_PRIVATE_NATS=1 asks for a private one (several checkouts testing on one machine)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get("SAFECITY_TEST_PRIVATE_NATS") == "1":
        with private_nats() as url:
            yield url
        return
    with running_nats() as url:
        yield url


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Tidy the machine's NATS once, from the controlling process: an xdist worker finishing early must not
    delete the consumers of tests still running on its siblings.

    Then collect the session's garbage before other plugins' session-end hooks run: on CPython 3.11 a
    finaliser that runs inside a later ``ast.parse`` (pytest rewriting a module schemathesis imports at
    session end) fails it with "SystemError: AST constructor recursion depth mismatch" (cpython#106905),
    which failed a lane whose tests had all passed."""
    if not hasattr(session.config, "workerinput") and port_open("127.0.0.1", 4222):
        asyncio.run(_delete_test_consumers("nats://127.0.0.1:4222"))
    gc.collect()


# Durable consumers that tests' command centres and officers leave on the machine's NATS (named after a
# test's random tag or a test account's government ID); a real deployment's are never named so.
_TEST_CONSUMER = re.compile(
    r"^(cc-test-[0-9a-f]+|cc-replica-[0-9a-f]+|cc-[0-9a-f]{8})(-plates)?$|-(T-[0-9A-F]{12}|E2E-\d+-\d+)$"
)


async def _delete_test_consumers(url: str) -> None:
    """Delete left-over test consumers that nobody is fetching from (another run's live ones are kept)."""
    try:
        nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    except Exception:
        return
    try:
        js = nc.jetstream()
        for stream in await js.streams_info():
            if not (stream.config.name or "").startswith("SAFECITY_"):
                continue
            for consumer in await js.consumers_info(stream.config.name):
                if _TEST_CONSUMER.search(consumer.name) and not consumer.num_waiting:
                    with contextlib.suppress(Exception):
                        await js.delete_consumer(stream.config.name, consumer.name)
    except Exception as exc:  # tidying only: never fail a run over it
        print(f"tests: could not tidy NATS consumers: {exc}", file=sys.stderr)
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on SQLite and on PostgreSQL, each a database of its own at the
    newest migration (copied from a template this process migrated once; see ``postgres_database``)."""
    if request.param == "sqlite":
        yield sqlite_database(tmp_path / "safecity.db", migrated=True)
    else:
        with postgres_database(migrated=True) as url:
            yield url


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like ``database_url`` but empty, as a new deployment's is: for tests of the migrations themselves."""
    if request.param == "sqlite":
        yield sqlite_database(tmp_path / "safecity.db")
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """PostgreSQL only, for slow end-to-end runs whose database code the two-database tests already cover
    (at the newest migration, as ``database_url``)."""
    with postgres_database(migrated=True) as url:
        yield url


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database, for tests of the migrations themselves."""
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return Path(os.environ.get("SAFECITY_MODELS_DIR", SHARED / "models")).resolve()


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return SHARED / "media"


# The longest test files (50-110 s each on CI's two cores), started first: pytest-xdist hands out files in
# collection order, and one of these begun last held the parallel phase ~90 s after every other file ended.
LONGEST_FIRST = (
    "tests/command_center/test_schemathesis.py",
    "tests/command_center/test_route_matrix.py",
    "tests/command_center/test_dispatch.py",
    "tests/command_center/test_apikeys_api.py",
    "tests/command_center/test_arrests_api.py",
    "tests/workers/test_source.py",
)


# The end-to-end phase in two lanes, two pytest processes side by side (scripts/test.sh), each with a NATS
# of its own (SAFECITY_TEST_PRIVATE_NATS=1) and every test with its own ports, data directory, database
# and Redis prefix. The tests whose worker analyses video from start to end run one at a time, in one lane
# (never two such workers side by side); the other takes the tests that mostly wait on services (the
# browser package, whose modules share one running system, whole), ~even on CI. SAFECITY_TEST_E2E_LANE
# names the lane a process runs; a file in neither list runs in the services lane.
E2E_LANES = {
    "video": (
        "tests/e2e/test_dispatch.py",
        "tests/e2e/test_face_alert.py",
        "tests/e2e/test_plate_alert.py",
        "tests/e2e/test_tamper_alert.py",
        "tests/e2e/test_demo.py",
    ),
    "services": (),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the longest files first, each file's tests still together and in their order (the same order
    on every xdist worker: it depends on the paths alone); keep only this lane's end-to-end tests."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
    lane = os.environ.get("SAFECITY_TEST_E2E_LANE")
    if not lane:
        return
    if lane not in E2E_LANES:
        raise pytest.UsageError(f"SAFECITY_TEST_E2E_LANE={lane}: the lanes are {', '.join(E2E_LANES)}")
    elsewhere = [item for item in items if item.get_closest_marker("e2e") and e2e_lane(item) != lane]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if item not in elsewhere]


def e2e_lane(item: pytest.Item) -> str:
    """The lane of an end-to-end test (``E2E_LANES``; "services" for a file listed in none)."""
    path = item.nodeid.split("::")[0]
    return next((lane for lane, files in E2E_LANES.items() if path in files), "services")
