"""Access tokens: short-lived JWTs (HS256) naming the officer, role, districts, session and token id."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from command_center.security.permissions import Role

ALGORITHM = "HS256"
ISSUER = "safecity-command-center"
LEEWAY_S = 5  # clock skew tolerated between replicas


class InvalidToken(Exception):
    """The token cannot be used; the message is safe to show to the caller."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    role: Role
    districts: tuple[str, ...]
    session_id: str
    jti: str
    issued_at: int
    expires_at: int


class TokenIssuer:
    def __init__(self, secret: str, ttl_s: int) -> None:
        self._secret = secret
        self.ttl_s = ttl_s

    def mint(
        self, user_id: int, role: Role, districts: tuple[str, ...], session_id: str
    ) -> tuple[str, AccessClaims]:
        now = int(time.time())
        claims = AccessClaims(
            user_id=user_id,
            role=role,
            districts=districts,
            session_id=session_id,
            jti=secrets.token_urlsafe(16),
            issued_at=now,
            expires_at=now + self.ttl_s,
        )
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": str(user_id),
            "role": role.value,
            "districts": list(districts),
            "sid": session_id,
            "jti": claims.jti,
            "iat": now,
            "exp": claims.expires_at,
            "typ": "access",
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims

    def decode(self, token: str) -> AccessClaims:
        """Check signature, expiry, issuer and shape; InvalidToken otherwise."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # never "none", never a key-confused RS/HS switch
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "jti", "sid", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the access token has expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("the access token is not valid") from None
        return _claims(payload)


def _claims(payload: dict[str, Any]) -> AccessClaims:
    try:
        districts = payload.get("districts", [])
        if payload.get("typ") != "access" or not isinstance(districts, list):
            raise ValueError("not an access token")
        return AccessClaims(
            user_id=int(payload["sub"]),
            role=Role(payload["role"]),
            districts=tuple(str(d) for d in districts),
            session_id=str(payload["sid"]),
            jti=str(payload["jti"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
        )
    except (ValueError, TypeError, KeyError):
        raise InvalidToken("the access token is not valid") from None
