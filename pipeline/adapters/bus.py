"""Connecting to NATS: bounded waiting at start, endless reconnection afterwards."""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)


class BusUnavailable(RuntimeError):
    """NATS did not answer within the start-up budget."""


async def connect(url: str, name: str, *, wait_s: float = 30.0) -> Client:
    """Connect, retrying with backoff for up to ``wait_s``; once connected, reconnect forever."""
    servers = [u.strip() for u in url.split(",") if u.strip()]
    deadline = asyncio.get_running_loop().time() + wait_s
    delay = 0.2
    while True:
        try:
            # With max_reconnect_attempts=-1 nats.connect retries the first connection forever too,
            # so the start-up budget is enforced here.
            remaining = max(deadline - asyncio.get_running_loop().time(), 0.1)
            return await asyncio.wait_for(
                nats.connect(
                    servers=servers,
                    name=name,
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    allow_reconnect=True,
                    error_cb=_log_error,
                    disconnected_cb=_log_disconnected,
                    reconnected_cb=_log_reconnected,
                ),
                remaining,
            )
        except Exception as exc:
            if asyncio.get_running_loop().time() + delay > deadline:
                raise BusUnavailable(f"NATS at {url} did not answer within {wait_s:.0f}s: {exc}") from exc
            log.warning("NATS at %s not reachable (%s); retrying in %.1fs", url, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)


async def _log_error(exc: Exception) -> None:
    log.warning("NATS error: %s", exc)


async def _log_disconnected() -> None:
    log.warning("NATS disconnected")


async def _log_reconnected() -> None:
    log.info("NATS reconnected")
