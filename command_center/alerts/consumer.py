"""Hits (faces, hotlisted plates) from JetStream into the alert store, then out to every replica's feed.

A durable pull consumer shared by all command-centre replicas (JetStream hands each message to one of
them). A hit is acknowledged only after it is stored, so a crash redelivers it and the store recognises
it by its ``hit_id``. After storing, the alert is announced on core NATS ``alert_events()``, which every
replica relays to its own WebSocket clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Container
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from command_center.admin.deadletters import retryable
from command_center.alerts.store import AlertStore, HitOutcome
from command_center.alerts.views import stored_event
from command_center.pull_loop import PullLoop
from pipeline.adapters.streams import hits_stream_config
from pipeline.contracts import HIT_CONTRACTS
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

FETCH_BATCH = 32
ACK_WAIT_S = 30.0
# Never give up on a hit: a database outage of any length must lose none (a cap of 20 deliveries, 5 s
# apart, once dropped every hit of an outage longer than ~100 s). A hit that can never be stored is
# terminated explicitly instead (_reject).
MAX_DELIVER = -1
STORE_RETRY_DELAY_S = 5.0


@dataclass(slots=True)
class ConsumerStats:
    received: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    quiet: int = 0
    invalid: int = 0
    store_failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class HitConsumer(PullLoop):
    what = "hits"
    origin = "hits"

    def __init__(
        self,
        nc: NATS,
        names: Subjects,
        store: AlertStore,
        *,
        name: str,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
        batch: int = FETCH_BATCH,
        ack_wait_s: float = ACK_WAIT_S,
        retry_delay_s: float = STORE_RETRY_DELAY_S,
        cameras: Container[str] | None = None,
    ) -> None:
        super().__init__(nc, names, name=name, batch=batch, cameras=cameras)
        self._store = store
        self._deliver_policy = deliver_policy
        self._ack_wait_s = ack_wait_s
        self._retry_delay_s = retry_delay_s
        self.stats = ConsumerStats()

    def streams(self) -> list[StreamConfig]:
        return [hits_stream_config(self.names)]

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._name,
            description="command centre: hits to alerts",
            filter_subject=self.names.hits_all(),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            max_deliver=MAX_DELIVER,
            deliver_policy=self._deliver_policy,
            max_ack_pending=10 * self._batch,
        )

    # -- one message ---------------------------------------------------------------------------------

    async def handle(self, msg: Msg) -> None:
        self.stats.received += 1
        try:
            kind, subject_camera = self.names.parse_hit(msg.subject)
        except ValueError as exc:
            await self._reject(
                msg, f"no hit contract for subject {msg.subject}: {exc}", _message_ids(self.names, msg)
            )
            return
        contract = HIT_CONTRACTS[kind]
        try:
            hit = contract.from_bytes(msg.data)
        except ValueError as exc:
            await self._reject(msg, f"not a {contract.__name__}: {exc}", _message_ids(self.names, msg))
            return
        ids = {"camera_id": hit.camera_id, "event_id": str(hit.hit_id)}
        if subject_camera != hit.camera_id:  # a district's alerts must not be routed by a forged body
            await self._reject(msg, f"camera {hit.camera_id!r} in a hit on {msg.subject}", ids)
            return
        if await self.refused_camera(msg, hit.camera_id, ids, self._retry_delay_s):
            return
        try:
            outcome = await asyncio.to_thread(self._store.record_hit, hit, datetime.now(UTC))
        except Exception as exc:
            if not retryable(exc):  # the database refused this hit: it would refuse it every time
                await self._reject(msg, f"database refused hit {hit.hit_id}: {_reason(exc)}", ids)
                return
            # The database is away: leave the hit in JetStream and try again shortly.
            self.stats.store_failures += 1
            self._repeats.failed(
                "store", "could not store hit %s; will retry: %s", hit.hit_id, exc, extra=ids
            )
            with contextlib.suppress(Exception):
                await msg.nak(delay=self._retry_delay_s)
            return
        await msg.ack()
        if outcome.duplicate:
            self.stats.duplicates += 1
            return
        if outcome.quiet:
            self.stats.quiet += 1  # a closed alert's cooldown: on its timeline, announced to no one
            return
        await self._announce(outcome, ids)

    async def _reject(self, msg: Msg, reason: str, ids: dict[str, str]) -> None:
        """A message that can never be stored: dead-lettered, never redelivered for ever."""
        self.stats.invalid += 1
        await self.give_up(msg, reason, ids, self._retry_delay_s)

    async def _announce(self, outcome: HitOutcome, ids: dict[str, str]) -> None:
        if outcome.created:
            self.stats.created += 1
        else:
            self.stats.updated += 1
        try:
            await self._nc.publish(self.names.alert_events(), stored_event(outcome).to_bytes())
        except Exception as exc:
            # The alert is stored; operators see it on their next reload.
            log.warning(
                "could not announce alert %s: %s",
                outcome.alert.id,
                exc,
                extra={**ids, "alert_id": outcome.alert.id},
            )


def _message_ids(names: Subjects, msg: Msg) -> dict[str, str]:
    """Log ids of a hit that could not be read: the camera from its subject (<prefix>.hits.<kind>.<camera>)
    and the event id from the publisher's de-duplication header, where present."""
    ids = {}
    with contextlib.suppress(ValueError):
        ids["camera_id"] = names.parse_hit(msg.subject)[1]
    event_id = (msg.headers or {}).get("Nats-Msg-Id")
    if event_id:
        ids["event_id"] = event_id[:64]
    return ids


def _reason(exc: BaseException) -> str:
    """The database's own words where it gave them (SQLAlchemy wraps them), else the exception's."""
    original = getattr(exc, "orig", None)
    return f"{type(original or exc).__name__}: {original or exc}"
