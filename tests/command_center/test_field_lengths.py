"""Lengths are refused at the API, never by the database: every string a write route accepts is bounded in
its schema (a sweep over the OpenAPI document), over-long values get a 422 and store nothing, and an
account whose name is as long as allowed still writes audited records (its audit actor is clipped to fit)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from command_center.records.tables import persons
from command_center.security.audit import MAX_ACTOR
from command_center.security.permissions import Role
from tests.command_center.helpers import Served, add_user
from tests.command_center.records_helpers import audited, checkin, client_of, cnic, hotel_key, person

_WRITES = ("post", "put", "patch", "delete")
_BOUNDED = ("maxLength", "pattern", "enum", "const")
_FILES = ("photo", "photos", "file", "image")  # bounded by the upload limit, checked by their own tests
LONG = "x" * 5000


def _open(schema: dict[str, Any], path: str) -> bool:
    """A string schema with no bound on its length (files and timestamps aside)."""
    if any(k in schema for k in _BOUNDED) or schema.get("format") in ("date-time", "date", "binary"):
        return False
    return path.rsplit(".", 1)[-1] not in _FILES


def _unbounded(
    schema: dict[str, Any], defs: dict[str, Any], path: str, seen: frozenset[str]
) -> Iterator[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _unbounded(defs[name], defs, path, seen | {name})
        return
    for sub in (*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])):
        yield from _unbounded(sub, defs, path, seen)
    if schema.get("type") == "string" and _open(schema, path):
        yield path
    for name, sub in schema.get("properties", {}).items():
        yield from _unbounded(sub, defs, f"{path}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _unbounded(schema["items"], defs, path, seen)


async def test_every_string_a_write_route_takes_has_a_bound(served: Served) -> None:
    spec = served.app.openapi()
    defs = spec.get("components", {}).get("schemas", {})
    found = []
    for route, operations in spec["paths"].items():
        for method, op in operations.items():
            if method not in _WRITES:
                continue
            where = f"{method.upper()} {route}"
            for param in op.get("parameters", []):
                found += _unbounded(param.get("schema", {}), defs, f"{where} ?{param['name']}", frozenset())
            for content in op.get("requestBody", {}).get("content", {}).values():
                found += _unbounded(content.get("schema", {}), defs, f"{where} body", frozenset())
    assert found == []


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(persons)).scalar_one())


async def test_over_long_values_are_refused_with_a_reason_and_store_nothing(served: Served) -> None:
    engine: Engine = served.app.state.services.engine
    longest_name = "Muhammad " + "A" * 191  # as long as an account's name may be
    clerk = await client_of(served, await add_user(served.app, Role.RECORDS_CLERK, name=longest_name))
    async with clerk:
        for field in ("name", "father_name", "address", "notes"):
            refused = await clerk.post("/persons", json={**person("Muhammad Aslam"), field: LONG})
            assert refused.status_code == 422, (field, refused.text)
            assert field in {str(p) for err in refused.json()["detail"] for p in err["loc"]}
        assert _count(engine) == 0
        created = await clerk.post("/persons", json=person("Muhammad Aslam", cnic=cnic().replace("-", "")))
        assert created.status_code == 201, created.text
    [entry] = audited(served, "persons.create", f"person:{created.json()['id']}")
    assert len(entry.actor) <= MAX_ACTOR and entry.actor.startswith("staff:")

    for body in ({"name": LONG}, {"mobile": LONG}, {"government_id": LONG}):
        user = {
            "government_id": "35202-1234567-1",
            "mobile": "03001234567",
            "name": "Asma",
            "role": "operator",
        }
        assert (await served.http.post("/users", json={**user, **body})).status_code == 422, body

    _, key = await hotel_key(served)
    async with httpx.AsyncClient(base_url=served.url, timeout=15, headers={"X-API-Key": key}) as desk:
        for field in ("guest_name", "booking_ref", "room"):
            refused = await desk.post("/checkins", json={**checkin("R-1", cnic()), field: LONG})
            assert refused.status_code == 422, (field, refused.text)
        assert (await desk.post("/checkins", json=checkin("R-1", cnic()))).status_code == 201
    assert len(audited(served, "checkins.post")) == 1
