"""Composition root of the command centre: ``create_app(settings)`` wires stores, NATS and routers.

Nothing happens at import time. The lifespan opens everything in order (database → NATS → live feed
→ hit consumer) on one AsyncExitStack, so shutdown closes it in reverse: stop consuming (the batch in
hand is acked), stop the feed, drain NATS, dispose of the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from nats.aio.client import Client as NATS
from nats.js.api import DeliverPolicy
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import Receive, Scope, Send

from command_center.admin.api import cameras, watch_lists, watchlist
from command_center.admin.camera_directory import CameraDirectory
from command_center.admin.wiring import start_admin
from command_center.alerts.api import alert_stats, alerts, lifecycle, plate_reads, stats
from command_center.alerts.wiring import start_alerts
from command_center.api import console, docs, health, observability, officer_pwa
from command_center.api.console import STATIC_DIR
from command_center.dispatch.api import dispatches, patrol
from command_center.dispatch.services import start_dispatch
from command_center.imports import api as imports_api
from command_center.imports.wiring import start_imports
from command_center.observability import CommandCenterMetrics, MeteredAlertStore, Watchdog
from command_center.records.api import (
    arrests,
    checkin_batch,
    checkin_fast,
    checkins,
    crimes,
    dossier,
    face_search,
    fingerprints,
    library,
    missing,
    persons,
    reminders,
    vehicles,
)
from command_center.records.casework import start_casework
from command_center.records.services import start_records
from command_center.security.api import audit, auth, integrations, users
from command_center.security.apikeys import ApiKeyStore
from command_center.security.audit import AuditTrail
from command_center.security.audit_anchor import Anchors, start_anchoring
from command_center.security.headers import SecurityHeadersMiddleware
from command_center.security.request_guard import NulGuardMiddleware
from command_center.security.wiring import start_auth
from command_center.services import Services
from pipeline.adapters import bus, streams
from pipeline.adapters.database import make_engine
from pipeline.adapters.migrations import upgrade
from pipeline.settings import Settings
from watchlist.store import WatchlistStore
from watchlist.vehicles import VehicleHotlist

log = logging.getLogger(__name__)

# The audit appender and the screening threads wait for PostgreSQL with the GIL released; taking it back
# while the event loop is busy waits for the loop to be made to yield, every switch interval (Python's
# default: 5 ms), so each of a group commit's round trips could cost 5 ms under load. At 0.5 ms (same
# half hour, load ~21): 478 check-ins/s, p50 54 ms, p99 231 ms, 0.90 ms CPU each; at 5 ms: 356/s, 69 ms,
# 274 ms, 1.18 ms. On a quiet machine (23:25, load ~2-3) one pair showed no such gain: 593/s, p99 139 ms,
# 1.54 ms CPU at 0.5 ms against 635/s, p99 120 ms, 1.41 ms at 5 ms; to be measured again over several pairs.
SWITCH_INTERVAL_S = 0.0005

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
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            app.state.services = await _start(settings, engine, policy, nats_wait_s, stack, metrics)
            metrics.attach(app.state.services)
            watchdog = Watchdog(app.state.services, metrics)
            watchdog.start()
            stack.push_async_callback(watchdog.stop)
            log.info("command centre ready on NATS %s", settings.nats_url)
            yield

    app = CommandCentreApp(
        title="safecity command centre",
        lifespan=lifespan,
        docs_url=None,  # a Swagger page loads scripts from a CDN, which the CSP forbids: api/docs.py
        redoc_url=None,
        max_body_size=settings.command_center.max_upload_bytes,
    )
    app.state.metrics = metrics
    app.add_exception_handler(RedisError, _redis_unavailable)
    for error in DATABASE_AWAY:
        app.add_exception_handler(error, _database_unavailable)
    app.add_middleware(NulGuardMiddleware)  # PostgreSQL cannot take NUL in any text: 400, not 500
    _add_cors(app, settings.security.cors_origins)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: CORS preflights get the headers too
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


class CommandCentreApp(FastAPI):
    """The API, whose hotels' ``POST /checkins`` is answered before any middleware or routing
    (``records/api/checkin_fast.py``; whatever that path does not serve goes through the whole app)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if checkin_fast.wanted(scope):
            scope["app"] = self
            services = getattr(self.state, "services", None)
            await checkin_fast.serve(services, self.max_body_size, scope, receive, send, super().__call__)
            return
        await super().__call__(scope, receive, send)


REDIS_RETRY_AFTER_S = 5

ROUTERS = (
    health.router,
    observability.router,
    auth.router,
    alerts.router,
    watchlist.router,
    watch_lists.router,
    face_search.router,
    fingerprints.router,
    vehicles.router,
    audit.router,
    integrations.router,
    users.router,
    plate_reads.router,
    lifecycle.router,
    dispatches.router,
    patrol.router,
    stats.router,
    persons.router,
    dossier.router,
    checkins.router,
    checkin_batch.router,
    arrests.router,
    missing.router,
    missing.udr_router,
    crimes.router,
    library.router,
    reminders.router,
    imports_api.router,
    alert_stats.router,
    cameras.router,
    console.router,
    officer_pwa.router,
    docs.router,
)


ExceptionHandler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _unavailable(service: str, detail: str, retry_after_s: int) -> ExceptionHandler:
    """A handler answering 503 with ``detail`` and Retry-After, never a 500, when ``service`` is away."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s unavailable for %s %s: %s", service, request.method, request.url.path, exc)
        headers = {"Retry-After": str(retry_after_s)}
        return JSONResponse({"detail": detail}, status_code=503, headers=headers)

    return handle


# Redis (sessions, codes, patrol positions) down.
_redis_unavailable = _unavailable(
    "redis",
    "a service the command centre needs (Redis) is unavailable; try again shortly",
    REDIS_RETRY_AFTER_S,
)
# The database down, unreachable, busy past the pool's wait or a statement past its timeout.
DATABASE_AWAY = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
DATABASE_RETRY_AFTER_S = 5
_database_unavailable = _unavailable(
    "database", "the database is unavailable or busy; try again shortly", DATABASE_RETRY_AFTER_S
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
    """Database (every schema), Redis and sign-in, NATS and the cameras, then each domain in turn."""
    engine = engine or _engine(settings, stack)
    directory = CameraDirectory(settings.cameras)
    stores = await _open_stores(settings, engine, directory, metrics)
    alert_store, watchlist_store, audit_trail, apikeys = stores
    stack.callback(audit_trail.close_group)  # before the engine is disposed of (callbacks run LIFO)
    redis, staff_auth = await start_auth(settings, engine, stack)
    streams.use_replicas(settings.nats_replicas)
    nc = await _connect(settings.nats_url, nats_wait_s)
    stack.push_async_callback(_close_nats, nc)
    await directory.follow(nc, settings, stack)  # before any hit is routed to a district
    alerting = await start_alerts(settings, engine, nc, alert_store, directory, policy, stack)
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
    admin = await start_admin(settings, engine, nc, watchlist_store, audit_trail, stack)
    imports = await start_imports(settings, engine, nc, stack)
    anchors = Anchors.of(nc, audit_trail, settings)
    start_anchoring(anchors, settings.security.audit_anchor_every_s, stack)
    return Services(
        settings=settings,
        engine=engine,
        nats=nc,
        cameras=directory,
        alerts=alert_store,
        watchlist=watchlist_store,
        feed=alerting.feed,
        consumer=alerting.consumer,
        plate_reads=alerting.plate_reads,
        enrolment=admin.enrolment,
        watch_lists=admin.watch_lists,
        redis=redis,
        auth=staff_auth,
        apikeys=apikeys,
        audit=audit_trail,
        anchors=anchors,
        dispatch=dispatch,
        records=records,
        casework=casework,
        camera_health=alerting.camera_health,
        imports=imports,
    )


def _engine(settings: Settings, stack: AsyncExitStack) -> Engine:
    """The database engine of this process, disposed of when the stack closes."""
    engine = make_engine(settings.resolved_database_url, settings.database_pool)
    stack.callback(engine.dispose)
    return engine


async def _open_stores(
    settings: Settings, engine: Engine, directory: CameraDirectory, metrics: CommandCenterMetrics
) -> tuple[MeteredAlertStore, WatchlistStore, AuditTrail, ApiKeyStore]:
    """The database migrated to the newest revision (one replica at a time), the stores every domain
    shares, the first rows of the watch list's, hotlist's and audit chain's heads."""
    await asyncio.to_thread(upgrade, engine)
    cc = settings.command_center
    audit_trail = AuditTrail.of(engine, settings)
    alert_store = MeteredAlertStore(
        engine,
        metrics=metrics,
        merge_window_s=cc.alert_merge_window_s,
        cooldown_s=cc.alert_cooldown_s,
        policies=cc.episodes,
        districts=directory.districts,
        audit=audit_trail,
    )
    watchlist_store = WatchlistStore(engine)
    apikeys = ApiKeyStore(engine, settings.security.api_key_pepper.get_secret_value())
    for store in (watchlist_store, VehicleHotlist(engine), audit_trail):  # the rows they start with
        await asyncio.to_thread(store.create_schema)
    return alert_store, watchlist_store, audit_trail, apikeys


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
