"""Composition root of the command centre: ``create_app(settings)`` wires stores, NATS and routers.

Nothing happens at import time. The lifespan opens everything in order (database → NATS → live feed
→ hit consumer) on one AsyncExitStack, so shutdown closes it in reverse: stop consuming (the batch in
hand is acked), stop the feed, drain NATS, dispose of the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from nats.aio.client import Client as NATS
from nats.js.api import DeliverPolicy
from redis.exceptions import RedisError
from sqlalchemy import Engine

from command_center.api import (
    alert_stats,
    alerts,
    arrests,
    audit,
    auth,
    cameras,
    checkins,
    console,
    crimes,
    dispatches,
    face_search,
    health,
    integrations,
    lifecycle,
    missing,
    observability,
    patrol,
    persons,
    plate_reads,
    stats,
    users,
    vehicles,
    watch_lists,
    watchlist,
)
from command_center.api.console import STATIC_DIR
from command_center.audit import AuditTrail
from command_center.audit_anchor import Anchors, start_anchoring
from command_center.camera_directory import CameraDirectory
from command_center.camera_health import CameraHealthBoard
from command_center.consumer import HitConsumer
from command_center.dispatch_services import start_dispatch
from command_center.enrolment import EnrolmentService
from command_center.feed import AlertFeed
from command_center.headers import SecurityHeadersMiddleware
from command_center.observability import CommandCenterMetrics, MeteredAlertStore, Watchdog
from command_center.plate_reads import PlateReadConsumer
from command_center.records.casework import start_casework
from command_center.records.services import start_records
from command_center.request_guard import NulGuardMiddleware
from command_center.retention import Purger, start_purges
from command_center.security.apikeys import ApiKeyStore
from command_center.security.wiring import start_auth
from command_center.services import Services
from command_center.watch_lists import WatchListService
from pipeline import bus
from pipeline.database import make_engine
from pipeline.settings import Settings
from watchlist.lists import WatchLists
from watchlist.store import WatchlistStore
from watchlist.vehicles import VehicleHotlist

log = logging.getLogger(__name__)

NATS_WAIT_S = 30.0
NATS_DRAIN_TIMEOUT_S = 5.0


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    hits_deliver_policy: DeliverPolicy | None = None,
    nats_wait_s: float = NATS_WAIT_S,
) -> FastAPI:
    """The command-centre app.

    ``engine``: use this database engine (the caller disposes of it) instead of making one.
    ``hits_deliver_policy``: where a *newly created* hit consumer starts; ALL replays the stream
    (production: no hit is lost before the first start), NEW suits tests on a shared NATS server.
    Defaults to ``settings.command_center.hits_consumer_start``.
    """
    if hits_deliver_policy is None:
        start = settings.command_center.hits_consumer_start
        hits_deliver_policy = DeliverPolicy.NEW if start == "new" else DeliverPolicy.ALL
    policy = hits_deliver_policy
    metrics = CommandCenterMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.services = await _start(settings, engine, policy, nats_wait_s, stack, metrics)
            metrics.attach(app.state.services)
            watchdog = Watchdog(app.state.services, metrics)
            watchdog.start()
            stack.push_async_callback(watchdog.stop)
            log.info("command centre ready on NATS %s", settings.nats_url)
            yield

    app = FastAPI(
        title="safecity command centre",
        lifespan=lifespan,
        docs_url=None,  # the Swagger page loads scripts from a CDN, which the CSP forbids
        redoc_url=None,
        max_body_size=settings.command_center.max_upload_bytes,
    )
    app.state.metrics = metrics
    app.add_exception_handler(RedisError, _redis_unavailable)
    app.add_middleware(NulGuardMiddleware)  # PostgreSQL cannot take NUL in any text: 400, not 500
    _add_cors(app, settings.security.cors_origins)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: CORS preflights get the headers too
    app.include_router(health.router)
    app.include_router(observability.router)
    app.include_router(auth.router)
    app.include_router(alerts.router)
    app.include_router(watchlist.router)
    app.include_router(watch_lists.router)
    app.include_router(face_search.router)
    app.include_router(vehicles.router)
    app.include_router(audit.router)
    app.include_router(integrations.router)
    app.include_router(users.router)
    app.include_router(plate_reads.router)
    app.include_router(lifecycle.router)
    app.include_router(dispatches.router)
    app.include_router(patrol.router)
    app.include_router(stats.router)
    app.include_router(persons.router)
    app.include_router(checkins.router)
    app.include_router(arrests.router)
    app.include_router(missing.router)
    app.include_router(missing.udr_router)
    app.include_router(crimes.router)
    app.include_router(alert_stats.router)
    app.include_router(cameras.router)
    app.include_router(console.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


REDIS_RETRY_AFTER_S = 5


async def _redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Redis (sessions, codes, patrol positions) is down: 503 with a reason, never a 500."""
    log.warning("redis unavailable for %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "a service the command centre needs (Redis) is unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": str(REDIS_RETRY_AFTER_S)},
    )


CORS_METHODS = ["GET", "POST", "PATCH", "DELETE"]
CORS_HEADERS = ["Authorization", "Content-Type", "X-API-Key"]


def _add_cors(app: FastAPI, origins: list[str]) -> None:
    """Closed by default: no CORS middleware at all unless origins are configured, then exactly those.

    Credentials (cookies) are not allowed: the API authenticates with bearer tokens and API keys.
    """
    if not origins:
        return
    if "*" in origins:
        raise ValueError("security.cors_origins must list origins; '*' would let any web page call the API")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=CORS_METHODS,
        allow_headers=CORS_HEADERS,
        allow_credentials=False,
        max_age=600,
    )


async def _start(
    settings: Settings,
    engine: Engine | None,
    policy: DeliverPolicy,
    nats_wait_s: float,
    stack: AsyncExitStack,
    metrics: CommandCenterMetrics,
) -> Services:
    if engine is None:
        engine = make_engine(settings.resolved_database_url)
        stack.callback(engine.dispose)
    directory = CameraDirectory(settings.cameras)
    alert_store = MeteredAlertStore(
        engine,
        metrics=metrics,
        merge_window_s=settings.command_center.alert_merge_window_s,
        cooldown_s=settings.command_center.alert_cooldown_s,
        policies=settings.command_center.episodes,
        districts=directory.districts,
    )
    watchlist_store = WatchlistStore(engine)
    await asyncio.to_thread(alert_store.create_schema)
    await asyncio.to_thread(watchlist_store.create_schema)
    await asyncio.to_thread(VehicleHotlist(engine).create_schema)
    audit_trail = AuditTrail.of(engine, settings)
    await asyncio.to_thread(audit_trail.create_schema)
    apikeys = ApiKeyStore(engine, settings.security.api_key_pepper.get_secret_value())
    await asyncio.to_thread(apikeys.create_schema)
    redis, staff_auth = await start_auth(settings, engine, stack)

    nc = await _connect(settings.nats_url, nats_wait_s)
    stack.push_async_callback(_close_nats, nc)
    await directory.follow(nc, settings, stack)  # before any hit is routed to a district

    feed = AlertFeed()
    await feed.subscribe(nc)
    stack.push_async_callback(feed.close)
    camera_health = CameraHealthBoard(directory, feed)
    await camera_health.subscribe(nc)
    stack.push_async_callback(camera_health.close)

    consumer = HitConsumer(
        nc,
        alert_store,
        name=settings.command_center.consumer_name,
        deliver_policy=policy,
        ack_wait_s=settings.command_center.hits_ack_wait_s,
        retry_delay_s=settings.command_center.hits_retry_delay_s,
    )
    await consumer.start()
    stack.push_async_callback(consumer.stop)

    plate_reads = PlateReadConsumer(
        nc,
        engine,
        name=f"{settings.command_center.consumer_name}-plates",
        deliver_policy=policy,
        retry_delay_s=settings.command_center.hits_retry_delay_s,
    )
    await plate_reads.start()
    stack.push_async_callback(plate_reads.stop)

    dispatch = await start_dispatch(
        settings, engine, nc, redis, alert_store, audit_trail, stack, cameras=directory
    )
    records = await start_records(
        settings,
        engine,
        nc,
        alert_store=alert_store,
        watchlist=watchlist_store,
        hotels=apikeys,
        users=staff_auth.users,
        stack=stack,
        cameras=directory,
    )
    casework = await start_casework(
        settings, engine, nc, records=records, watchlist=watchlist_store, users=staff_auth.users, stack=stack
    )
    lists = await asyncio.to_thread(WatchLists.open, watchlist_store, settings)
    watch_lists = WatchListService(lists, watchlist_store, nc)
    watch_lists.start(settings.watchlist.lists.recalibrate_s, stack)
    enrolment = EnrolmentService(settings, watchlist_store, nc, lists)
    start_purges(Purger(engine, settings.retention, audit_trail), settings.retention.purge_every_s, stack)
    audit_key = settings.security.audit_key.get_secret_value().encode()
    anchors = Anchors(nc.jetstream(), audit_trail, audit_key, replica=settings.command_center.consumer_name)
    start_anchoring(anchors, settings.security.audit_anchor_every_s, stack)
    return Services(
        settings=settings,
        engine=engine,
        nats=nc,
        cameras=directory,
        alerts=alert_store,
        watchlist=watchlist_store,
        feed=feed,
        consumer=consumer,
        plate_reads=plate_reads,
        enrolment=enrolment,
        watch_lists=watch_lists,
        redis=redis,
        auth=staff_auth,
        apikeys=apikeys,
        audit=audit_trail,
        anchors=anchors,
        dispatch=dispatch,
        records=records,
        casework=casework,
        camera_health=camera_health,
    )


async def _connect(url: str, wait_s: float) -> NATS:
    try:
        return await bus.connect(url, "command-center", wait_s=wait_s)
    except bus.BusUnavailable as exc:
        log.error("command centre cannot start: %s", exc)
        raise


async def _close_nats(nc: NATS) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(nc.drain(), NATS_DRAIN_TIMEOUT_S)
    if not nc.is_closed:
        with contextlib.suppress(Exception):
            await nc.close()
