"""Staff sign-in: government ID + registered mobile → one-time code by SMS → access and refresh tokens.

``POST /auth/login`` answers the same whether or not the pair names an account (no enumeration), and
sends the code after answering. ``POST /auth/verify`` exchanges the code for tokens; wrong codes lock the
ID for a while (423). ``POST /auth/refresh`` rotates the refresh token (a reused one ends the session);
``POST /auth/logout`` ends the session on every replica.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from command_center.api.deps import (
    WWW_AUTHENTICATE,
    AuditDep,
    AuthDep,
    CurrentPrincipal,
    CurrentSession,
    NatsDep,
    SubjectsDep,
)
from command_center.security.api.auditing import client_ip
from command_center.security.api.users import announce_revoked
from command_center.security.audit import AuditTrail
from command_center.security.authn import Locked, Throttled, TokenPair, WrongCode
from command_center.security.sessions import InvalidRefresh, RefreshReuse
from command_center.security.tokens import InvalidToken
from command_center.security.users import GOVERNMENT_ID_PATTERN, StaffUser, normalise_government_id
from pipeline.contracts import SessionRevoked
from pipeline.validators import Mobile

router = APIRouter(prefix="/auth", tags=["auth"])

GovernmentId = Annotated[
    str,
    AfterValidator(normalise_government_id),
    WithJsonSchema({"type": "string", "pattern": GOVERNMENT_ID_PATTERN, "examples": ["PK-ICT-00421"]}),
]
LOGIN_ANSWER = "If the government ID and mobile number match an active account, a code has been sent by SMS."


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginRequest(_Body):
    government_id: GovernmentId
    mobile: Mobile


class VerifyRequest(LoginRequest):
    code: str = Field(pattern=r"^[0-9]{6,10}$", description="The one-time code from the SMS")


class RefreshRequest(_Body):
    refresh_token: str = Field(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


class LoginAccepted(BaseModel):
    status: Literal["code_sent_if_registered"] = "code_sent_if_registered"
    detail: str = LOGIN_ANSWER
    code_expires_in: int


class UserView(BaseModel):
    id: int
    government_id: str
    name: str
    role: str
    districts: list[str]

    @classmethod
    def of(cls, user: StaffUser) -> UserView:
        return cls(
            id=user.id,
            government_id=user.government_id,
            name=user.name,
            role=user.role.value,
            districts=list(user.districts),
        )


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the scheme's name, not a secret)
    expires_in: int = Field(description="Seconds the access token stays valid")
    user: UserView

    @classmethod
    def of(cls, pair: TokenPair) -> Tokens:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            user=UserView.of(pair.user),
        )


class Me(BaseModel):
    kind: str
    id: int
    name: str
    role: str
    districts: list[str]
    permissions: list[str]
    hotel_id: int | None


def _too_many(exc: Throttled) -> HTTPException:
    status = 423 if isinstance(exc, Locked) else 429
    return HTTPException(status, str(exc), headers={"Retry-After": str(exc.retry_after_s)})


@router.post("/login", status_code=202, response_model=LoginAccepted)
async def login(
    body: LoginRequest, auth: AuthDep, background: BackgroundTasks, request: Request
) -> LoginAccepted:
    """Ask for a one-time code. The answer is the same whether or not the account exists."""
    try:
        await auth.throttle_address(client_ip(request))
        await auth.throttle_login(body.government_id, body.mobile)
    except Throttled as exc:
        raise _too_many(exc) from None
    # Sent after the answer, so that its timing does not tell whether an account matched either.
    background.add_task(auth.send_code, body.government_id, body.mobile)
    return LoginAccepted(code_expires_in=auth.code_ttl_s)


async def _audit(
    trail: AuditTrail,
    request: Request,
    actor: str,
    action: str,
    target: str,
    role: str | None = None,
    **details: str,
) -> None:
    await run_in_threadpool(
        trail.record, actor, action, target, details=details or None, ip=client_ip(request), role=role
    )


@router.post("/verify", response_model=Tokens)
async def verify(body: VerifyRequest, auth: AuthDep, trail: AuditDep, request: Request) -> Tokens:
    """Exchange the one-time code for an access token and a refresh token."""
    target = f"staff:{body.government_id}"
    try:
        await auth.throttle_address(client_ip(request))
        pair = await auth.verify(body.government_id, body.mobile, body.code)
    except (Throttled, WrongCode) as exc:
        await _audit(
            trail, request, f"anonymous:{body.government_id}", "auth.login_failed", target, why=str(exc)
        )
        if isinstance(exc, Throttled):
            raise _too_many(exc) from None
        raise HTTPException(401, str(exc), headers=WWW_AUTHENTICATE) from None
    actor = f"staff:{pair.user.id}:{pair.user.name}"
    await _audit(trail, request, actor, "auth.login", target, role=pair.user.role.value)
    return Tokens.of(pair)


@router.post("/refresh", response_model=Tokens)
async def refresh(body: RefreshRequest, auth: AuthDep, trail: AuditDep, request: Request) -> Tokens:
    """A new access token and a new refresh token; the one presented cannot be used again."""
    try:
        pair = await auth.refresh(body.refresh_token)
    except (InvalidRefresh, InvalidToken) as exc:
        if isinstance(exc, RefreshReuse):
            session = body.refresh_token.partition(".")[0]
            await _audit(
                trail, request, "anonymous", "auth.refresh_reused", f"session:{session}", why=str(exc)
            )
        raise HTTPException(401, str(exc), headers=WWW_AUTHENTICATE) from None
    return Tokens.of(pair)


@router.post("/logout", status_code=204)
async def logout(
    session: CurrentSession,
    auth: AuthDep,
    trail: AuditDep,
    nc: NatsDep,
    names: SubjectsDep,
    request: Request,
) -> None:
    """End this session: its tokens are refused from now on and its WebSockets closed, on every replica."""
    await auth.logout(session.claims)
    revoked = SessionRevoked(
        user_id=session.principal.id, session_id=session.claims.session_id, reason="logout"
    )
    await announce_revoked(nc, names, revoked)
    principal = session.principal
    target = f"session:{session.claims.session_id}"
    await _audit(trail, request, principal.actor, "auth.logout", target, role=principal.role.value)


@router.get("/me", response_model=Me)
async def me(principal: CurrentPrincipal) -> Me:
    return Me(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role.value,
        districts=sorted(principal.districts),
        permissions=[p.value for p in principal.permissions],
        hotel_id=principal.hotel_id,
    )
