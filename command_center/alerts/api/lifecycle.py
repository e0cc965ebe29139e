"""An alert's lifecycle: acknowledge, dismiss as false positive (reason required), resolve; its history.

Verdicts need ``alerts:act``; the history needs ``alerts:read``. District-scoped operators act only on
their districts' alerts (another district's answers 404). An illegal step answers 409 with the alert's
status and the statuses it can still move to. Every step is written to the audit trail with who,
when, from where and why, and announced on the live feed at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from fastapi.concurrency import run_in_threadpool

from command_center.alerts.api.alerts import AlertId, AlertReader, visible_alert
from command_center.alerts.lifecycle import AlertNotFound, IllegalTransition, Step, allowed_next
from command_center.alerts.lifecycle_events import alert_target
from command_center.alerts.store import AlertStore
from command_center.alerts.views import AlertView
from command_center.api.deps import AlertStoreDep
from command_center.dispatch.api.dispatch_deps import AlertActor, DispatchDep, DispatcherDep, actor_of
from command_center.dispatch.api.dispatch_views import (
    DispatchView,
    LifecycleView,
    NoteBody,
    OptionalReasonBody,
    ReasonBody,
    StepView,
    TransitionView,
)
from command_center.dispatch.dispatcher import Dispatcher
from command_center.security.api.auditing import Auditor, AuditorDep
from command_center.security.principal import Principal

router = APIRouter(tags=["alert lifecycle"])

ILLEGAL: dict[int | str, dict[str, Any]] = {
    409: {"description": "Not allowed from the alert's status; the detail lists what is"}
}


def illegal(exc: IllegalTransition) -> HTTPException:
    return HTTPException(409, exc.as_detail())


async def take_step(
    dispatcher: Dispatcher,
    store: AlertStore,
    auditor: Auditor,
    alert_id: int,
    action: str,
    reason: str | None,
) -> StepView:
    try:
        step = await dispatcher.transition(alert_id, action, actor_of(auditor.principal), reason)
    except IllegalTransition as exc:
        raise illegal(exc) from None
    except AlertNotFound:
        raise HTTPException(404, f"no alert {alert_id}") from None
    await auditor.record(f"alerts.{action}", alert_target(alert_id), reason=reason, details=_details(step))
    alert = await run_in_threadpool(store.get_alert, alert_id)
    assert alert is not None
    closed = DispatchView.of(step.closed) if step.closed else None
    return StepView(alert=AlertView.of(alert), transition=TransitionView.of(step.transition), dispatch=closed)


def _details(step: Step) -> dict[str, Any]:
    details: dict[str, Any] = {"from": step.transition.from_status, "to": step.transition.to_status}
    if step.closed is not None:
        details.update(unit=step.closed.unit_id, dispatch=step.closed.id)
    return details


async def _visible(store: AlertStore, alert_id: int, principal: Principal) -> None:
    await visible_alert(store, alert_id, principal)


@router.post("/alerts/{alert_id}/acknowledge", response_model=StepView, responses=ILLEGAL)
async def acknowledge(
    alert_id: AlertId,
    principal: AlertActor,
    auditor: AuditorDep,
    store: AlertStoreDep,
    dispatcher: DispatcherDep,
    body: Annotated[NoteBody | None, Body()] = None,
) -> StepView:
    """An operator has seen the alert and takes it on (new → acknowledged); stops its escalation."""
    await _visible(store, alert_id, principal)
    note = body.note if body else None
    return await take_step(dispatcher, store, auditor, alert_id, "acknowledge", note)


@router.post("/alerts/{alert_id}/dismiss", response_model=StepView, responses=ILLEGAL)
async def dismiss(
    alert_id: AlertId,
    principal: AlertActor,
    auditor: AuditorDep,
    store: AlertStoreDep,
    dispatcher: DispatcherDep,
    body: ReasonBody,
) -> StepView:
    """Verdict: false positive (the reason is required); a unit on its way is stood down."""
    await _visible(store, alert_id, principal)
    return await take_step(dispatcher, store, auditor, alert_id, "dismiss", body.reason)


@router.post("/alerts/{alert_id}/resolve", response_model=StepView, responses=ILLEGAL)
async def resolve(
    alert_id: AlertId,
    principal: AlertActor,
    auditor: AuditorDep,
    store: AlertStoreDep,
    dispatcher: DispatcherDep,
    body: Annotated[OptionalReasonBody | None, Body()] = None,
) -> StepView:
    """Verdict: confirmed and dealt with (from dispatched or on_scene), e.g. on the unit's radio report."""
    await _visible(store, alert_id, principal)
    reason = body.reason if body else None
    return await take_step(dispatcher, store, auditor, alert_id, "resolve", reason)


@router.get("/alerts/{alert_id}/lifecycle", response_model=LifecycleView)
async def lifecycle(
    alert_id: AlertId, principal: AlertReader, store: AlertStoreDep, dispatch: DispatchDep
) -> LifecycleView:
    """Status, what it can move to, every step (who, role, when, why, which unit) and every dispatch."""
    alert = await visible_alert(store, alert_id, principal)
    transitions = await run_in_threadpool(dispatch.lifecycle.history, alert_id)
    dispatches = await run_in_threadpool(dispatch.dispatches.of_alert, alert_id)
    escalated = await run_in_threadpool(dispatch.lifecycle.escalated_at, alert_id)
    return LifecycleView(
        alert_id=alert_id,
        status=alert.status,
        allowed_next=allowed_next(alert.status),
        escalated_at=escalated,
        transitions=[TransitionView.of(t) for t in transitions],
        dispatches=[DispatchView.of(d) for d in dispatches],
    )
