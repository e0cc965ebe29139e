"""Refuse NUL bytes in the request target before any route sees them.

PostgreSQL cannot store or even compare a text value containing NUL (psycopg raises DataError), so a
``%00`` in a query filter or a path parameter would otherwise surface as a 500 on PostgreSQL and as a
silent oddity on SQLite. No legitimate URL of this API contains one, so it is a 400 here, for every
route at once. (Bodies are validated per field: see ``pipeline/validators.py``.)
"""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

REASON = "the request URL contains a NUL character (%00), which no field accepts"


def has_nul(scope: Scope) -> bool:
    raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode()
    query: bytes = scope.get("query_string", b"")
    return b"\x00" in unquote_to_bytes(raw_path) or b"\x00" in unquote_to_bytes(query)


class NulGuardMiddleware:
    """Pure ASGI: answers 400 for an HTTP request whose path or query string holds a NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_nul(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": REASON}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
