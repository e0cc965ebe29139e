"""Sending one-time codes by SMS, behind one small interface with a backend per deployment.

``console`` logs the message (a developer's laptop), ``outbox`` appends a JSON line per message to a file
(tests and demos read codes from it), ``http`` posts to a real gateway.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from pipeline.settings import SecuritySettings

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 10.0


class SmsError(RuntimeError):
    """The message could not be handed to the gateway."""


class SmsGateway(Protocol):
    async def send(self, to: str, text: str) -> None: ...


class ConsoleSmsGateway:
    """Development only: the message goes to the log instead of a phone."""

    async def send(self, to: str, text: str) -> None:
        log.warning("SMS to %s (console backend, not sent): %s", to, text)


class OutboxSmsGateway:
    """Appends ``{"to", "text", "sent_at"}`` as one JSON line per message."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = asyncio.Lock()

    async def send(self, to: str, text: str) -> None:
        line = json.dumps({"to": to, "text": text, "sent_at": datetime.now(UTC).isoformat()}) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as out:
            out.write(line)


class HttpSmsGateway:
    """POSTs ``{"to", "text"}`` as JSON to the gateway; any non-2xx answer is an SmsError."""

    def __init__(self, url: str, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        if not url.startswith(("https://", "http://")):
            raise SmsError("security.sms_http_url must be an http(s) URL for the http SMS backend")
        self._url = url
        self._timeout = timeout_s

    async def send(self, to: str, text: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, json={"to": to, "text": text})
        except httpx.HTTPError as exc:
            raise SmsError(f"SMS gateway unreachable: {type(exc).__name__}") from None
        if not response.is_success:
            raise SmsError(f"SMS gateway answered {response.status_code}")


def make_sms_gateway(security: SecuritySettings) -> SmsGateway:
    if security.sms_backend == "outbox":
        return OutboxSmsGateway(security.sms_outbox)
    if security.sms_backend == "http":
        return HttpSmsGateway(security.sms_http_url)
    return ConsoleSmsGateway()
