"""A minimal HTTP endpoint on the worker's event loop: ``/metrics``, ``/healthz`` and ``/readyz``.

The worker has no web framework and needs none: three GET routes, answered from the asyncio loop that
owns NATS, so a liveness probe that gets an answer also proves that loop is not stuck. Each
connection carries one request and is closed (``Connection: close``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from pipeline.settings import ConfigError

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 8192
READ_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Probe:
    """A check's verdict: ``ok`` and what was looked at (shown in the response body)."""

    ok: bool
    details: dict[str, object]


class ProbeServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        live: Callable[[], Probe],
        ready: Callable[[], Probe],
        host: str,
        port: int,
    ) -> None:
        self._registry = registry
        self._live = live
        self._ready = ready
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self._host, self._port)
        except OSError as exc:
            raise ConfigError(
                f"worker.metrics_port: cannot listen on {self._host}:{self._port} ({exc.strerror}); give "
                "each worker on a machine its own port (SAFECITY_WORKER__METRICS_PORT) or 0 for none"
            ) from None
        log.info("worker metrics and probes on http://%s:%d/metrics", self._host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            status, ctype, body = self._answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            status, ctype, body = 400, "text/plain", b"bad request\n"
        try:
            writer.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _answer(self, head: bytes) -> tuple[int, str, bytes]:
        if len(head) > MAX_HEAD_BYTES:
            return 431, "text/plain", b"request head too large\n"
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            return 400, "text/plain", b"bad request\n"
        method, target = parts[0], parts[1].split(b"?", 1)[0]
        if method != b"GET":
            return 405, "text/plain", b"only GET\n"
        if target == b"/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        if target in (b"/healthz", b"/readyz"):
            probe = self._live() if target == b"/healthz" else self._ready()
            body = {"status": "ok" if probe.ok else "unavailable", **probe.details}
            return (200 if probe.ok else 503), "application/json", json.dumps(body).encode() + b"\n"
        return 404, "text/plain", b"not found\n"


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}
