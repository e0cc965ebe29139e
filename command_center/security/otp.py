"""One-time login codes and lockouts, kept in Redis so that every command-centre replica shares them.

A code is stored only as an HMAC bound to the government ID and mobile number it was sent for, expires
after ``otp_ttl_s`` and can be used once. Wrong codes are counted per government ID (whether or not an
account exists, so the answers reveal nothing); ``max_failed_attempts`` of them lock the ID for
``lockout_s``, during which even the right code is refused. Login requests are throttled the same way.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from pipeline.settings import SecuritySettings

PREFIX = "safecity:auth"


class Outcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class CodeCheck:
    outcome: Outcome
    retry_after_s: int = 0  # when locked
    attempts_left: int = 0  # when wrong


class OtpStore:
    def __init__(self, redis: Redis, security: SecuritySettings) -> None:
        self._redis = redis
        self._settings = security
        self.ttl_s = security.otp_ttl_s
        # A key of its own, derived from the token secret: codes cannot be confused with tokens.
        secret = security.jwt_secret.get_secret_value().encode()
        self._key = hmac.new(secret, b"safecity one-time codes", hashlib.sha256).digest()

    @staticmethod
    def _keys(government_id: str) -> tuple[str, str, str, str]:
        base = f"{PREFIX}:{government_id}"
        return f"{base}:otp", f"{base}:fails", f"{base}:lock", f"{base}:logins"

    def _digest(self, government_id: str, mobile: str, code: str) -> str:
        message = f"{government_id}\n{mobile}\n{code}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    async def locked_for(self, government_id: str) -> int:
        """Seconds the ID stays locked (0: not locked)."""
        ttl = int(await self._redis.ttl(self._keys(government_id)[2]))
        return max(ttl, 0)

    async def throttle_login(self, government_id: str) -> int:
        """Count a login request; the seconds to wait when there were too many (0: go ahead)."""
        logins = self._keys(government_id)[3]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(logins)
            pipe.expire(logins, self._settings.lockout_s, nx=True)
            pipe.ttl(logins)
            count, _, ttl = await pipe.execute()
        if int(count) > self._settings.max_failed_attempts:
            return max(int(ttl), 1)
        return 0

    async def issue(self, government_id: str, mobile: str) -> str:
        """A fresh code (replacing any earlier one) for this ID and number; only its HMAC is kept."""
        digits = self._settings.otp_digits
        code = f"{secrets.randbelow(10**digits):0{digits}d}"
        otp_key = self._keys(government_id)[0]
        await self._redis.set(otp_key, self._digest(government_id, mobile, code), ex=self._settings.otp_ttl_s)
        return code

    async def check(self, government_id: str, mobile: str, code: str) -> CodeCheck:
        otp_key, fails_key, lock_key, _ = self._keys(government_id)
        locked = await self.locked_for(government_id)
        if locked:
            return CodeCheck(Outcome.LOCKED, retry_after_s=locked)
        stored = await self._redis.get(otp_key)
        expected = self._digest(government_id, mobile, code).encode()
        # DEL returning 1 makes the code single-use even when two requests race with it.
        if stored is not None and hmac.compare_digest(stored, expected) and await self._redis.delete(otp_key):
            await self._redis.delete(fails_key)
            return CodeCheck(Outcome.OK)
        return await self._count_failure(otp_key, fails_key, lock_key)

    async def _count_failure(self, otp_key: str, fails_key: str, lock_key: str) -> CodeCheck:
        lockout = self._settings.lockout_s
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(fails_key)
            pipe.expire(fails_key, lockout, nx=True)
            fails, _ = await pipe.execute()
        left = self._settings.max_failed_attempts - int(fails)
        if left > 0:
            return CodeCheck(Outcome.WRONG, attempts_left=left)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(lock_key, "1", ex=lockout)
            pipe.delete(otp_key, fails_key)
            await pipe.execute()
        return CodeCheck(Outcome.LOCKED, retry_after_s=lockout)
