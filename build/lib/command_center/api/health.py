"""Liveness (the process answers) and readiness (database and NATS usable)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from command_center.api.deps import ServicesDep
from command_center.services import Services

router = APIRouter(prefix="/health", tags=["health"])

DB_PING_TIMEOUT_S = 3.0


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(services: ServicesDep) -> JSONResponse:
    problems = await _problems(services)
    body: dict[str, Any] = {
        "status": "unavailable" if problems else "ok",
        "problems": problems,
        "consumer": services.consumer.stats.as_dict(),
        "websocket_clients": services.feed.client_count,
    }
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("", include_in_schema=False)
async def health(services: ServicesDep) -> JSONResponse:
    return await ready(services)


async def _problems(services: Services) -> list[str]:
    problems = []
    try:
        await asyncio.wait_for(asyncio.to_thread(services.alerts.ping), DB_PING_TIMEOUT_S)
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}: {str(exc)[:200]}")
    if not services.nats.is_connected:
        problems.append("nats: not connected")
    if not services.consumer.running:
        problems.append("hit consumer: not running")
    return problems
