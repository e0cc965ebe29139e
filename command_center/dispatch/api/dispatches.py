"""Dispatch: nearest-unit suggestions and sending a unit (operators); the officers' side of a dispatch.

Operators (``dispatch``) see suggestions only among units of districts they see, and send only those.
Officers (``patrol:report``) act only on their own unit's dispatches (others answer 404), over HTTP or
over their WebSocket ``/ws/officer``, which also delivers their notices (see officer_channel.py).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, WebSocket
from fastapi.concurrency import run_in_threadpool

from command_center.alerts.api.alerts import AlertId, visible_alert
from command_center.alerts.api.lifecycle import ILLEGAL, illegal
from command_center.alerts.lifecycle import AlertNotFound, IllegalTransition
from command_center.alerts.lifecycle_events import alert_target
from command_center.alerts.views import AlertView
from command_center.api.deps import (
    WS_SUBPROTOCOL,
    AlertStoreDep,
    SettingsDep,
    WebSocketRefused,
    authenticate_websocket,
)
from command_center.dispatch.api.dispatch_deps import (
    DispatchActor,
    DispatchDep,
    DispatcherDep,
    PatrolDep,
    PatrolOfficer,
    actor_of,
    own_unit,
    visible_unit,
)
from command_center.dispatch.api.dispatch_views import (
    DispatchBody,
    DispatchView,
    OfficerHome,
    OptionalReasonBody,
    ReasonBody,
    StepView,
    SuggestionsView,
    SuggestionView,
    TransitionView,
    UnitView,
)
from command_center.dispatch.dispatcher import NoCameraPosition
from command_center.dispatch.officer_channel import OfficerSession, browser_json
from command_center.dispatch.services import DispatchServices
from command_center.dispatch.store import DispatchClosed, DispatchNotFound, UnitUnavailable
from command_center.security.api.auditing import Auditor, AuditorDep
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from command_center.services import Services
from pipeline.contracts import DispatchNotice

router = APIRouter(tags=["dispatch"])

MAX_ID = 2**31 - 1
DispatchId = Annotated[int, Path(ge=1, le=MAX_ID, description="Dispatch id")]
OFFICER_STEPS = ("ack", "on_scene", "resolve", "dismiss")


@router.get("/alerts/{alert_id}/dispatch/suggestions", response_model=SuggestionsView)
async def suggestions(
    alert_id: AlertId,
    principal: DispatchActor,
    store: AlertStoreDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, le=50)] = None,
) -> SuggestionsView:
    """Available units nearest to the alert's camera (straight-line distance, simple ETA), nearest first."""
    alert = await visible_alert(store, alert_id, principal)
    try:
        found = await dispatcher.suggest(alert, principal.sees_district, limit=limit)
    except NoCameraPosition as exc:
        raise HTTPException(409, str(exc)) from None
    latitude, longitude = dispatcher.origin(alert)
    return SuggestionsView(
        alert_id=alert_id,
        camera_id=alert.camera_id,
        latitude=latitude,
        longitude=longitude,
        radius_m=settings.dispatch.search_radius_m,
        units=[SuggestionView.of(s) for s in found],
    )


@router.post("/alerts/{alert_id}/dispatch", status_code=201, response_model=StepView, responses=ILLEGAL)
async def send_unit(
    alert_id: AlertId,
    body: DispatchBody,
    principal: DispatchActor,
    auditor: AuditorDep,
    store: AlertStoreDep,
    dispatcher: DispatcherDep,
    patrol: PatrolDep,
) -> StepView:
    """Send an available unit (its officers are notified); a unit already on the alert is stood down."""
    alert = await visible_alert(store, alert_id, principal)
    await visible_unit(patrol, body.unit_id, principal)
    try:
        sent = await dispatcher.send(alert, body.unit_id, actor_of(principal), body.note)
    except IllegalTransition as exc:
        raise illegal(exc) from None
    except UnitUnavailable as exc:
        raise HTTPException(409, str(exc)) from None
    except AlertNotFound:
        raise HTTPException(404, f"no alert {alert_id}") from None
    details = {
        "unit": body.unit_id,
        "dispatch": sent.dispatch.id,
        "attempt": sent.dispatch.attempt,
        "distance_m": sent.dispatch.distance_m,
        "stood_down": sent.superseded.unit_id if sent.superseded else None,
    }
    await auditor.record("alerts.dispatch", alert_target(alert_id), reason=body.note, details=details)
    after = await run_in_threadpool(store.get_alert, alert_id)
    assert after is not None
    return StepView(
        alert=AlertView.of(after),
        transition=TransitionView.of(sent.transition),
        dispatch=DispatchView.of(sent.dispatch),
    )


# -- the officer's side --------------------------------------------------------------------------------


@router.get("/dispatches/mine", response_model=OfficerHome)
async def my_dispatches(principal: PatrolOfficer, dispatch: DispatchDep) -> OfficerHome:
    """The caller's unit (with its last position) and its open dispatches, newest first."""
    unit = await run_in_threadpool(dispatch.patrol.unit_of, principal.id)
    if unit is None:
        return OfficerHome(unit=None, dispatches=[])
    found = await run_in_threadpool(dispatch.dispatches.of_unit, unit.id)
    positions = await dispatch.positions.positions([unit.id], time.time())
    return OfficerHome(
        unit=UnitView.of(unit, positions.get(unit.id)), dispatches=[DispatchView.of(d) for d in found]
    )


async def officer_step(
    dispatch: DispatchServices, auditor: Auditor, dispatch_id: int, step: str, reason: str | None
) -> DispatchView:
    """One officer step, shared by the HTTP routes and the WebSocket; HTTPException when refused."""
    unit = await own_unit(dispatch.patrol, auditor.principal)
    try:
        reported = await dispatch.dispatcher.report(
            dispatch_id, unit.id, step, actor_of(auditor.principal), reason
        )
    except DispatchNotFound:
        raise HTTPException(404, f"no dispatch {dispatch_id} for your unit") from None
    except DispatchClosed as exc:
        raise HTTPException(409, str(exc)) from None
    except IllegalTransition as exc:
        raise illegal(exc) from None
    if reported.transition is not None:
        await auditor.record(
            f"dispatch.{step}",
            alert_target(reported.dispatch.alert_id),
            reason=reason,
            details={"unit": unit.id, "dispatch": dispatch_id, "to": reported.transition.to_status},
        )
    return DispatchView.of(reported.dispatch)


@router.post("/dispatches/{dispatch_id}/ack", response_model=DispatchView, responses=ILLEGAL)
async def acknowledge_dispatch(
    dispatch_id: DispatchId, _: PatrolOfficer, auditor: AuditorDep, dispatch: DispatchDep
) -> DispatchView:
    """The unit is on its way (stops the acknowledgement clock). Repeating it changes nothing."""
    return await officer_step(dispatch, auditor, dispatch_id, "ack", None)


@router.post("/dispatches/{dispatch_id}/on-scene", response_model=DispatchView, responses=ILLEGAL)
async def on_scene(
    dispatch_id: DispatchId, _: PatrolOfficer, auditor: AuditorDep, dispatch: DispatchDep
) -> DispatchView:
    """The unit has arrived (acknowledges the dispatch too, if that was skipped)."""
    return await officer_step(dispatch, auditor, dispatch_id, "on_scene", None)


@router.post("/dispatches/{dispatch_id}/resolve", response_model=DispatchView, responses=ILLEGAL)
async def resolve_dispatch(
    dispatch_id: DispatchId,
    _: PatrolOfficer,
    auditor: AuditorDep,
    dispatch: DispatchDep,
    body: Annotated[OptionalReasonBody | None, Body()] = None,
) -> DispatchView:
    """Verdict from the scene: confirmed and dealt with. The unit is available again."""
    return await officer_step(dispatch, auditor, dispatch_id, "resolve", body.reason if body else None)


@router.post("/dispatches/{dispatch_id}/dismiss", response_model=DispatchView, responses=ILLEGAL)
async def dismiss_dispatch(
    dispatch_id: DispatchId, body: ReasonBody, _: PatrolOfficer, auditor: AuditorDep, dispatch: DispatchDep
) -> DispatchView:
    """Verdict from the scene: false positive (not the person or vehicle); the reason is required."""
    return await officer_step(dispatch, auditor, dispatch_id, "dismiss", body.reason)


@router.websocket("/ws/officer")
async def officer_channel(websocket: WebSocket) -> None:
    """The officer's notices, as JSON text ``{"type", "seq", "notice", ...}``, from their own channels only
    (named by the signed-in account's government ID):

    * ``dispatch`` | ``cancelled`` (with ``status``): their unit is sent to an alert, or stood down;
    * ``person_notice``: a person they follow was seen by a camera, checked in, or was arrested;
    * ``bulletin``: news to every officer (an arrest with its photo, a missing person, a body);
    * ``casework``: someone in their case was arrested elsewhere; a missing person and a body may match.

    Authenticate like /ws/alerts (subprotocols ``bearer, <access token>``; needs ``patrol:report``).
    Confirm each notice with ``{"type": "received", "seq": n}``, or it comes again (and on the next
    connection). Act with ``{"type": "ack"|"on_scene"|"resolve"|"dismiss", "dispatch_id": n, "reason"}``;
    the answer is ``{"type": "result", ...}`` or ``{"type": "error", "status", "detail"}``.
    """
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None)
    try:
        credentials = await authenticate_websocket(websocket, Permission.PATROL_REPORT)
    except WebSocketRefused as refused:
        await websocket.close(code=refused.code, reason=refused.reason[:120])
        return
    services: Services = websocket.app.state.services
    principal = credentials.principal
    user = await run_in_threadpool(services.auth.users.get, principal.id)
    if user is None:
        await websocket.close(code=4401, reason="account not found")
        return
    auditor = Auditor(services.audit, principal, client_ip_of(websocket))
    session = OfficerSession(
        officer_key=user.government_id,
        user_id=principal.id,
        session_id=principal.session_id,
        until=credentials.until,
        still_valid=credentials.still_valid,
        recheck_s=services.settings.command_center.ws_recheck_s,
    )

    async def describe(notice: DispatchNotice) -> dict[str, Any]:
        current = await run_in_threadpool(services.dispatch.dispatches.get, notice.dispatch_id)
        status = current.status if current is not None else None
        return {"status": status, "notice": browser_json(notice)}

    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        return await _ws_request(services.dispatch, auditor, principal, request)

    feeds = [
        services.dispatch.channels.feed(user.government_id, describe),
        services.records.notifier.feed(user.government_id),
        *services.casework.bulletins.feeds(user),
    ]
    await services.dispatch.channels.serve(websocket, session, feeds, handle)


def client_ip_of(websocket: WebSocket) -> str | None:
    return websocket.client.host if websocket.client else None


async def _ws_request(
    dispatch: DispatchServices, auditor: Auditor, principal: Principal, request: dict[str, Any]
) -> dict[str, Any]:
    step = request.get("type")
    dispatch_id = request.get("dispatch_id")
    reason = request.get("reason")
    if step not in OFFICER_STEPS or not isinstance(dispatch_id, int) or not 1 <= dispatch_id <= MAX_ID:
        return {"type": "error", "status": 422, "detail": f"type one of {OFFICER_STEPS} with a dispatch_id"}
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        return {"type": "error", "status": 422, "detail": "reason: text of at most 500 characters"}
    if step == "dismiss" and (not isinstance(reason, str) or len(reason.strip()) < 5):
        return {"type": "error", "status": 422, "detail": "a false-positive verdict needs a reason"}
    try:
        view = await officer_step(dispatch, auditor, dispatch_id, str(step), reason)
    except HTTPException as exc:
        return {"type": "error", "status": exc.status_code, "detail": exc.detail}
    return {"type": "result", "step": step, "dispatch": view.model_dump(mode="json")}
