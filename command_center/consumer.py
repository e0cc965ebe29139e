"""Face hits from JetStream into the alert store, then out to every replica's live feed.

A durable pull consumer shared by all command-centre replicas (JetStream hands each message to one of
them). A hit is acknowledged only after it is stored, so a crash redelivers it and the store recognises
it by its ``hit_id``. After storing, the alert is announced on core NATS ``alert_events()``, which every
replica relays to its own WebSocket clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError
from sqlalchemy.exc import DataError

from command_center.store import AlertStore, HitOutcome
from command_center.views import AlertView
from pipeline import subjects
from pipeline.contracts import AlertEvent, FaceHit
from pipeline.streams import ensure_stream, hits_stream_config

log = logging.getLogger(__name__)

FETCH_BATCH = 32
FETCH_TIMEOUT_S = 1.0
ACK_WAIT_S = 30.0
MAX_DELIVER = 20
STORE_RETRY_DELAY_S = 5.0
MAX_ERROR_BACKOFF_S = 5.0
STOP_TIMEOUT_S = 10.0


@dataclass(slots=True)
class ConsumerStats:
    received: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    invalid: int = 0
    store_failures: int = 0
    fetch_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class HitConsumer:
    def __init__(
        self,
        nc: NATS,
        store: AlertStore,
        *,
        name: str,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
        batch: int = FETCH_BATCH,
    ) -> None:
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self._store = store
        self._name = name
        self._deliver_policy = deliver_policy
        self._batch = batch
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stats = ConsumerStats()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Create the stream and consumer (first replica wins) and start fetching."""
        subscription = await self._subscribe()
        self._task = asyncio.create_task(self._run(subscription), name=f"hit-consumer:{self._name}")

    async def stop(self) -> None:
        """Finish the batch in hand (so its hits are acked), then stop."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- fetching ------------------------------------------------------------------------------------

    def _consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._name,
            description="command centre: face hits to alerts",
            filter_subject=subjects.hits_face_all(),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            max_deliver=MAX_DELIVER,
            deliver_policy=self._deliver_policy,
            max_ack_pending=10 * self._batch,
        )

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        await ensure_stream(self._js, hits_stream_config())
        try:
            await self._js.add_consumer(subjects.HITS_STREAM, self._consumer_config())
        except APIError as exc:
            # An existing consumer whose settings cannot be changed in place: keep using it.
            log.warning("using existing consumer %s as it is: %s", self._name, exc)
        return await self._js.pull_subscribe_bind(durable=self._name, stream=subjects.HITS_STREAM)

    async def _run(self, subscription: JetStreamContext.PullSubscription | None) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                if subscription is None:
                    subscription = await self._subscribe()
                messages = await subscription.fetch(self._batch, timeout=FETCH_TIMEOUT_S)
            except nats.errors.TimeoutError:
                continue  # nothing to do for a second
            except Exception as exc:
                # Disconnected, reconnecting, or the consumer vanished: wait, then bind again.
                self.stats.fetch_errors += 1
                log.warning(
                    "fetching hits failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, backoff
                )
                await self._discard(subscription)
                subscription = None
                await self._sleep(backoff)
                backoff = min(backoff * 2, MAX_ERROR_BACKOFF_S)
                continue
            backoff = 0.2
            for msg in messages:
                await self.handle(msg)
        await self._discard(subscription)

    @staticmethod
    async def _discard(subscription: JetStreamContext.PullSubscription | None) -> None:
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- one message ---------------------------------------------------------------------------------

    async def handle(self, msg: Msg) -> None:
        self.stats.received += 1
        try:
            hit = FaceHit.from_bytes(msg.data)
        except ValueError as exc:
            await self._reject(msg, f"not a FaceHit: {exc}")
            return
        try:
            outcome = await asyncio.to_thread(self._store.record_hit, hit, datetime.now(UTC))
        except DataError as exc:
            await self._reject(msg, f"database refused hit {hit.hit_id}: {exc.orig}")
            return
        except Exception:
            # The database is away: leave the hit in JetStream and try again shortly.
            self.stats.store_failures += 1
            log.exception("could not store hit %s; will retry", hit.hit_id)
            with contextlib.suppress(Exception):
                await msg.nak(delay=STORE_RETRY_DELAY_S)
            return
        await msg.ack()
        if outcome.duplicate:
            self.stats.duplicates += 1
            return
        await self._announce(outcome)

    async def _reject(self, msg: Msg, reason: str) -> None:
        """Terminate a message that can never be stored, so it is not redelivered forever."""
        self.stats.invalid += 1
        log.warning("terminated message on %s: %s", msg.subject, reason[:500])
        with contextlib.suppress(Exception):
            await msg.term()

    async def _announce(self, outcome: HitOutcome) -> None:
        if outcome.created:
            self.stats.created += 1
        else:
            self.stats.updated += 1
        event = AlertEvent(
            kind="created" if outcome.created else "updated",
            alert_id=outcome.alert.id,
            camera_id=outcome.alert.camera_id,
            alert=AlertView.of(outcome.alert).as_json(),
        )
        try:
            await self._nc.publish(subjects.alert_events(), event.to_bytes())
        except Exception as exc:
            # The alert is stored; operators see it on their next reload.
            log.warning("could not announce alert %s: %s", outcome.alert.id, exc)
