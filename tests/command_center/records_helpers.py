"""Builders for CRO records and hotel check-in tests: signed-in clients, persons, hotels with keys."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from command_center.records.notices import consumer_name
from command_center.security.audit import AuditEntry, AuditTrail
from command_center.security.permissions import Role
from command_center.security.users import StaffUser
from pipeline.contracts import PersonNotice
from tests.command_center.helpers import Served, add_user, bearer, jpeg
from tests.names import subjects
from watchlist.governance import LegalBasis
from watchlist.store import NewPhoto, WatchlistStore

REASON = {"reason": "FIR 112/2025 PS Gulberg enquiry"}


async def client(served: Served, role: Role) -> httpx.AsyncClient:
    user = await add_user(served.app, role)
    return await client_of(served, user)


async def client_of(served: Served, user: StaffUser) -> httpx.AsyncClient:
    pair = await served.app.state.services.auth.open_session(user)
    return httpx.AsyncClient(base_url=served.url, timeout=15, headers=bearer(pair.access_token))


def cnic() -> str:
    digits = f"{uuid.uuid4().int % 10**13:013d}"
    return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"


def person(name: str = "Muhammad Husain", **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"category": "wanted", "name": name}
    values.update(fields)
    return values


async def add_person(http: httpx.AsyncClient, name: str = "Muhammad Husain", **fields: Any) -> dict[str, Any]:
    response = await http.post("/persons", json=person(name, **fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def hotel_key(
    served: Served, district: str = "Lahore", lat: float = 31.52, lon: float = 74.35
) -> tuple[int, str]:
    """A new hotel (with its location) and a live check-in key for it."""
    keys = served.app.state.services.apikeys
    licence = f"LIC-{uuid.uuid4().hex[:10]}"
    hotel = await asyncio.to_thread(
        keys.create_hotel, "Hotel Eye Inn", licence, "12 Mall Road", district, lat, lon
    )
    issued = await asyncio.to_thread(keys.issue_key, hotel.id, ["checkins:post"], "front desk", "test")
    return int(hotel.id), str(issued.raw_key)


def checkin(booking: str, guest_cnic: str, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "booking_ref": booking,
        "guest_name": "Mohd Hussain",
        "cnic": guest_cnic,
        "phone": "0300 1234567",
        "room": "204",
        "checked_in_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    values.update(fields)
    return values


def audited(served: Served, action: str, target: str | None = None) -> list[AuditEntry]:
    trail: AuditTrail = served.app.state.services.audit
    return trail.query(action=action, target=target)


def watchlist_profile(served: Served, name: str = "Muhammad Husain") -> int:
    """An active watchlist profile with a random embedding (no face models needed)."""
    store: WatchlistStore = served.app.state.services.watchlist
    vector = np.random.default_rng(7).standard_normal(128).astype(np.float32)
    photo = NewPhoto(jpeg((0, 0, 200)), jpeg((0, 0, 200)), 32, 32, vector / np.linalg.norm(vector))
    basis = LegalBasis("FIR 12/2025 PS Saddar", "SSP Investigation", datetime.now(UTC) + timedelta(days=30))
    added = store.add_profile(
        name, "wanted", [photo], "test-model", basis=basis, proposed_by="t", approved_by="u"
    )
    return int(added.profile_id)


async def officer_notices(
    nc: Client, officer: StaffUser, count: int, within_s: float = 10.0
) -> list[PersonNotice]:
    """The officer's personal-watchlist notices, read as the officer app would (their durable consumer)."""
    js = nc.jetstream()
    key = officer.government_id
    config = ConsumerConfig(
        durable_name=consumer_name(key),
        filter_subject=subjects.records_officer(key),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
    )
    await js.add_consumer(subjects.records_stream, config)
    sub = await js.pull_subscribe_bind(durable=consumer_name(key), stream=subjects.records_stream)
    found: list[PersonNotice] = []
    deadline = asyncio.get_running_loop().time() + within_s
    while len(found) < count and asyncio.get_running_loop().time() < deadline:
        try:
            messages = await sub.fetch(count - len(found), timeout=1)
        except TimeoutError:
            continue
        for msg in messages:
            found.append(PersonNotice.from_bytes(msg.data))
            await msg.ack()
    await sub.unsubscribe()
    return found
