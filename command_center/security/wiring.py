"""Starting the access layer inside the command centre's lifespan: Redis, accounts, codes, sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine

from command_center.security.authn import StaffAuth
from command_center.security.otp import OtpStore
from command_center.security.sessions import SessionStore
from command_center.security.sms import make_sms_gateway
from command_center.security.tokens import TokenIssuer
from command_center.security.users import UserStore
from pipeline.settings import Settings

log = logging.getLogger(__name__)

REDIS_WAIT_S = 30.0
REDIS_TIMEOUT_S = 5.0
# GEOSEARCH (patrol units near an alert) arrived in 6.2; sign-in's counters are Lua (2.6 and later).
MIN_REDIS = (6, 2)


class RedisUnavailable(RuntimeError):
    pass


async def connect_redis(url: str, wait_s: float, stack: AsyncExitStack) -> Redis:
    """A client whose server answered PING, retrying with bounded backoff; closed by ``stack``."""
    client = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
    stack.push_async_callback(client.aclose)
    deadline = asyncio.get_running_loop().time() + wait_s
    delay = 0.1
    while True:
        try:
            await cast(Awaitable[bool], client.ping())  # redis-py types sync and async together
            await check_redis_version(client)
            return client
        except (RedisError, OSError) as exc:
            if asyncio.get_running_loop().time() + delay > deadline:
                raise RedisUnavailable(
                    f"Redis at {_redact(url)} did not answer within {wait_s:.0f}s: {exc}"
                ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def redis_version(client: Redis) -> tuple[int, ...]:
    info = await cast(Awaitable[dict[str, object]], client.info("server"))
    return tuple(int(part) for part in str(info.get("redis_version", "0")).split(".")[:3] if part.isdigit())


def version_problem(version: tuple[int, ...]) -> str | None:
    """Why a Redis of this version cannot serve the command centre, or None."""
    if version >= MIN_REDIS:
        return None
    found = ".".join(map(str, version)) or "of unknown version"
    return f"Redis {found} is too old: the command centre needs {'.'.join(map(str, MIN_REDIS))} or later"


async def check_redis_version(client: Redis) -> None:
    """RedisUnavailable naming the version when the server lacks commands the command centre uses."""
    problem = version_problem(await redis_version(client))
    if problem:
        raise RedisUnavailable(problem)


def _redact(url: str) -> str:
    """The URL without its credentials (error messages end up in logs)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"


async def start_auth(
    settings: Settings, engine: Engine, stack: AsyncExitStack, wait_s: float = REDIS_WAIT_S
) -> tuple[Redis, StaffAuth]:
    users = UserStore(engine)
    await asyncio.to_thread(users.create_schema)
    redis = await connect_redis(settings.redis_url, wait_s, stack)
    security = settings.security
    auth = StaffAuth(
        users=users,
        otp=OtpStore(redis, security, settings.auth_redis_prefix),
        sessions=SessionStore(redis, security.refresh_token_ttl_s, settings.auth_redis_prefix),
        tokens=TokenIssuer(security.jwt_secret.get_secret_value(), security.access_token_ttl_s),
        sms=make_sms_gateway(security),
        trust_without_sessions=security.trust_tokens_without_session_store,
    )
    return redis, auth
