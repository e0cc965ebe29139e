"""Officers' bulletins over durable JetStream channels (the SAFECITY_RECORDS stream, kept 7 days).

* To every officer: one ``OfficerBulletin`` on ``subjects.records_broadcast()`` (an arrest, a missing
  person, an unidentified body). Each officer reads it through a durable consumer of their own
  (``records-broadcast-<government ID>``) that starts at the account's creation: the message is stored
  once, every officer's consumer keeps its own place, so an officer who was offline gets every bulletin
  when the app reconnects, and a consumer made late (a new replica, a new phone) loses nothing kept.
* To one officer: an ``OfficerBulletin`` on ``subjects.records_casework(<government ID>)`` (someone in
  their case was arrested elsewhere; a missing person and a body may be the same person), read by the
  durable consumer ``records-casework-<government ID>``.

The officer's WebSocket (``officer_channel.py``) relays both, as ``bulletin`` and ``casework``.

"Officers" are the active accounts of the roles in ``OFFICER_ROLES``. Every publication carries a
``Nats-Msg-Id`` naming the event, so a retry or a second replica stores it once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime
from typing import Any

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError

from command_center.dispatch.officer_channel import Feed, Render, browser_json
from command_center.security.permissions import Role
from command_center.security.users import StaffUser, UserStore
from pipeline.adapters.streams import ensure_stream, records_stream_config
from pipeline.contracts import OfficerBulletin
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

OFFICER_ROLES = frozenset({Role.PATROL_OFFICER, Role.SUPERVISOR})


def broadcast_consumer_name(officer_key: str) -> str:
    return f"records-broadcast-{officer_key}"


def casework_consumer_name(officer_key: str) -> str:
    return f"records-casework-{officer_key}"


def broadcast_consumer_config(
    names: Subjects, officer_key: str, since: datetime, ack_wait_s: float
) -> ConsumerConfig:
    """The officer's cursor over the broadcast: from the account's creation on."""
    return ConsumerConfig(
        durable_name=broadcast_consumer_name(officer_key),
        description="bulletins to every officer, read by one officer",
        filter_subject=names.records_broadcast(),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait_s,
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=since,
        max_ack_pending=256,
    )


def casework_consumer_config(names: Subjects, officer_key: str, ack_wait_s: float) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=casework_consumer_name(officer_key),
        description="an officer's casework coordination notices",
        filter_subject=names.records_casework(officer_key),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait_s,
        deliver_policy=DeliverPolicy.ALL,
        max_ack_pending=256,
    )


class Bulletins:
    def __init__(self, nc: NATS, names: Subjects, users: UserStore, *, ack_wait_s: float) -> None:
        self._js: JetStreamContext = nc.jetstream()
        self._names = names
        self._users = users
        self._ack_wait_s = ack_wait_s
        self._consumers: set[str] = set()
        self.broadcasts = 0
        self.told = 0

    async def start(self) -> None:
        await ensure_stream(self._js, records_stream_config(self._names))

    async def _ensure(self, config: ConsumerConfig) -> None:
        name = config.durable_name or ""
        if name in self._consumers:
            return
        try:
            await self._js.add_consumer(self._names.records_stream, config)
        except APIError as exc:
            log.warning("using the consumer %s as it is: %s", name, exc)
        self._consumers.add(name)

    async def ensure_officer(self, user: StaffUser) -> None:
        """The officer's two durable consumers (idempotent)."""
        key = user.government_id
        await self._ensure(broadcast_consumer_config(self._names, key, user.created_at, self._ack_wait_s))
        await self._ensure(casework_consumer_config(self._names, key, self._ack_wait_s))

    def feeds(self, user: StaffUser) -> list[Feed]:
        """The officer's two channels for their WebSocket: ``{"type": "bulletin"|"casework", "notice"}``."""
        key = user.government_id
        ensure = functools.partial(self.ensure_officer, user)
        return [
            Feed(self._names.records_stream, broadcast_consumer_name(key), ensure, _render("bulletin")),
            Feed(self._names.records_stream, casework_consumer_name(key), ensure, _render("casework")),
        ]

    async def officers(self) -> list[StaffUser]:
        users = await asyncio.to_thread(self._users.list)
        return [u for u in users if u.active and u.role in OFFICER_ROLES]

    async def broadcast(self, bulletin: OfficerBulletin, dedup: str) -> None:
        """Store the bulletin once for every officer (raises if NATS does not take it)."""
        await self._js.publish(
            self._names.records_broadcast(),
            bulletin.to_bytes(),
            stream=self._names.records_stream,
            headers={"Nats-Msg-Id": f"broadcast:{dedup}"},
        )
        self.broadcasts += 1
        for officer in await self.officers():  # their cursors exist before their apps first ask
            try:
                await self.ensure_officer(officer)
            except Exception as exc:
                log.warning("no broadcast consumer for officer %s yet: %s", officer.id, exc)

    async def tell(self, officer_id: int, bulletin: OfficerBulletin, dedup: str) -> bool:
        """A notice on one officer's casework channel; False if the account is gone or disabled."""
        user = await asyncio.to_thread(self._users.get, officer_id)
        if user is None or not user.active:
            return False
        await self._ensure(casework_consumer_config(self._names, user.government_id, self._ack_wait_s))
        addressed = bulletin.model_copy(update={"officer_id": officer_id})
        await self._js.publish(
            self._names.records_casework(user.government_id),
            addressed.to_bytes(),
            stream=self._names.records_stream,
            headers={"Nats-Msg-Id": f"casework:{dedup}:{user.government_id}"},
        )
        self.told += 1
        return True

    async def tell_all(self, officer_ids: set[int], bulletin: OfficerBulletin, dedup: str) -> list[int]:
        """``tell`` each officer; the ids actually told (a failure is logged, the rest go on)."""
        told = []
        for officer_id in sorted(officer_ids):
            try:
                if await self.tell(officer_id, bulletin, dedup):
                    told.append(officer_id)
            except Exception:
                log.exception("could not tell officer %s (%s)", officer_id, dedup)
        return told


def _render(kind: str) -> Render:
    async def render(data: bytes) -> dict[str, Any]:
        return {"type": kind, "notice": browser_json(OfficerBulletin.from_bytes(data))}

    return render
