"""Staff sign-in on real Redis and both databases: OTP by SMS outbox, lockout, refresh rotation, logout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from command_center.app import create_app
from command_center.security.otp import PREFIX
from command_center.security.permissions import Role
from command_center.security.users import StaffUser
from pipeline.settings import Settings
from tests.command_center.helpers import (
    Served,
    add_user,
    bearer,
    codes_sent,
    eventually,
    government_id,
    otp_sign_in,
    read_code,
    serve,
    staff_session,
    ws_auth,
)
from tests.names import subjects
from tests.services import TEST_SECURITY


def outbox(settings: Settings) -> Path:
    return settings.security.sms_outbox


def login_body(user: StaffUser) -> dict[str, str]:
    return {"government_id": user.government_id, "mobile": user.mobile}


async def test_sign_in_with_a_code_from_the_sms_outbox(served: Served, settings: Settings) -> None:
    user = await add_user(served.app, Role.OPERATOR, ("Islamabad",), mobile="0300 1234567")
    assert user.mobile == "+923001234567"
    tokens = await otp_sign_in(served.anon, outbox(settings), user)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == settings.security.access_token_ttl_s
    assert tokens["user"] == {
        "id": user.id,
        "government_id": user.government_id,
        "name": user.name,
        "role": "operator",
        "districts": ["Islamabad"],
    }
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert {"sub", "role", "districts", "jti", "exp", "iat"} <= set(claims)
    assert claims["exp"] - claims["iat"] == settings.security.access_token_ttl_s
    me = await served.anon.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["role"] == "operator" and "alerts:read" in me.json()["permissions"]
    assert (await served.anon.get("/alerts", headers=bearer(tokens["access_token"]))).status_code == 200
    assert (await served.anon.get("/alerts")).status_code == 401


async def test_the_login_answer_says_nothing_about_accounts(served: Served, settings: Settings) -> None:
    user = await add_user(served.app, Role.OPERATOR)
    real = await served.anon.post("/auth/login", json=login_body(user))
    await read_code(outbox(settings), user.mobile)
    wrong_mobile = await served.anon.post("/auth/login", json={**login_body(user), "mobile": "+923009999999"})
    nobody = await served.anon.post(
        "/auth/login", json={"government_id": government_id(), "mobile": user.mobile}
    )
    assert real.status_code == wrong_mobile.status_code == nobody.status_code == 202
    assert real.json() == wrong_mobile.json() == nobody.json()
    assert len(codes_sent(outbox(settings), user.mobile)) == 1
    assert codes_sent(outbox(settings), "+923009999999") == []


async def _login_code(served: Served, settings: Settings, user: StaffUser) -> str:
    already = len(codes_sent(outbox(settings), user.mobile))
    assert (await served.anon.post("/auth/login", json=login_body(user))).status_code == 202
    return await read_code(outbox(settings), user.mobile, after=already)


def _another(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


async def test_wrong_codes_lock_the_account_even_against_the_right_code(
    served: Served, settings: Settings
) -> None:
    user = await add_user(served.app, Role.SUPERVISOR)
    code = await _login_code(served, settings, user)
    attempts = settings.security.max_failed_attempts
    for n in range(attempts - 1):
        wrong = await served.anon.post("/auth/verify", json={**login_body(user), "code": _another(code)})
        assert wrong.status_code == 401
        assert f"{attempts - n - 1} attempt" in wrong.json()["detail"]
    locked = await served.anon.post("/auth/verify", json={**login_body(user), "code": _another(code)})
    assert locked.status_code == 423 and "locked" in locked.json()["detail"]
    assert 0 < int(locked.headers["retry-after"]) <= settings.security.lockout_s
    right = await served.anon.post("/auth/verify", json={**login_body(user), "code": code})
    assert right.status_code == 423
    again = await served.anon.post("/auth/login", json=login_body(user))
    assert again.status_code == 423 and "try again in" in again.json()["detail"]


async def test_an_expired_or_used_code_is_refused(served: Served, settings: Settings) -> None:
    user = await add_user(served.app, Role.OPERATOR)
    code = await _login_code(served, settings, user)
    redis = served.app.state.services.redis
    await redis.pexpire(f"{PREFIX}:{user.government_id}:otp", 1)  # Redis expires it, as after otp_ttl_s
    await asyncio.sleep(0.01)
    expired = await served.anon.post("/auth/verify", json={**login_body(user), "code": code})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]

    code = await _login_code(served, settings, user)
    assert (
        await served.anon.post("/auth/verify", json={**login_body(user), "code": code})
    ).status_code == 200
    used = await served.anon.post("/auth/verify", json={**login_body(user), "code": code})
    assert used.status_code == 401


async def test_too_many_login_requests_are_throttled(served: Served, settings: Settings) -> None:
    body = {"government_id": f"NOBODY-{uuid.uuid4().hex[:8]}", "mobile": "03001234567"}
    for _ in range(settings.security.max_failed_attempts):
        assert (await served.anon.post("/auth/login", json=body)).status_code == 202
    throttled = await served.anon.post("/auth/login", json=body)
    assert throttled.status_code == 429 and "too many" in throttled.json()["detail"]
    assert int(throttled.headers["retry-after"]) > 0


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(
    served: Served, settings: Settings
) -> None:
    user = await add_user(served.app, Role.OPERATOR)
    first = await otp_sign_in(served.anon, outbox(settings), user)
    second = (await served.anon.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await served.anon.get("/auth/me", headers=bearer(second["access_token"]))).status_code == 200

    reuse = await served.anon.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and "already used" in reuse.json()["detail"]
    for token in (first["access_token"], second["access_token"]):
        refused = await served.anon.get("/auth/me", headers=bearer(token))
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    after = await served.anon.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


@contextlib.asynccontextmanager
async def replica(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    """A second command centre on the same database, Redis and NATS (its own hit consumer)."""
    name = f"cc-replica-{uuid.uuid4().hex[:8]}"
    other = settings.model_copy(
        update={"command_center": settings.command_center.model_copy(update={"consumer_name": name})}
    )
    async with serve(create_app(other, hits_deliver_policy=DeliverPolicy.NEW)) as running:
        yield running
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(subjects.hits_stream, name)


async def test_logout_is_honoured_by_every_replica(served: Served, settings: Settings, nc: Client) -> None:
    user = await add_user(served.app, Role.OPERATOR)
    tokens = await otp_sign_in(served.anon, outbox(settings), user)
    async with replica(settings, nc) as other:
        assert (await other.anon.get("/auth/me", headers=bearer(tokens["access_token"]))).status_code == 200
        assert (
            await served.anon.post("/auth/logout", headers=bearer(tokens["access_token"]))
        ).status_code == 204
        refused = await other.anon.get("/alerts", headers=bearer(tokens["access_token"]))
        assert refused.status_code == 401 and "session has ended" in refused.json()["detail"]
        again = await other.anon.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert again.status_code == 401


async def test_a_disabled_account_is_refused_at_once(served: Served) -> None:
    pair = await staff_session(served.app, Role.SUPERVISOR)
    assert (await served.anon.get("/auth/me", headers=bearer(pair.access_token))).status_code == 200
    users = served.app.state.services.auth.users
    users.set_active(pair.user.government_id, False)
    refused = await served.anon.get("/auth/me", headers=bearer(pair.access_token))
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]


def _forged(**changes: Any) -> str:
    claims = {"sub": "1", "role": "admin", "districts": [], "sid": "x", "jti": "y", "typ": "access"}
    claims |= {"iss": "safecity-command-center", "iat": int(time.time()), "exp": int(time.time()) + 60}
    secret = changes.pop("secret", TEST_SECURITY["jwt_secret"])
    algorithm = changes.pop("algorithm", "HS256")
    return jwt.encode(claims | changes, secret, algorithm=algorithm)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (lambda: "Bearer not-a-jwt", "not valid"),
        (lambda: f"Bearer {_forged(secret='another-secret-of-enough-length-0000000')}", "not valid"),
        (lambda: f"Bearer {_forged(exp=int(time.time()) - 3600)}", "expired"),
        (lambda: f"Bearer {_forged(typ='refresh')}", "not valid"),
        (lambda: f"Bearer {_forged()}", "session has ended"),  # well signed, but no such session
        (lambda: "Basic dXNlcjpwYXNz", "sign in"),
    ],
)
async def test_bad_credentials_are_401_with_a_reason(
    served: Served, header: Callable[[], str], reason: str
) -> None:
    response = await served.anon.get("/alerts", headers={"Authorization": header()})
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_unsigned_token_is_refused() -> None:
    from command_center.security.tokens import InvalidToken, TokenIssuer

    unsigned = jwt.encode({"sub": "1"}, key=None, algorithm="none")
    with pytest.raises(InvalidToken):
        TokenIssuer(TEST_SECURITY["jwt_secret"], 60).decode(unsigned)


@pytest.mark.parametrize(
    "body",
    [
        {"government_id": "ab", "mobile": "03001234567"},
        {"government_id": "ok-1234; DROP", "mobile": "03001234567"},
        {"government_id": "OK-1234", "mobile": "12345"},
        {"government_id": "OK-1234", "mobile": "+92300123"},
        {"government_id": "OK-1234"},
        {"government_id": "OK-1234", "mobile": "03001234567", "role": "admin"},
    ],
)
async def test_bad_login_input_is_422_with_the_reason(served: Served, body: dict[str, str]) -> None:
    response = await served.anon.post("/auth/login", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


async def test_the_websocket_needs_a_token_with_alerts_read(served: Served) -> None:
    url = f"{served.ws_url}/ws/alerts"
    clerk = await staff_session(served.app, Role.RECORDS_CLERK)
    for offered, code in [(None, 4401), (ws_auth("forged"), 4401), (ws_auth(clerk.access_token), 4403)]:
        async with connect(url, subprotocols=offered) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    feed = served.app.state.services.feed

    async def connected() -> bool:
        return bool(feed.client_count)

    async with connect(url, subprotocols=ws_auth(served.token)) as ws:
        assert ws.subprotocol == "bearer"
        await eventually(connected)
        feed.broadcast('{"hello": 1}')
        assert json.loads(await ws.recv()) == {"hello": 1}
