"""Builders for arrest, missing-person and crime-report tests: bulletins read as an officer's app would."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client
from nats.js.api import ConsumerConfig

from command_center.records.bulletins import (
    broadcast_consumer_config,
    broadcast_consumer_name,
    casework_consumer_config,
    casework_consumer_name,
)
from command_center.security.users import StaffUser
from pipeline.contracts import OfficerBulletin
from tests.command_center.helpers import Served, eventually
from tests.command_center.records_helpers import REASON
from tests.names import subjects


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def face(media_dir: Path, identity: str, name: str) -> bytes:
    return (media_dir / "faces" / identity / name).read_bytes()


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def arrest(name: str = "Muhammad Husain", **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "person_name": name,
        "fir_number": "245/2025",
        "police_station": "PS Civil Lines",
        "sections": ["392 PPC"],
        "arrested_at": ago(minutes=30),
        "district": "Lahore",
        "place": "Mall Road, near GPO",
        "latitude": 31.5656,
        "longitude": 74.3142,
    }
    values.update(fields)
    return values


async def record_arrest(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await http.post("/arrests", json=arrest(**fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def screened_arrest(http: httpx.AsyncClient, arrest_id: int, within_s: float = 30) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        found = await http.get(f"/arrests/{arrest_id}", params=REASON)
        assert found.status_code == 200, found.text
        body: dict[str, Any] = found.json()
        return body if body["status"] == "screened" else None

    result: dict[str, Any] = await eventually(done, within_s)
    return result


async def _read(nc: Client, config: ConsumerConfig, count: int, within_s: float) -> list[OfficerBulletin]:
    js = nc.jetstream()
    with contextlib.suppress(Exception):  # made by the command centre already: bind to it as it is
        await js.add_consumer(subjects.records_stream, config)
    sub = await js.pull_subscribe_bind(durable=config.durable_name or "", stream=subjects.records_stream)
    found: list[OfficerBulletin] = []
    deadline = asyncio.get_running_loop().time() + within_s
    try:
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            try:
                messages = await sub.fetch(count - len(found), timeout=1)
            except TimeoutError:
                continue
            for msg in messages:
                found.append(OfficerBulletin.from_bytes(msg.data))
                await msg.ack()
    finally:
        await sub.unsubscribe()
    return found


async def broadcasts(
    nc: Client, officer: StaffUser, count: int, within_s: float = 10
) -> list[OfficerBulletin]:
    """The bulletins to every officer, read through this officer's own durable consumer."""
    config = broadcast_consumer_config(subjects, officer.government_id, officer.created_at, 30)
    assert config.durable_name == broadcast_consumer_name(officer.government_id)
    return await _read(nc, config, count, within_s)


async def casework_notices(
    nc: Client, officer: StaffUser, count: int, within_s: float = 10
) -> list[OfficerBulletin]:
    config = casework_consumer_config(subjects, officer.government_id, 30)
    assert config.durable_name == casework_consumer_name(officer.government_id)
    return await _read(nc, config, count, within_s)


def about(bulletins: list[OfficerBulletin], kind: str, subject_id: int) -> list[OfficerBulletin]:
    return [b for b in bulletins if b.subject.kind == kind and b.subject.id == subject_id]


async def drain_broadcasts(nc: Client, officer: StaffUser) -> list[OfficerBulletin]:
    """Everything on the officer's broadcast cursor now (a shared NATS holds other tests' bulletins)."""
    return await broadcasts(nc, officer, 10_000, within_s=2)


def served_services(served: Served) -> Any:
    return served.app.state.services


class Mailbox:
    """An officer's bulletins as their app keeps them: read (and acknowledged) once, looked up later."""

    def __init__(self, nc: Client, officer: StaffUser, *, casework: bool = False) -> None:
        self._nc = nc
        self._officer = officer
        self._casework = casework
        self.read: list[OfficerBulletin] = []

    async def find(
        self, kind: str, subject_id: int, within_s: float = 15.0, *, of_kind: str | None = None
    ) -> OfficerBulletin:
        """The first bulletin about this arrest or case (``kind`` of the subject: arrest, missing, udr),
        of the bulletin kind ``of_kind`` if given (arrest, wanted_elsewhere, missing_match, ...)."""
        deadline = asyncio.get_running_loop().time() + within_s
        read = casework_notices if self._casework else broadcasts
        while True:
            found = [b for b in about(self.read, kind, subject_id) if of_kind in (None, b.kind)]
            if found:
                return found[0]
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no bulletin about {kind} {subject_id} for officer {self._officer.id}")
            self.read += await read(self._nc, self._officer, 50, within_s=1)


async def bulletin_about(
    nc: Client,
    officer: StaffUser,
    kind: str,
    subject_id: int,
    *,
    casework: bool = False,
    within_s: float = 15.0,
    of_kind: str | None = None,
) -> OfficerBulletin:
    """The first bulletin about this arrest or case on the officer's broadcast (or casework) channel."""
    return await Mailbox(nc, officer, casework=casework).find(kind, subject_id, within_s, of_kind=of_kind)


async def nothing_on_casework(nc: Client, officer: StaffUser, arrest_id: int) -> None:
    """Nothing about this arrest reaches the officer's casework channel (waits 2 s)."""
    with contextlib.suppress(AssertionError):
        await bulletin_about(nc, officer, "arrest", arrest_id, casework=True, within_s=2)
        raise RuntimeError(f"officer {officer.id} was told about arrest {arrest_id}")
