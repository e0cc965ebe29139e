"""Two deployments sharing one Redis, told apart by ``nats.subject_prefix`` as they are on NATS: one's
sessions, sign-in codes and unit positions are not the other's (real Redis)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from command_center.dispatch.positions import PatrolPositions
from command_center.security.otp import OtpStore, Outcome
from command_center.security.sessions import InvalidRefresh, SessionStore
from pipeline.settings import Settings
from tests.services import TEST_SECURITY


def _settings(prefix: str, **dispatch: object) -> Settings:
    return Settings(nats={"subject_prefix": prefix}, security=TEST_SECURITY, dispatch=dispatch)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def test_prefixes_follow_the_deployment_name() -> None:
    assert _settings("metro-1").auth_redis_prefix == "metro-1:auth"
    assert _settings("metro-1").patrol_redis_prefix == "metro-1:patrol"
    assert _settings("metro-1", redis_prefix="fleet:units").patrol_redis_prefix == "fleet:units"
    # The default deployment keeps the keys it always had, so an upgrade signs nobody out.
    assert Settings(security=TEST_SECURITY).auth_redis_prefix == "safecity:auth"
    assert Settings(security=TEST_SECURITY).patrol_redis_prefix == "safecity:patrol"


async def test_a_session_of_one_deployment_is_unknown_to_the_other(redis: Redis) -> None:
    tag = uuid.uuid4().hex[:8]
    one, two = _settings(f"a{tag}"), _settings(f"b{tag}")
    mine = SessionStore(redis, 3600, one.auth_redis_prefix)
    theirs = SessionStore(redis, 3600, two.auth_redis_prefix)
    session_id, refresh = await mine.open(user_id=7)
    assert await mine.is_live(session_id, "jti-1", 7)
    assert not await theirs.is_live(session_id, "jti-1", 7)
    with pytest.raises(InvalidRefresh):
        await theirs.rotate(refresh)
    rotated = await mine.rotate(refresh)
    assert rotated.user_id == 7
    keys = [k.decode() async for k in redis.scan_iter(match=f"*{session_id}*")]
    assert keys and all(k.startswith(f"a{tag}:auth:") for k in keys)
    await mine.revoke(session_id, "jti-1", int(time.time()) + 60)


async def test_sign_in_codes_and_lockouts_stay_in_their_deployment(redis: Redis) -> None:
    tag = uuid.uuid4().hex[:8]
    one, two = _settings(f"a{tag}"), _settings(f"b{tag}")
    mine = OtpStore(redis, one.security, one.auth_redis_prefix)
    theirs = OtpStore(redis, two.security, two.auth_redis_prefix)
    government_id, mobile = "35202-1234567-1", "+923001234567"
    code = await mine.issue(government_id, mobile)
    assert (await theirs.check(government_id, mobile, code)).outcome is Outcome.WRONG
    assert (await mine.check(government_id, mobile, code)).outcome is Outcome.OK
    await mine.unlock(government_id)
    await theirs.unlock(government_id)


async def test_unit_positions_stay_in_their_deployment(redis: Redis) -> None:
    tag = uuid.uuid4().hex[:8]
    one, two = _settings(f"a{tag}"), _settings(f"b{tag}")
    mine = PatrolPositions(redis, one.patrol_redis_prefix, 300)
    theirs = PatrolPositions(redis, two.patrol_redis_prefix, 300)
    now = time.time()
    assert await mine.update("unit-1", 24.86, 67.0, now)
    assert set(await mine.positions(["unit-1"], now)) == {"unit-1"}
    assert await theirs.positions(["unit-1"], now) == {}
    await mine.forget("unit-1")
