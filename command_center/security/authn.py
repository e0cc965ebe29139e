"""Staff authentication: government ID + registered mobile → one-time code by SMS → tokens.

``StaffAuth`` composes the account store (SQL), codes and lockouts (Redis), sessions (Redis), the token
issuer and the SMS gateway. Each request's principal is built from the account as it is *now* (role,
districts, active), so disabling an account or changing its role takes effect at once, not at token expiry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from command_center.security.otp import OtpStore, Outcome
from command_center.security.principal import Principal
from command_center.security.sessions import SessionStore
from command_center.security.sms import SmsError, SmsGateway
from command_center.security.tokens import AccessClaims, InvalidToken, TokenIssuer
from command_center.security.users import StaffUser, UserStore

log = logging.getLogger(__name__)


DEGRADED_WARNING_EVERY_S = 60.0


class Throttled(Exception):
    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Locked(Throttled):
    pass


class WrongCode(Exception):
    pass


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: StaffUser


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    claims: AccessClaims


class StaffAuth:
    def __init__(
        self,
        users: UserStore,
        otp: OtpStore,
        sessions: SessionStore,
        tokens: TokenIssuer,
        sms: SmsGateway,
        trust_without_sessions: bool = True,
    ) -> None:
        self.users = users
        self._otp = otp
        self._sessions = sessions
        self._tokens = tokens
        self._sms = sms
        self._trust_without_sessions = trust_without_sessions
        self.unchecked_sessions = 0  # requests let in while the session store was down
        self._warned_at = 0.0

    @property
    def code_ttl_s(self) -> int:
        return self._otp.ttl_s

    async def throttle_address(self, address: str | None) -> None:
        """Count a sign-in request from this address; Throttled when it made too many lately."""
        wait = await self._otp.throttle_address(address)
        if wait:
            raise Throttled(f"too many sign-in requests from this address; try again in {wait} s", wait)

    async def throttle_login(self, government_id: str, mobile: str) -> None:
        """Count a login request; Throttled when there were too many for this pair lately, Locked while
        the pair is locked (both hold for any pair, so they reveal nothing about accounts)."""
        locked = await self._otp.locked_for(government_id, mobile)
        if locked:
            raise Locked(
                f"this account is locked after repeated wrong codes; try again in {locked} s", locked
            )
        wait = await self._otp.throttle_login(government_id, mobile)
        if wait:
            raise Throttled(f"too many login requests for this account; try again in {wait} s", wait)

    async def unlock(self, government_id: str) -> int:
        """An administrator clears the locks and counts of a Government ID; how many were cleared."""
        return await self._otp.unlock(government_id)

    async def send_code(self, government_id: str, mobile: str) -> StaffUser | None:
        """Send a code when the pair names an active account (the caller answers the same either way)."""
        user = await asyncio.to_thread(self.users.by_government_id, government_id)
        if user is None or not user.active or user.mobile != mobile:
            return None
        code = await self._otp.issue(user.government_id, user.mobile)
        minutes = max(self._otp.ttl_s // 60, 1)
        text = f"safecity: your login code is {code}. It expires in {minutes} min. Never share it."
        try:
            await self._sms.send(user.mobile, text)
        except SmsError as exc:
            log.error("could not send a login code to account %s: %s", user.id, exc)
            return None
        return user

    async def verify(self, government_id: str, mobile: str, code: str) -> TokenPair:
        check = await self._otp.check(government_id, mobile, code)
        if check.outcome is Outcome.LOCKED:
            raise Locked(
                f"this account is locked after repeated wrong codes; try again in {check.retry_after_s} s",
                check.retry_after_s,
            )
        if check.outcome is Outcome.WRONG:
            raise WrongCode(f"wrong or expired code; {check.attempts_left} attempt(s) left before lockout")
        user = await asyncio.to_thread(self.users.by_government_id, government_id)
        if user is None or not user.active:
            raise WrongCode("wrong or expired code")
        return await self.open_session(user)

    async def open_session(self, user: StaffUser) -> TokenPair:
        session_id, refresh = await self._sessions.open(user.id)
        return self._pair(user, session_id, refresh)

    def _pair(self, user: StaffUser, session_id: str, refresh: str) -> TokenPair:
        access, _ = self._tokens.mint(user.id, user.role, user.districts, session_id)
        return TokenPair(access, refresh, self._tokens.ttl_s, user)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate; InvalidRefresh (or RefreshReuse, which also ends the session) when refused."""
        rotated = await self._sessions.rotate(refresh_token)
        user = await asyncio.to_thread(self.users.get, rotated.user_id)
        if user is None or not user.active:
            raise InvalidToken("this account is disabled")
        return self._pair(user, rotated.session_id, rotated.refresh_token)

    async def authenticate(self, token: str) -> Authenticated:
        """The principal behind an access token; InvalidToken with a reason otherwise."""
        claims = self._tokens.decode(token)
        if not await self._session_is_live(claims):
            raise InvalidToken("the session has ended (logged out or revoked)")
        user = await asyncio.to_thread(self.users.get, claims.user_id)
        if user is None or not user.active:
            raise InvalidToken("this account is disabled")
        principal = Principal(
            kind="staff",
            id=user.id,
            name=user.name,
            role=user.role,
            districts=frozenset(user.districts),
            session_id=claims.session_id,
        )
        return Authenticated(principal, claims)

    async def _session_is_live(self, claims: AccessClaims) -> bool:
        try:
            return await self._sessions.is_live(claims.session_id, claims.jti, claims.user_id)
        except (RedisError, OSError):
            if not self._trust_without_sessions:
                raise
        # Degraded: the token's signature and expiry were checked, and the account is checked in the
        # database next (disabled or changed accounts are still refused); only a logout made during the
        # outage goes unseen, for at most the token's remaining lifetime.
        self.unchecked_sessions += 1
        if time.monotonic() - self._warned_at > DEGRADED_WARNING_EVERY_S:
            self._warned_at = time.monotonic()
            log.warning(
                "session store (redis) unavailable: accepting unexpired tokens of active accounts "
                "without the logout check (%d so far)",
                self.unchecked_sessions,
            )
        return True

    async def logout(self, claims: AccessClaims) -> None:
        await self._sessions.revoke(claims.session_id, claims.jti, claims.expires_at)
