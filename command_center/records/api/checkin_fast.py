"""Hotel systems' ``POST /checkins`` served straight from ASGI: the command centre's busiest write.

At a thousand check-ins a second, FastAPI's routing over every route of the API and its dependency
resolution cost about twice what storing the check-in does, and the nine layers of middleware around
the routes (error, telemetry and body-limit wrappers of FastAPI and Starlette, the security headers,
the NUL guard) another sixth of the request's CPU (measured with py-spy on the real process; see the
README's check-in figures). ``serve`` is called by the application itself before any of them
(``CommandCentreApp.__call__``) and answers a check-in posted with an ``X-API-Key`` (a JSON body of a
declared length within the app's limit, no bearer token, no query string, no ``Origin``): the key from
this process's cache (or checked in a thread), the body validated by the route's own model
(``CheckinPost``), stored by the same code as the route (``checkin_ingest.post_one``), answered with the
route's acknowledgement and status and the security headers every answer carries. Anything else goes
on to the whole app untouched, which answers it as always: another path or method, a bearer token,
another content type, a chunked or oversized body, a browser's cross-origin post, a key that is not
valid or may not post (401/403 from the route), a body that does not validate (the route's 422, the
body handed on as it came), the database away while the key is checked (the route's 503).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import HTTPException
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from command_center.api.deps import key_principal
from command_center.records.api import checkin_ingest as ingest
from command_center.records.api.person_views import CheckinPost
from command_center.security.headers import SECURITY_HEADERS
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from command_center.services import Services

log = logging.getLogger(__name__)

PATH = "/checkins"
_JSON = (b"content-type", b"application/json")
_FAILED = b'{"detail":"Internal Server Error"}'


@dataclass(frozen=True, slots=True)
class _Request:
    key: str
    length: int


def wanted(scope: Scope) -> bool:
    """Whether ``serve`` may take the request: an HTTP ``POST /checkins`` (cheap; ``serve`` checks more)."""
    return bool(scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST")


def _request(scope: Scope, max_body: int | None) -> _Request | None:
    """The API key and body length, when the request is one this path serves."""
    if scope.get("query_string"):
        return None  # the whole app's NUL guard and routing judge a query string
    key, length, json_body = None, None, False
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            key = value.decode("latin-1")
        elif name in (b"authorization", b"origin", b"transfer-encoding"):
            return None
        elif name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            json_body = kind == b"application/json" or kind.endswith(b"+json")
    if key is None or length is None or not json_body or (max_body is not None and length > max_body):
        return None
    return _Request(key, length)


async def _body(receive: Receive) -> bytes | None:
    """The whole body (its declared length, which the server holds it to); None when the client left."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app, giving back the body already read."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def _answer(send: Send, status: int, body: bytes, extra: Mapping[str, str] | None = None) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def serve(
    services: Services | None, max_body: int | None, scope: Scope, receive: Receive, send: Send, app: ASGIApp
) -> None:
    """Answer a hotel's check-in, or hand the request to ``app`` (the whole application) unread."""
    found = _request(scope, max_body) if services is not None else None
    if services is None or found is None:
        await app(scope, receive, send)
        return
    try:
        principal = await key_principal(services, found.key)
    except Exception as exc:  # the database away: the route answers it (503) as for any request
        log.info("checking a hotel's key on the fast path failed (%s): handed to the route", exc)
        principal = None
    if principal is None or not principal.can(Permission.CHECKINS_POST):
        await app(scope, receive, send)  # the route answers, 401/403/503 included
        return
    body = await _body(receive)
    if body is None:
        return  # the client went away: nothing to answer
    try:
        posted = CheckinPost.model_validate_json(body)
    except ValidationError:
        await app(scope, _replay(body, receive), send)  # the route's 422, in its words
        return
    await _store(services, scope, send, posted, principal)


async def _store(
    services: Services, scope: Scope, send: Send, posted: CheckinPost, principal: Principal
) -> None:
    client = scope.get("client")
    try:
        status, ack = await ingest.post_one(
            posted,
            principal,
            services.audit,
            services.records,
            services.settings,
            client[0] if client else None,
        )
    except HTTPException as exc:
        answer = json.dumps({"detail": exc.detail}, ensure_ascii=False, separators=(",", ":")).encode()
        await _answer(send, exc.status_code, answer, exc.headers)
        return
    except Exception:  # as the app's error middleware would: logged, a 500 without details
        log.exception("a hotel's check-in failed on the fast path")
        await _answer(send, 500, _FAILED)
        return
    await _answer(send, status, ack.model_dump_json().encode())
