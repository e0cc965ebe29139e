"""FastAPI dependencies as ``Annotated`` aliases. Everything comes from ``app.state.services``.

Access: ``CurrentPrincipal`` is whoever called (staff: ``Authorization: Bearer <access token>``;
integrations: ``X-API-Key``), 401 otherwise. ``require(Permission.X, ...)`` adds the authorisation
check (403 naming the missing permission), usable as ``dependencies=[require(...)]`` or as
``principal: Annotated[Principal, require(...)]``. WebSockets use ``authenticate_websocket``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.params import Depends as DependsParam
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from nats.aio.client import Client as NATS
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from command_center.admin.enrolment import EnrolmentService
from command_center.alerts.consumer import HitConsumer
from command_center.alerts.feed import AlertFeed
from command_center.alerts.store import AlertStore
from command_center.security.apikeys import ApiKeyStore
from command_center.security.audit import AuditTrail
from command_center.security.authn import Authenticated, StaffAuth
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from command_center.security.tokens import InvalidToken
from command_center.services import Services
from pipeline.settings import Settings
from pipeline.subjects import Subjects
from watchlist.store import WatchlistStore


def get_services(conn: HTTPConnection) -> Services:
    services: Services = conn.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_alert_store(services: ServicesDep) -> AlertStore:
    return services.alerts


def get_watchlist_store(services: ServicesDep) -> WatchlistStore:
    return services.watchlist


def get_feed(services: ServicesDep) -> AlertFeed:
    return services.feed


def get_nats(services: ServicesDep) -> NATS:
    return services.nats


def get_subjects(services: ServicesDep) -> Subjects:
    return services.settings.nats.subjects


def get_consumer(services: ServicesDep) -> HitConsumer:
    return services.consumer


def get_enrolment(services: ServicesDep) -> EnrolmentService:
    return services.enrolment


SettingsDep = Annotated[Settings, Depends(get_settings)]
AlertStoreDep = Annotated[AlertStore, Depends(get_alert_store)]
WatchlistStoreDep = Annotated[WatchlistStore, Depends(get_watchlist_store)]
FeedDep = Annotated[AlertFeed, Depends(get_feed)]
NatsDep = Annotated[NATS, Depends(get_nats)]
SubjectsDep = Annotated[Subjects, Depends(get_subjects)]  # this deployment's NATS names
ConsumerDep = Annotated[HitConsumer, Depends(get_consumer)]
EnrolmentDep = Annotated[EnrolmentService, Depends(get_enrolment)]


def get_apikeys(services: ServicesDep) -> ApiKeyStore:
    return services.apikeys


ApiKeyStoreDep = Annotated[ApiKeyStore, Depends(get_apikeys)]


def get_auth(services: ServicesDep) -> StaffAuth:
    return services.auth


AuthDep = Annotated[StaffAuth, Depends(get_auth)]


def get_audit(services: ServicesDep) -> AuditTrail:
    return services.audit


AuditDep = Annotated[AuditTrail, Depends(get_audit)]

# -- who is calling ----------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="A staff access token from POST /auth/verify")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An integration (hotel) key")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ApiKeyDep = Annotated[str | None, Depends(_api_key)]

WWW_AUTHENTICATE = {"WWW-Authenticate": "Bearer"}


def unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers=WWW_AUTHENTICATE)


async def _bearer_session(conn: HTTPConnection, auth: StaffAuth, bearer: BearerDep) -> Authenticated:
    if bearer is None:
        raise unauthorized("sign in: send Authorization: Bearer <access token>")
    try:
        session = await auth.authenticate(bearer.credentials)
    except InvalidToken as exc:
        raise unauthorized(str(exc)) from None
    conn.state.principal = session.principal
    conn.state.session = session
    return session


async def current_principal(
    conn: HTTPConnection, services: ServicesDep, bearer: BearerDep, api_key: ApiKeyDep
) -> Principal:
    if bearer is not None and api_key is not None:
        raise unauthorized("send either a bearer token or an API key, not both")
    if api_key is not None:
        principal = await integration_principal(services, api_key)
        conn.state.principal = principal
        return principal
    session = await _bearer_session(conn, services.auth, bearer)
    return session.principal


async def key_principal(services: Services, raw_key: str) -> Principal | None:
    """Whom an API key stands for (None: unknown, revoked or expired); no thread hop while it is cached."""
    principal = services.apikeys.verify_cached(raw_key)
    if principal is None:
        principal = await run_in_threadpool(services.apikeys.verify, raw_key)
    return principal


async def integration_principal(services: Services, raw_key: str) -> Principal:
    principal = await key_principal(services, raw_key)
    if principal is None:
        raise unauthorized("the API key is not valid (unknown, revoked or expired)")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_session(conn: HTTPConnection, principal: CurrentPrincipal) -> Authenticated:
    """A staff member's session (to log out of); 403 for an integration key, which has none."""
    if principal.kind != "staff":
        raise HTTPException(
            403, "not allowed: only a staff session can be ended; API keys are revoked by an admin"
        )
    session: Authenticated = conn.state.session
    return session


CurrentSession = Annotated[Authenticated, Depends(current_session)]


def forbidden(principal: Principal, missing: list[Permission]) -> HTTPException:
    needed = ", ".join(p.value for p in missing)
    return HTTPException(
        403, f"not allowed: this needs the permission {needed} (your role: {principal.role})"
    )


def require(*permissions: Permission) -> Any:
    """A dependency that lets through only principals holding every one of ``permissions``."""

    async def check(principal: CurrentPrincipal) -> Principal:
        missing = [p for p in permissions if not principal.can(p)]
        if missing:
            raise forbidden(principal, missing)
        return principal

    dependency: DependsParam = Depends(check)
    return dependency


# -- WebSockets ----------------------------------------------------------------------------------------

WS_SUBPROTOCOL = "bearer"
WS_UNAUTHORIZED = 4401  # private-use close codes mirroring HTTP 401 / 403
WS_FORBIDDEN = 4403


class WebSocketRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class WebSocketCredentials:
    """Who opened a WebSocket, until when, and how to ask again whether that still holds."""

    principal: Principal
    until: float | None  # epoch seconds when the token expires; None for API keys
    still_valid: Callable[[], Awaitable[bool]]


async def authenticate_websocket(websocket: WebSocket, *permissions: Permission) -> WebSocketCredentials:
    """The credentials of a WebSocket, or WebSocketRefused with a 44xx code.

    Browsers offer the subprotocols ``["bearer", <access token>]`` (never a token in the URL, which
    ends up in logs); integrations may send ``X-API-Key``.
    """
    services: Services = websocket.app.state.services
    credentials = await _websocket_credentials(websocket, services)
    missing = [p for p in permissions if not credentials.principal.can(p)]
    if missing:
        raise WebSocketRefused(WS_FORBIDDEN, forbidden(credentials.principal, missing).detail)
    return credentials


async def _websocket_credentials(websocket: WebSocket, services: Services) -> WebSocketCredentials:
    api_key = websocket.headers.get("x-api-key")
    if api_key is not None:
        try:
            principal = await integration_principal(services, api_key)
        except HTTPException as exc:
            raise WebSocketRefused(WS_UNAUTHORIZED, exc.detail) from None

        async def key_still_valid() -> bool:
            again = await run_in_threadpool(services.apikeys.verify, api_key)
            return again == principal

        return WebSocketCredentials(principal, None, key_still_valid)
    offered = list(websocket.scope.get("subprotocols") or [])
    if len(offered) != 2 or offered[0] != WS_SUBPROTOCOL:
        raise WebSocketRefused(WS_UNAUTHORIZED, "offer the subprotocols: bearer, <access token>")
    token = offered[1]
    try:
        session = await services.auth.authenticate(token)
    except InvalidToken as exc:
        raise WebSocketRefused(WS_UNAUTHORIZED, str(exc)) from None

    async def token_still_valid() -> bool:
        # Same account, same role and districts: a change of rights means signing in again.
        try:
            again = await services.auth.authenticate(token)
        except InvalidToken:
            return False
        return again.principal == session.principal

    return WebSocketCredentials(session.principal, float(session.claims.expires_at), token_still_valid)
