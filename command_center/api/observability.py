"""``/metrics`` (Prometheus), ``/healthz`` (liveness) and ``/readyz`` (readiness) for orchestrators.

Not in the OpenAPI document and not authenticated, like any scrape or probe endpoint: expose them on
the internal network only. Readiness fails (503) when the database, NATS or the hit consumer is not
usable: this replica cannot turn hits into alerts. Redis away is reported as ``degraded`` with 200:
alerts still flow to connected operators, and taking every replica out of service because sign-ins
fail would cut those operators off too.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from command_center.api.deps import ServicesDep
from command_center.observability import CHECK_TIMEOUT_S, CommandCenterMetrics, probe
from command_center.pull_loop import PullLoop
from pipeline.settings import CommandCenterSettings

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Prometheus text, for a scraper that sends ``command_center.metrics_token`` (open in development
    when none is set)."""
    settings = services.settings
    token = settings.command_center.metrics_token.get_secret_value()
    if token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return Response("a scraper's bearer token is required", status_code=401, headers=SCRAPER)
    elif settings.environment != "development":
        return Response("set command_center.metrics_token to scrape /metrics", status_code=403)
    registry = cast(CommandCenterMetrics, request.app.state.metrics).registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


SCRAPER = {"WWW-Authenticate": 'Bearer realm="metrics"'}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process and its event loop answer."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    database, redis = await asyncio.gather(
        probe(asyncio.to_thread(services.alerts.ping)), probe(cast(Any, services.redis.ping()))
    )
    checks = {
        "database": database or "ok",
        "nats": "ok" if services.nats.is_connected else "not connected",
        "hit_consumer": await _consumer_state(services.consumer, services.settings.command_center),
        "redis": redis or "ok",
    }
    problems = [f"{name}: {state}" for name, state in checks.items() if state != "ok" and name != "redis"]
    degraded = [f"redis: {redis}"] if redis else []
    status = "unavailable" if problems else "degraded" if degraded else "ok"
    body = {"status": status, "checks": checks, "problems": problems, "degraded": degraded}
    return JSONResponse(body, status_code=503 if problems else 200)


async def _consumer_state(consumer: PullLoop, options: CommandCenterSettings) -> str:
    """Running, and no hit older than ``stuck_after_s`` waiting unacknowledged (a consumer that keeps
    failing on its messages looks alive otherwise)."""
    if not consumer.running:
        return "not running"
    try:
        waited = await asyncio.wait_for(consumer.oldest_unacked_age_s(), CHECK_TIMEOUT_S)
    except Exception:
        return "ok"  # NATS away: its own check says so
    if waited > options.stuck_after_s:
        return f"stuck: the oldest unacknowledged hit has waited {waited:.0f} s"
    return "ok"
