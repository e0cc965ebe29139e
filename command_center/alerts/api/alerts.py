"""Alerts: the list, one alert, its evidence images, and the live WebSocket feed.

All need ``alerts:read``, but the supervisors' queue ``GET /alerts/escalations`` (``alerts:escalations``).
District-scoped roles (operators, patrol officers) see only alerts of cameras in their districts; another
district's alert answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from command_center.alerts.api.escalation_views import EscalationPage, EscalationView
from command_center.alerts.store import Alert, AlertStore, EvidenceKind
from command_center.alerts.views import AlertPage, AlertView, HitView
from command_center.api.deps import (
    WS_SUBPROTOCOL,
    AlertStoreDep,
    FeedDep,
    ServicesDep,
    SettingsDep,
    WebSocketRefused,
    authenticate_websocket,
    require,
)
from command_center.dispatch.api.dispatch_deps import DispatchDep
from command_center.records.person_alerts import person_alerts
from command_center.records.types import PersonNotFoundError
from command_center.security.permissions import DISTRICT_SCOPED_ROLES, Permission
from command_center.security.principal import Principal
from command_center.security.users import DISTRICT_PATTERN
from command_center.services import Services
from pipeline.kinds import AlertKind
from pipeline.settings import CAMERA_ID_PATTERN

router = APIRouter(tags=["alerts"])

MAX_PAGE = 200
MAX_ID = 2**31 - 1  # the id columns are 32-bit integers

AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="Alert id")]
AlertReader = Annotated[Principal, require(Permission.ALERTS_READ)]


MAX_PERSON_ID = 2**31 - 1  # the records' ids are INTEGER columns
SubjectQuery = Query(
    pattern=r"^person:[1-9][0-9]{0,9}$", description="person:<id>: the alerts about that CRO person"
)


async def _about_person(services: Services, person_id: int, limit: int, **filters: Any) -> list[Alert]:
    records = services.records
    try:
        return await run_in_threadpool(
            person_alerts, services.engine, records.persons, services.alerts, person_id, limit, **filters
        )
    except PersonNotFoundError:
        raise HTTPException(404, f"no person {person_id}") from None


def district_scope(principal: Principal) -> frozenset[str] | None:
    """The districts this principal is limited to, or None when it sees every district."""
    return principal.districts if principal.role in DISTRICT_SCOPED_ROLES else None


async def visible_alert(store: AlertStore, alert_id: int, principal: Principal) -> Alert:
    alert = await run_in_threadpool(store.get_alert, alert_id)
    if alert is None or not principal.sees_district(alert.district):
        raise HTTPException(404, f"no alert {alert_id}")
    return alert


@router.get("/alerts", response_model=AlertPage)
async def list_alerts(
    store: AlertStoreDep,
    services: ServicesDep,
    principal: AlertReader,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page back from this id")] = None,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,16}$")] = None,
    kind: Annotated[AlertKind | None, Query(description="One kind of alert only")] = None,
    subject: Annotated[str | None, SubjectQuery] = None,
) -> AlertPage:
    """Newest first. ``subject=person:<id>``: only the alerts about that CRO person (face alerts of their
    watchlist profile, plate alerts of their known vehicles, their check-in and fusion alerts)."""
    scope = district_scope(principal)
    if subject is not None:
        person_id = int(subject.removeprefix("person:"))
        if person_id > MAX_PERSON_ID:
            raise HTTPException(422, f"subject: person ids go up to {MAX_PERSON_ID}")
        filters = {"before_id": before_id, "camera_id": camera_id, "status": status, "kind": kind}
        found = await _about_person(services, person_id, limit, districts=scope, **filters)
    else:
        found = await run_in_threadpool(store.list_alerts, limit, before_id, camera_id, status, scope, kind)
    views = [AlertView.of(alert) for alert in found]
    next_before = views[-1].id if len(views) == limit else None
    return AlertPage(alerts=views, next_before_id=next_before)


@router.get("/alerts/escalations", response_model=EscalationPage)
async def list_escalations(
    dispatch: DispatchDep,
    settings: SettingsDep,
    principal: Annotated[Principal, require(Permission.ALERTS_ESCALATIONS)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    priority: Annotated[int | None, Query(ge=1, le=5, description="One priority only")] = None,
    district: Annotated[str | None, Query(pattern=DISTRICT_PATTERN, description="One district only")] = None,
) -> EscalationPage:
    """Escalated alerts still unacknowledged, for supervisors: what operators left waiting too long.

    Stored, not only announced, so a supervisor who was not connected when an alert escalated finds it
    here; acknowledging (or dismissing, dispatching) the alert takes it off the list. (Declared before
    ``/alerts/{alert_id}`` so that the path is not read as an alert id.)
    """
    scope = district_scope(principal)
    if district is not None:
        scope = frozenset({district}) if scope is None or district in scope else frozenset()
    found = await run_in_threadpool(dispatch.lifecycle.escalations, scope, priority=priority, limit=limit)
    now = datetime.now(UTC)
    return EscalationPage(escalations=[EscalationView.of(e, now, settings.dispatch) for e in found])


@router.get("/alerts/{alert_id}", response_model=AlertView)
async def get_alert(alert_id: AlertId, store: AlertStoreDep, principal: AlertReader) -> AlertView:
    return AlertView.of(await visible_alert(store, alert_id, principal))


@router.get("/alerts/{alert_id}/hits", response_model=list[HitView])
async def get_alert_hits(
    alert_id: AlertId,
    store: AlertStoreDep,
    principal: AlertReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[HitView]:
    """The episode timeline: every sighting merged into this alert, oldest first."""
    await visible_alert(store, alert_id, principal)
    hits = await run_in_threadpool(store.list_hits, alert_id, limit)
    return [HitView.of(hit) for hit in hits]


@router.get(
    "/alerts/{alert_id}/evidence/{kind}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def get_evidence(
    alert_id: AlertId, kind: EvidenceKind, store: AlertStoreDep, principal: AlertReader
) -> Response:
    await visible_alert(store, alert_id, principal)
    jpeg = await run_in_threadpool(store.evidence, alert_id, kind)
    if jpeg is None:
        raise HTTPException(404, f"no {kind} evidence for alert {alert_id}")
    # The best evidence can be replaced while the episode goes on: revalidate each time.
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-cache"})


@router.websocket("/ws/alerts")
async def alert_feed(websocket: WebSocket, feed: FeedDep) -> None:
    """Every AlertEvent (created and updated) the caller may see, as JSON text, as it happens.

    Authenticate by offering the subprotocols ``bearer, <access token>``; refusals close with 4401
    (no or bad token) or 4403 (no ``alerts:read``). The socket closes with 4401 when the token expires,
    at logout, and when the account is disabled or its role or districts change.
    """
    offered = websocket.scope.get("subprotocols") or []
    # Echo "bearer" when offered, so that browsers accept the handshake before a refusal is sent.
    await websocket.accept(subprotocol=WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None)
    try:
        credentials = await authenticate_websocket(websocket, Permission.ALERTS_READ)
    except WebSocketRefused as refused:
        await websocket.close(code=refused.code, reason=refused.reason[:120])
        return
    principal = credentials.principal
    await feed.serve(
        websocket,
        sees=principal.sees_district,
        until=credentials.until,
        user_id=principal.id if principal.kind == "staff" else None,
        session_id=principal.session_id,
        still_valid=credentials.still_valid,
        recheck_s=websocket.app.state.services.settings.command_center.ws_recheck_s,
    )
