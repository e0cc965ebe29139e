"""Staff accounts over HTTP on real Redis, NATS and both databases: admin-only, audited, and a change of
rights ends the account's live WebSockets on every replica."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from command_center.app import create_app
from command_center.security.permissions import Permission, Role
from command_center.security.principal import Principal
from pipeline.contracts import SessionRevoked
from pipeline.settings import Settings
from tests.command_center.helpers import (
    Served,
    bearer,
    eventually,
    government_id,
    mobile,
    serve,
    staff_session,
    ws_auth,
)
from tests.names import subjects

REASON = "transfer order 2026/114"


def new_user(role: str = "operator", **extra: object) -> dict[str, object]:
    return {"government_id": government_id(), "mobile": mobile(), "name": "Asma Bibi", "role": role, **extra}


async def test_an_admin_creates_lists_and_changes_an_account_and_each_change_is_audited(
    served: Served,
) -> None:
    created = await served.http.post("/users", json=new_user(districts=["Saddar"]))
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["role"] == "operator" and user["districts"] == ["Saddar"] and user["active"] is True

    listed = await served.http.get("/users", params={"role": "operator"})
    assert user["id"] in [u["id"] for u in listed.json()]
    assert all(u["role"] == "operator" for u in listed.json())

    changed = await served.http.patch(
        f"/users/{user['id']}", json={"districts": ["Saddar", "Clifton"], "reason": REASON}
    )
    assert changed.status_code == 200 and changed.json()["districts"] == ["Clifton", "Saddar"]

    trail = (await served.http.get("/audit", params={"target": f"staff:{user['id']}"})).json()
    actions = [entry["action"] for entry in trail["entries"]]
    assert actions.count("users.create") == 1 and actions.count("users.update") == 1
    update = next(e for e in trail["entries"] if e["action"] == "users.update")
    assert update["reason"] == REASON
    assert update["details"]["changed"] == {"districts": [["Saddar"], ["Clifton", "Saddar"]]}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"role": "hotel"}, 422, "integrations"),
        ({"role": "king"}, 422, "unknown role"),
        ({"government_id": "x"}, 422, "government_id"),
        ({"mobile": "12"}, 422, "mobile"),
        ({"districts": ["Saddar; DROP TABLE"]}, 422, "districts"),
        ({"extra": 1}, 422, "extra"),
    ],
)
async def test_bad_accounts_are_refused_with_the_reason(
    served: Served, body: dict[str, object], status: int, words: str
) -> None:
    response = await served.http.post("/users", json=new_user(**body))
    assert response.status_code == status, response.text
    assert words in response.text


async def test_a_duplicate_government_id_is_409_and_unknown_ids_404(served: Served) -> None:
    body = new_user()
    assert (await served.http.post("/users", json=body)).status_code == 201
    duplicate = await served.http.post("/users", json={**body, "mobile": mobile()})
    assert duplicate.status_code == 409 and "already has an account" in duplicate.json()["detail"]
    assert (await served.http.get("/users/999999")).status_code == 404
    missing = await served.http.patch("/users/999999", json={"active": False, "reason": REASON})
    assert missing.status_code == 404
    no_reason = await served.http.patch("/users/1", json={"active": False})
    assert no_reason.status_code == 422 and "reason" in no_reason.text


async def test_the_last_admin_and_ones_own_account_are_protected(served: Served) -> None:
    me = (await served.http.get("/auth/me")).json()
    own = await served.http.patch(f"/users/{me['id']}", json={"active": False, "reason": REASON})
    assert own.status_code == 409 and "your own" in own.json()["detail"]

    users = served.app.state.services.auth.users
    others = [u for u in users.list() if u.role is Role.ADMIN and u.active and u.id != me["id"]]
    for other in others:  # leave exactly one active admin (this session's)
        users.update(other.id, active=False)
    from command_center.security.users import LastAdminError

    with pytest.raises(LastAdminError):
        users.update(me["id"], role="supervisor")


@contextlib.asynccontextmanager
async def feed_socket(served: Served, token: str) -> AsyncIterator[ClientConnection]:
    feed = served.app.state.services.feed
    before = feed.client_count
    async with connect(f"{served.ws_url}/ws/alerts", subprotocols=ws_auth(token)) as ws:

        async def attached() -> bool:
            return feed.client_count > before

        await eventually(attached)
        yield ws


async def closed_with(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def receives(ws: ClientConnection, text: str) -> bool:
    """Whether ``text`` arrives within 5 s; alert events of other tests on the shared NATS are skipped."""

    async def until_seen() -> bool:
        while await ws.recv() != text:
            pass
        return True

    return await asyncio.wait_for(until_seen(), 5)


@contextlib.asynccontextmanager
async def replica(settings: Settings) -> AsyncIterator[Served]:
    name = f"cc-replica-{uuid.uuid4().hex[:8]}"
    other = settings.model_copy(
        update={"command_center": settings.command_center.model_copy(update={"consumer_name": name})}
    )
    async with serve(create_app(other, hits_deliver_policy=DeliverPolicy.NEW)) as running:
        yield running


async def test_logout_closes_the_sessions_websockets_on_every_replica(
    served: Served, settings: Settings, nc: Client
) -> None:
    pair = await staff_session(served.app, Role.SUPERVISOR)  # sees every district's alerts
    other_session = await served.app.state.services.auth.open_session(pair.user)
    async with (
        replica(settings) as other,
        feed_socket(other, pair.access_token) as on_other,
        feed_socket(served, other_session.access_token) as same_user_other_session,
    ):
        response = await served.anon.post("/auth/logout", headers=bearer(pair.access_token))
        assert response.status_code == 204
        assert await closed_with(on_other) == 4401
        # Another session of the same officer (another device) stays open.
        served.app.state.services.feed.broadcast('{"still": "here"}')
        assert await receives(same_user_other_session, '{"still": "here"}')
        name = other.app.state.services.settings.command_center.consumer_name
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer("SAFECITY_HITS", name)


@pytest.mark.parametrize(
    "change", [{"active": False}, {"role": "records_clerk"}, {"districts": ["Elsewhere"]}]
)
async def test_disabling_or_changing_rights_closes_every_websocket_of_the_account(
    served: Served, change: dict[str, object]
) -> None:
    pair = await staff_session(served.app, Role.OPERATOR, ("Saddar",))
    second = await served.app.state.services.auth.open_session(pair.user)
    async with feed_socket(served, pair.access_token) as one, feed_socket(served, second.access_token) as two:
        response = await served.http.patch(f"/users/{pair.user.id}", json={**change, "reason": REASON})
        assert response.status_code == 200, response.text
        assert await closed_with(one) == 4401
        assert await closed_with(two) == 4401


async def test_an_announcement_for_an_account_whose_rights_hold_closes_nothing(
    served: Served, nc: Client
) -> None:
    """Account ids are per database: another deployment on the same NATS announcing "user 7 disabled"
    must not cut this deployment's user 7, whose credentials the replica checks before closing."""
    pair = await staff_session(served.app, Role.SUPERVISOR)  # sees every district's alerts
    async with feed_socket(served, pair.access_token) as ws:
        foreign = SessionRevoked(user_id=pair.user.id, reason="disabled")
        await nc.publish(subjects.sessions_revoked(), foreign.to_bytes())
        await nc.flush()
        await asyncio.sleep(0.5)
        served.app.state.services.feed.broadcast('{"still": "here"}')
        assert await receives(ws, '{"still": "here"}')
        # Once the account really is disabled, the same announcement closes it.
        await asyncio.to_thread(served.app.state.services.auth.users.update, pair.user.id, active=False)
        await nc.publish(subjects.sessions_revoked(), foreign.to_bytes())
        assert await closed_with(ws) == 4401


async def test_a_missed_announcement_is_caught_by_the_periodic_recheck(settings: Settings) -> None:
    """Without the NATS announcement (the account disabled straight in the database, as the CLI does),
    the connection's own re-check closes it."""
    quick = settings.model_copy(
        update={"command_center": settings.command_center.model_copy(update={"ws_recheck_s": 0.5})}
    )
    async with serve(create_app(quick, hits_deliver_policy=DeliverPolicy.NEW)) as running:
        pair = await staff_session(running.app, Role.OPERATOR)
        async with feed_socket(running, pair.access_token) as ws:
            await asyncio.to_thread(running.app.state.services.auth.users.update, pair.user.id, active=False)
            assert await closed_with(ws) == 4401


def test_an_integration_key_can_do_only_what_both_its_role_and_its_scopes_allow() -> None:
    unscoped = Principal(kind="integration", id=1, name="Hotel", role=Role.HOTEL)
    scoped_out = Principal(kind="integration", id=1, name="Hotel", role=Role.HOTEL, scopes=frozenset())
    scoped_in = Principal(
        kind="integration", id=1, name="Hotel", role=Role.HOTEL, scopes=frozenset({"checkins:post"})
    )
    assert unscoped.can(Permission.CHECKINS_POST) and scoped_in.can(Permission.CHECKINS_POST)
    assert not scoped_out.can(Permission.CHECKINS_POST)
    widened = Principal(
        kind="integration", id=1, name="Hotel", role=Role.HOTEL, scopes=frozenset({"audit:read"})
    )
    assert not widened.can(Permission.AUDIT_READ)  # a scope never adds what the role lacks
