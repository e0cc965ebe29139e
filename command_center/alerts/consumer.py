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
from collections.abc import Callable, Container
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from command_center.admin.deadletters import retryable
from command_center.alerts.store import AlertStore, HitOutcome
from command_center.alerts.views import stored_event
from command_center.pull_loop import PullLoop
from pipeline.adapters.streams import hits_stream_config
from pipeline.contracts import HIT_CONTRACTS, FaceEvidence, Hit
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)
T = TypeVar("T")
M = TypeVar("M", bound=Hit | FaceEvidence)

FETCH_BATCH = 32
ACK_WAIT_S = 30.0
# Never give up on a hit: a database outage of any length must lose none (a cap of 20 deliveries, 5 s
# apart, once dropped every hit of an outage longer than ~100 s). A hit that can never be stored is
# terminated explicitly instead (_reject).
MAX_DELIVER = -1
STORE_RETRY_DELAY_S = 5.0
# A face hit's later images that find no stored hit are tried this many times (its hit may be waiting
# for a retry, or with another replica), then dropped: their alert may have been purged.
UNKNOWN_HIT_TRIES = 3
_DROPPED = {
    "unknown": "no alert has that hit (purged, or never stored)",
    "superseded": "its alert shows a better sighting's images now",
    "purged": "its alert's images were purged",
    "duplicate": "already on its alert",
}


@dataclass(slots=True)
class ConsumerStats:
    received: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    quiet: int = 0
    invalid: int = 0
    store_failures: int = 0
    evidence: dict[str, int] = field(default_factory=dict)  # face hits' later images, by outcome

    def as_dict(self) -> dict[str, int]:
        figures = asdict(self)
        for result, count in figures.pop("evidence").items():
            figures[f"evidence_{result}"] = count
        return figures


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
        camera_id = self.names.parse_face_evidence(msg.subject)
        if camera_id is not None:
            await self._sharper_images(msg, camera_id)
            return
        try:
            kind, subject_camera = self.names.parse_hit(msg.subject)
        except ValueError as exc:
            await self._reject(
                msg, f"no hit contract for subject {msg.subject}: {exc}", _message_ids(self.names, msg)
            )
            return
        admitted = await self._admitted(msg, HIT_CONTRACTS[kind], subject_camera)
        if admitted is None:
            return
        hit, ids = admitted
        outcome = await self._stored(
            msg, f"hit {hit.hit_id}", ids, self._store.record_hit, hit, datetime.now(UTC)
        )
        if outcome is None:
            return
        await msg.ack()
        if outcome.duplicate:
            self.stats.duplicates += 1
            return
        if outcome.quiet:
            self.stats.quiet += 1  # a closed alert's cooldown: on its timeline, announced to no one
            return
        if outcome.created:
            self.stats.created += 1
        else:
            self.stats.updated += 1
        await self._announce(outcome, ids)

    async def _sharper_images(self, msg: Msg, subject_camera: str) -> None:
        """A face hit's main-stream images, after the hit: onto its alert in place, announced as an update.
        One for a hit not stored (yet: stored after a retry, or another replica is storing it) is tried
        again a few times, then dropped with a log line, as is one for an alert purged or superseded."""
        admitted = await self._admitted(msg, FaceEvidence, subject_camera)
        if admitted is None:
            return
        update_, ids = admitted
        outcome = await self._stored(
            msg, f"evidence of hit {update_.hit_id}", ids, self._store.record_evidence, update_
        )
        if outcome is None:
            return
        if outcome.result == "unknown" and msg.metadata.num_delivered < UNKNOWN_HIT_TRIES:
            with contextlib.suppress(Exception):
                await msg.nak(delay=self._retry_delay_s)
            return
        await msg.ack()
        self.stats.evidence[outcome.result] = self.stats.evidence.get(outcome.result, 0) + 1
        if not outcome.changed:
            log.info("evidence of hit %s dropped: %s", update_.hit_id, _DROPPED[outcome.result], extra=ids)
            return
        assert outcome.alert_id is not None
        alert = await asyncio.to_thread(self._store.get_alert, outcome.alert_id)
        if alert is not None:
            await self._announce(HitOutcome(alert, created=False, duplicate=False), ids)

    async def _admitted(
        self, msg: Msg, contract: type[M], subject_camera: str
    ) -> tuple[M, dict[str, str]] | None:
        """The message as ``contract`` with its log ids, if it is one, from the camera its subject names
        (a district's alerts must not be routed by a forged body) and a camera this deployment knows;
        else None, the message set aside (dead-lettered, or tried again for an unknown camera)."""
        try:
            message = cast(M, contract.from_bytes(msg.data))
        except ValueError as exc:
            await self._reject(msg, f"not a {contract.__name__}: {exc}", _message_ids(self.names, msg))
            return None
        ids = {"camera_id": message.camera_id, "event_id": str(message.hit_id)}
        if subject_camera != message.camera_id:
            await self._reject(
                msg, f"camera {message.camera_id!r} in a {contract.__name__} on {msg.subject}", ids
            )
            return None
        if await self.refused_camera(msg, message.camera_id, ids, self._retry_delay_s):
            return None
        return message, ids

    async def _stored(
        self, msg: Msg, what: str, ids: dict[str, str], store: Callable[..., T], *args: Any
    ) -> T | None:
        """``store(*args)`` on a worker thread; None when it failed: a message the database refuses is
        dead-lettered (it would refuse it every time), one it could not take now (away) is tried again
        shortly, left in JetStream."""
        try:
            return await asyncio.to_thread(store, *args)
        except Exception as exc:
            if not retryable(exc):
                await self._reject(msg, f"database refused {what}: {_reason(exc)}", ids)
                return None
            self.stats.store_failures += 1
            self._repeats.failed("store", "could not store %s; will retry: %s", what, exc, extra=ids)
            with contextlib.suppress(Exception):
                await msg.nak(delay=self._retry_delay_s)
            return None

    async def _reject(self, msg: Msg, reason: str, ids: dict[str, str]) -> None:
        """A message that can never be stored: dead-lettered, never redelivered for ever."""
        self.stats.invalid += 1
        await self.give_up(msg, reason, ids, self._retry_delay_s)

    async def _announce(self, outcome: HitOutcome, ids: dict[str, str]) -> None:
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
