"""Alerts: the list, one alert, its evidence images, and the live WebSocket feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from command_center.api.deps import AlertStoreDep, FeedDep
from command_center.store import EvidenceKind
from command_center.views import AlertPage, AlertView, HitView
from pipeline.settings import CAMERA_ID_PATTERN

router = APIRouter(tags=["alerts"])

MAX_PAGE = 200
MAX_ID = 2**31 - 1  # the id columns are 32-bit integers

AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="Alert id")]


@router.get("/alerts", response_model=AlertPage)
async def list_alerts(
    store: AlertStoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page back from this id")] = None,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,16}$")] = None,
) -> AlertPage:
    found = await run_in_threadpool(store.list_alerts, limit, before_id, camera_id, status)
    views = [AlertView.of(alert) for alert in found]
    next_before = views[-1].id if len(views) == limit else None
    return AlertPage(alerts=views, next_before_id=next_before)


@router.get("/alerts/{alert_id}", response_model=AlertView)
async def get_alert(alert_id: AlertId, store: AlertStoreDep) -> AlertView:
    alert = await run_in_threadpool(store.get_alert, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return AlertView.of(alert)


@router.get("/alerts/{alert_id}/hits", response_model=list[HitView])
async def get_alert_hits(
    alert_id: AlertId,
    store: AlertStoreDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[HitView]:
    """The episode timeline: every sighting merged into this alert, oldest first."""
    if await run_in_threadpool(store.get_alert, alert_id) is None:
        raise HTTPException(404, f"no alert {alert_id}")
    hits = await run_in_threadpool(store.list_hits, alert_id, limit)
    return [HitView.of(hit) for hit in hits]


@router.get(
    "/alerts/{alert_id}/evidence/{kind}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def get_evidence(alert_id: AlertId, kind: EvidenceKind, store: AlertStoreDep) -> Response:
    jpeg = await run_in_threadpool(store.evidence, alert_id, kind)
    if jpeg is None:
        raise HTTPException(404, f"no {kind} evidence for alert {alert_id}")
    # The best evidence can be replaced while the episode goes on: revalidate each time.
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-cache"})


@router.websocket("/ws/alerts")
async def alert_feed(websocket: WebSocket, feed: FeedDep) -> None:
    """Every AlertEvent (created and updated) as JSON text, as it happens."""
    await feed.serve(websocket)
