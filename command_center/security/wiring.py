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
            return client
        except (RedisError, OSError) as exc:
            if asyncio.get_running_loop().time() + delay > deadline:
                raise RedisUnavailable(
                    f"Redis at {_redact(url)} did not answer within {wait_s:.0f}s: {exc}"
                ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


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
        otp=OtpStore(redis, security),
        sessions=SessionStore(redis, security.refresh_token_ttl_s),
        tokens=TokenIssuer(security.jwt_secret.get_secret_value(), security.access_token_ttl_s),
        sms=make_sms_gateway(security),
        trust_without_sessions=security.trust_tokens_without_session_store,
    )
    return redis, auth
