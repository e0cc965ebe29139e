"""Login sessions in Redis, shared by every command-centre replica.

A session lives at most ``refresh_token_ttl_s`` from login (rotation does not extend it). Its refresh
token is ``<session id>.<secret>``; only a hash of the current secret is kept, and each use replaces it.
Presenting a secret that was already used means two parties hold it (one of them stole it), so the whole
session is revoked: every access token of that session is refused from then on, on every replica.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from command_center.security.otp import PREFIX

# Atomic compare-and-rotate, so two replicas handling the same refresh token cannot both succeed.
# Returns {1, user_id} rotated, {-1} reuse (session revoked), {0} unknown.
_ROTATE = """
local current = redis.call('HGET', KEYS[1], 'refresh')
if not current then return {0} end
if current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'refresh', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[1])
  local ttl = redis.call('TTL', KEYS[1])
  if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
  return {1, redis.call('HGET', KEYS[1], 'user_id')}
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {-1}
end
return {0}
"""


class InvalidRefresh(Exception):
    """The refresh token is unknown, expired or revoked."""


class RefreshReuse(InvalidRefresh):
    """An already used refresh token came back: the session has been revoked."""


@dataclass(frozen=True, slots=True)
class Rotated:
    session_id: str
    user_id: int
    refresh_token: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SessionStore:
    def __init__(self, redis: Redis, ttl_s: int, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._rotate = redis.register_script(_ROTATE)

    def _session_key(self, session_id: str) -> str:
        return f"{self._prefix}:session:{session_id}"

    def _used_key(self, session_id: str) -> str:
        return f"{self._prefix}:session:{session_id}:used"

    def _revoked_key(self, jti: str) -> str:
        return f"{self._prefix}:revoked:{jti}"

    async def open(self, user_id: int) -> tuple[str, str]:
        """A new session: (session id, refresh token)."""
        session_id = secrets.token_urlsafe(16)
        secret = secrets.token_urlsafe(32)
        key = self._session_key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key, mapping={"user_id": str(user_id), "refresh": _hash(secret), "opened": str(time.time())}
            )
            pipe.expire(key, self._ttl_s)
            await pipe.execute()
        return session_id, f"{session_id}.{secret}"

    async def rotate(self, refresh_token: str) -> Rotated:
        session_id, _, secret = refresh_token.partition(".")
        if not session_id or not secret:
            raise InvalidRefresh("the refresh token is not valid")
        new_secret = secrets.token_urlsafe(32)
        keys = [self._session_key(session_id), self._used_key(session_id)]
        result = await self._rotate(keys=keys, args=[_hash(secret), _hash(new_secret)])
        if int(result[0]) == -1:
            raise RefreshReuse("this refresh token was already used; the session has been ended for safety")
        if int(result[0]) != 1:
            raise InvalidRefresh("the refresh token is not valid, or its session has ended")
        return Rotated(session_id, int(result[1]), f"{session_id}.{new_secret}")

    async def is_live(self, session_id: str, jti: str, user_id: int) -> bool:
        """The session still exists, belongs to ``user_id`` (a token naming someone else's session is
        refused, whoever signed it) and this access token was not revoked."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self._session_key(session_id), "user_id")
            pipe.exists(self._revoked_key(jti))
            owner, revoked = await pipe.execute()
        return owner is not None and int(owner) == user_id and not revoked

    async def revoke(self, session_id: str, jti: str, expires_at: int) -> None:
        """End the session and refuse this access token until it would have expired anyway."""
        remaining = max(int(expires_at - time.time()) + 60, 1)  # + clock-skew leeway
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._session_key(session_id), self._used_key(session_id))
            pipe.set(self._revoked_key(jti), "1", ex=remaining)
            await pipe.execute()
