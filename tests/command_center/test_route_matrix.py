"""Every route of the OpenAPI spec (and the WebSocket) x every role and anonymous: allowed, 401 or 403.

The table below is the access policy in one place, written out role by role rather than derived from
``ROLE_PERMISSIONS``, so that widening a role's rights is a visible change here too. A route that is in
the app but not in the table fails the test (a new route is born with a rule), and so does a row whose
route no longer exists. "Allowed" means the call got past authentication and authorisation (any status
but 401/403: e.g. 404 for an id that does not exist, 422 for an empty body).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from command_center.security.permissions import Role
from command_center.security.users import StaffUser
from tests.command_center.helpers import Served, add_user, bearer, ws_auth

ADM, SUP, OPR, CLK, PTL, HTL = (
    Role.ADMIN,
    Role.SUPERVISOR,
    Role.OPERATOR,
    Role.RECORDS_CLERK,
    Role.PATROL_OFFICER,
    Role.HOTEL,
)
PUBLIC = "public"
ALERTS_READ = {ADM, SUP, OPR}
WATCHLIST_READ = {ADM, SUP, OPR, CLK}
WATCHLIST_PROPOSE = {ADM, SUP, CLK}
WATCHLIST_APPROVE = {ADM, SUP}
WATCHLISTS_MANAGE = {ADM, SUP}  # create lists; each list's own editors change it (per-list rights)
FACES_SEARCH = {ADM, SUP, OPR, CLK, PTL}  # investigative photo search; a hotel never
AUDIT_READ = {ADM, SUP}
INTEGRATIONS = {ADM}
USERS_MANAGE = {ADM}
STAFF = {ADM, SUP, OPR, CLK, PTL}
VEHICLES_READ = {ADM, SUP, OPR, CLK, PTL}
VEHICLES_WRITE = {ADM, SUP, CLK}
ANYONE_SIGNED_IN = {ADM, SUP, OPR, CLK, PTL, HTL}
ALERTS_ACT = {ADM, SUP, OPR}
ALERTS_ESCALATIONS = {ADM, SUP}  # escalations are addressed to supervisors
DISPATCH = {SUP, OPR}
PATROL_READ = {ADM, SUP, OPR}
PATROL_MANAGE = {ADM, SUP}
PATROL_REPORT = {PTL}
STATS_READ = {ADM, SUP, OPR}
PERSONS_READ = {ADM, SUP, OPR, CLK, PTL}  # never a hotel key: it posts check-ins and reads nothing
PERSONS_WRITE = {ADM, SUP, CLK}
CHECKINS_READ = {ADM, SUP, OPR, CLK}
CHECKINS_POST = {HTL}
ARRESTS_READ = {ADM, SUP, OPR, CLK, PTL}
ARRESTS_RECORD = {SUP, PTL}  # officers; an admin or a clerk does not make arrests
MISSING_READ = {ADM, SUP, OPR, CLK, PTL}
MISSING_WRITE = {ADM, SUP, CLK}
MISSING_REGISTER = {ADM, SUP, CLK, PTL}  # a field officer registers a missing person or a found body
CRIMES_READ = {ADM, SUP, OPR, CLK, PTL}
CRIMES_REPORT = {SUP, PTL}
LIBRARY_READ = {ADM, SUP, OPR, CLK, PTL}  # every member of staff reads the library; a hotel key never
LIBRARY_MANAGE = {ADM, SUP, CLK}

POLICY: dict[tuple[str, str], str | set[Role]] = {
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("GET", "/console/config"): PUBLIC,  # the time zone the pages show times in
    ("POST", "/auth/login"): PUBLIC,
    ("POST", "/auth/verify"): PUBLIC,
    ("POST", "/auth/refresh"): PUBLIC,
    ("POST", "/auth/logout"): STAFF,  # a staff session; an API key has none to end
    ("GET", "/auth/me"): ANYONE_SIGNED_IN,
    ("GET", "/alerts"): ALERTS_READ,
    ("GET", "/alerts/escalations"): ALERTS_ESCALATIONS,
    ("GET", "/alerts/{alert_id}"): ALERTS_READ,
    ("GET", "/alerts/{alert_id}/hits"): ALERTS_READ,
    ("GET", "/alerts/{alert_id}/evidence/{kind}"): ALERTS_READ,
    ("WS", "/ws/alerts"): ALERTS_READ,
    ("GET", "/watchlist/profiles"): WATCHLIST_READ,
    ("GET", "/watchlist/profiles/{profile_id}"): WATCHLIST_READ,
    ("GET", "/watchlist/profiles/{profile_id}/photo"): WATCHLIST_READ,
    ("GET", "/watchlist/pending"): WATCHLIST_APPROVE,
    ("POST", "/watchlist/profiles"): WATCHLIST_PROPOSE,
    ("DELETE", "/watchlist/profiles/{profile_id}"): WATCHLIST_PROPOSE,
    ("POST", "/watchlist/profiles/{profile_id}/approve"): WATCHLIST_APPROVE,
    ("POST", "/watchlist/profiles/{profile_id}/reject"): WATCHLIST_APPROVE,
    ("GET", "/watchlists"): WATCHLIST_READ,
    ("POST", "/watchlists"): WATCHLISTS_MANAGE,
    ("GET", "/watchlists/{list_id}"): WATCHLIST_READ,
    ("PATCH", "/watchlists/{list_id}"): WATCHLIST_READ,  # then the list's own editors (403 otherwise)
    ("GET", "/watchlists/{list_id}/calibration"): WATCHLIST_READ,
    ("GET", "/watchlists/{list_id}/members"): WATCHLIST_READ,
    ("POST", "/watchlists/{list_id}/members"): WATCHLIST_READ,  # then the list's own editors
    ("DELETE", "/watchlists/{list_id}/members/{profile_id}"): WATCHLIST_READ,  # likewise
    ("GET", "/watchlists/{list_id}/performance"): {ADM, SUP, OPR},  # watchlist:read + stats:read
    ("POST", "/faces/search"): FACES_SEARCH,
    ("POST", "/fingerprints/identify"): PERSONS_READ,  # officers too: an identity check at the spot
    ("GET", "/audit"): AUDIT_READ,
    ("GET", "/audit/verify"): AUDIT_READ,
    ("POST", "/integrations/hotels"): INTEGRATIONS,
    ("GET", "/integrations/hotels"): INTEGRATIONS,
    ("PATCH", "/integrations/hotels/{hotel_id}"): INTEGRATIONS,
    ("POST", "/integrations/hotels/{hotel_id}/keys"): INTEGRATIONS,
    ("GET", "/integrations/hotels/{hotel_id}/keys"): INTEGRATIONS,
    ("DELETE", "/integrations/keys/{key_id}"): INTEGRATIONS,
    ("GET", "/integrations/whoami"): {HTL},
    ("GET", "/vehicles"): VEHICLES_READ,
    ("GET", "/vehicles/search"): VEHICLES_READ,
    ("GET", "/vehicles/{entry_id}"): VEHICLES_READ,
    ("POST", "/vehicles"): VEHICLES_WRITE,
    ("PATCH", "/vehicles/{entry_id}"): VEHICLES_WRITE,
    ("DELETE", "/vehicles/{entry_id}"): VEHICLES_WRITE,
    ("POST", "/vehicles/import"): VEHICLES_WRITE,
    ("GET", "/plates/reads"): {ADM, SUP, OPR},  # vehicles:read + alerts:read: tracing a vehicle
    ("GET", "/plates/reads/{read_id}/crop"): {ADM, SUP, OPR},
    ("POST", "/alerts/{alert_id}/acknowledge"): ALERTS_ACT,
    ("POST", "/alerts/{alert_id}/dismiss"): ALERTS_ACT,
    ("POST", "/alerts/{alert_id}/resolve"): ALERTS_ACT,
    ("GET", "/alerts/{alert_id}/lifecycle"): ALERTS_READ,
    ("GET", "/alerts/{alert_id}/dispatch/suggestions"): DISPATCH,
    ("POST", "/alerts/{alert_id}/dispatch"): DISPATCH,
    ("GET", "/dispatches/mine"): PATROL_REPORT,
    ("POST", "/dispatches/{dispatch_id}/ack"): PATROL_REPORT,
    ("POST", "/dispatches/{dispatch_id}/on-scene"): PATROL_REPORT,
    ("POST", "/dispatches/{dispatch_id}/resolve"): PATROL_REPORT,
    ("POST", "/dispatches/{dispatch_id}/dismiss"): PATROL_REPORT,
    ("WS", "/ws/officer"): PATROL_REPORT,
    ("GET", "/patrol/units"): PATROL_READ,
    ("POST", "/patrol/units"): PATROL_MANAGE,
    ("GET", "/patrol/officers"): PATROL_MANAGE,
    ("PATCH", "/patrol/units/{unit_id}"): PATROL_MANAGE,
    ("POST", "/patrol/units/{unit_id}/crew"): PATROL_MANAGE,
    ("POST", "/patrol/position"): PATROL_REPORT,
    ("POST", "/patrol/status"): PATROL_REPORT,
    ("GET", "/stats/verdicts"): STATS_READ,
    ("GET", "/stats/alerts"): STATS_READ,
    ("GET", "/cameras"): ALERTS_READ,
    ("PUT", "/cameras/{camera_id}/face-threshold"): WATCHLISTS_MANAGE,
    ("GET", "/map/config"): ALERTS_READ,
    ("GET", "/persons/search"): PERSONS_READ,
    ("GET", "/persons/following"): PERSONS_READ,
    ("POST", "/persons"): PERSONS_WRITE,
    ("GET", "/persons/{person_id}"): PERSONS_READ,
    ("GET", "/persons/{person_id}/dossier"): PERSONS_READ,
    ("PATCH", "/persons/{person_id}"): PERSONS_WRITE,
    ("DELETE", "/persons/{person_id}"): PERSONS_WRITE,
    ("POST", "/persons/{person_id}/photos"): PERSONS_WRITE,
    ("GET", "/persons/{person_id}/photos/{photo_id}"): PERSONS_READ,
    ("DELETE", "/persons/{person_id}/photos/{photo_id}"): PERSONS_WRITE,
    ("POST", "/persons/{person_id}/cases"): PERSONS_WRITE,
    ("PATCH", "/persons/{person_id}/cases/{case_id}"): PERSONS_WRITE,
    ("POST", "/persons/{person_id}/vehicles"): PERSONS_WRITE,
    ("DELETE", "/persons/{person_id}/vehicles/{vehicle_id}"): PERSONS_WRITE,
    ("POST", "/persons/{person_id}/follow"): PERSONS_READ,
    ("DELETE", "/persons/{person_id}/follow"): PERSONS_READ,
    ("POST", "/checkins"): CHECKINS_POST,
    ("POST", "/checkins/batch"): CHECKINS_POST,
    ("POST", "/checkins/{checkin_id}/checkout"): CHECKINS_POST,
    ("GET", "/checkins"): CHECKINS_READ,
    ("GET", "/checkins/{checkin_id}/photo"): CHECKINS_READ,
    ("POST", "/arrests"): ARRESTS_RECORD,
    ("GET", "/arrests"): ARRESTS_READ,
    ("GET", "/arrests/{arrest_id}"): ARRESTS_READ,
    ("GET", "/arrests/{arrest_id}/photo"): ARRESTS_READ,
    ("POST", "/missing"): MISSING_REGISTER,
    ("GET", "/missing"): MISSING_READ,
    ("GET", "/missing/{case_id}"): MISSING_READ,
    ("PATCH", "/missing/{case_id}"): MISSING_WRITE,
    ("POST", "/missing/{case_id}/photos"): MISSING_WRITE,
    ("GET", "/missing/{case_id}/photos/{photo_id}"): MISSING_READ,
    ("GET", "/missing/{case_id}/candidates"): MISSING_READ,
    ("POST", "/udr"): MISSING_REGISTER,
    ("GET", "/udr"): MISSING_READ,
    ("GET", "/udr/{case_id}"): MISSING_READ,
    ("PATCH", "/udr/{case_id}"): MISSING_WRITE,
    ("POST", "/udr/{case_id}/photos"): MISSING_WRITE,
    ("GET", "/udr/{case_id}/photos/{photo_id}"): MISSING_READ,
    ("GET", "/udr/{case_id}/candidates"): MISSING_READ,
    ("POST", "/crimes"): CRIMES_REPORT,
    ("GET", "/crimes"): CRIMES_READ,
    ("GET", "/crimes/types"): CRIMES_READ,
    ("GET", "/crimes/hotspots"): CRIMES_READ,
    ("GET", "/crimes/stats"): CRIMES_READ,
    ("GET", "/crimes/{report_id}"): CRIMES_READ,
    ("POST", "/crimes/{report_id}/photos"): CRIMES_REPORT,
    ("GET", "/crimes/{report_id}/photos/{photo_id}"): CRIMES_READ,
    ("POST", "/library"): LIBRARY_MANAGE,
    ("GET", "/library"): LIBRARY_READ,
    ("GET", "/library/search"): LIBRARY_READ,
    ("GET", "/cases/reminders"): PERSONS_READ,  # the caller's own cases; scope=district: supervisors
    ("GET", "/library/{doc_id}"): LIBRARY_READ,
    ("GET", "/library/{doc_id}/file"): LIBRARY_READ,
    ("PATCH", "/library/{doc_id}"): LIBRARY_MANAGE,
    ("DELETE", "/library/{doc_id}"): LIBRARY_MANAGE,
    ("POST", "/imports"): PERSONS_WRITE,
    ("GET", "/imports"): PERSONS_WRITE,
    ("GET", "/imports/{job_id}"): PERSONS_WRITE,
    ("POST", "/imports/{job_id}/cancel"): PERSONS_WRITE,
    ("GET", "/imports/{job_id}/errors"): PERSONS_WRITE,
    ("WS", "/ws/imports"): PERSONS_WRITE,
    ("GET", "/users"): USERS_MANAGE,
    ("POST", "/users"): USERS_MANAGE,
    ("GET", "/users/{user_id}"): USERS_MANAGE,
    ("PATCH", "/users/{user_id}"): USERS_MANAGE,
    ("POST", "/users/{user_id}/unlock"): USERS_MANAGE,
}

# WebSockets are not in the OpenAPI spec: every one is listed here.
WEBSOCKETS = {("WS", "/ws/alerts"), ("WS", "/ws/officer"), ("WS", "/ws/imports")}

# Values for path parameters: well formed, naming nothing (an allowed call answers 404 or 422).
PATH_VALUES = {
    "kind": "crop",
    "key_id": "0123456789abcdef",
    "read_id": "8d3c6b8e-1d55-4b8e-9b0e-4f1c2a7d9e01",
}


def spec_routes(app: FastAPI) -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def expected(rule: str | set[Role], who: Role | None) -> int | str:
    if rule == PUBLIC:
        return "allowed"
    if who is None:
        return 401
    return "allowed" if who in rule else 403


def outcome(status: int) -> int | str:
    return status if status in (401, 403) else "allowed"


class Callers:
    """A fresh credential per call for each role (a call may be a logout), and none for anonymous."""

    def __init__(self, app: FastAPI, users: dict[Role, StaffUser], hotel_key: str) -> None:
        self._auth = app.state.services.auth
        self._users = users
        self._hotel_key = hotel_key

    async def headers(self, who: Role | None) -> dict[str, str]:
        if who is None:
            return {}
        if who is Role.HOTEL:
            return {"X-API-Key": self._hotel_key}
        return bearer(await self.token(who))

    async def token(self, who: Role) -> str:
        pair = await self._auth.open_session(self._users[who])
        token: str = pair.access_token
        return token


async def callers(served: Served) -> Callers:
    users = {role: await add_user(served.app, role) for role in Role if role is not Role.HOTEL}
    keys = served.app.state.services.apikeys
    hotel = await asyncio.to_thread(
        keys.create_hotel, "Matrix Inn", f"LIC-{id(served)}", "1 Road", "Islamabad"
    )
    issued = await asyncio.to_thread(keys.issue_key, hotel.id, ["checkins:post"], "matrix", "test")
    return Callers(served.app, users, issued.raw_key)


async def call(http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> int:
    url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)
    body = {"json": {}} if method in ("POST", "PATCH") else {}
    response = await http.request(method, url, headers=headers, **body)
    assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text}"
    return response.status_code


async def ws_outcome(served: Served, path: str, who: Role | None, callers: Callers) -> int | str:
    offered = ws_auth(await callers.token(who)) if who not in (None, Role.HOTEL) else None
    headers = await callers.headers(who) if who is Role.HOTEL else None
    async with connect(f"{served.ws_url}{path}", subprotocols=offered, additional_headers=headers) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 0.3)
        except TimeoutError:
            return "allowed"  # open and quiet: accepted
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return {4401: 401, 4403: 403}[closed.rcvd.code]
    return "allowed"


def test_every_route_has_a_rule(served: Served) -> None:
    routes = spec_routes(served.app) | WEBSOCKETS
    assert sorted(routes - POLICY.keys()) == [], "routes without a rule in POLICY"
    assert sorted(POLICY.keys() - routes) == [], "rules for routes that no longer exist"


def sample(rule: str | set[Role], turn: int) -> list[Role | None]:
    """Anonymous, one role the rule lets in and one it refuses (each taken in turn over the routes, so
    that every role is seen): the handler runs, and both refusals are checked, at 3 calls instead of 7."""
    allowed = [who for who in Role if rule == PUBLIC or who in rule]
    refused = [who for who in Role if who not in allowed]
    return [None] + [group[turn % len(group)] for group in (allowed, refused) if group]


async def test_every_route_by_every_role(served: Served, database_url: str) -> None:
    """Every role on every route on PostgreSQL, the deployments' database; on SQLite (the same policy
    code over the same account query), every route by a sample of callers, so that each handler still
    answers without a 5xx on both databases. The whole matrix on both took ~60 s per database on CI."""
    full = not database_url.startswith("sqlite")
    who_calls = await callers(served)
    wrong = []
    for turn, ((method, path), rule) in enumerate(sorted(POLICY.items(), key=lambda item: item[0])):
        for who in [None, *Role] if full else sample(rule, turn):
            if method == "WS":
                got = await ws_outcome(served, path, who, who_calls)
            else:
                got = outcome(await call(served.anon, method, path, await who_calls.headers(who)))
            want = expected(rule, who)
            if got != want:
                wrong.append(f"{method} {path} as {who or 'anonymous'}: got {got}, expected {want}")
    assert wrong == [], "\n".join(wrong)
