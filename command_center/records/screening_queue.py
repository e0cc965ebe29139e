"""Screening of hotel check-ins through JetStream: off the request path, shared by replicas, never lost.

Once a check-in is committed its id is handed to ``ScreeningQueue.submit`` (no waiting): a publisher
task sends the ids gathered meanwhile as one message to ``safecity.checkins.screen.<deployment>`` on the
``SAFECITY_CHECKINS`` stream (deduplicated by JetStream on the ids it carries). A durable pull consumer
shared by every replica of the deployment (``ScreeningConsumer``) takes those messages and screens their
check-ins together (``CheckinScreener.screen_many``: one CNIC lookup for the lot), acknowledging only
when done: a replica that dies half-way leaves the message to be delivered again. A hit raises its
alert (``AlertStore.record_hit``), announced to the operators and the dispatcher as a camera hit's is.

What could still fall between the commit and the publish (a crash in that millisecond, NATS away for
longer than the retries) is found at every start: every check-in not yet screened is published again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from command_center.pull_loop import PullLoop
from command_center.records.screening import CheckinScreener
from pipeline.adapters.streams import checkins_stream_config
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

MAX_IDS_PER_MESSAGE = 500
PUBLISH_RETRY_S = 1.0
# Ids committed within this time go out as one message: at a thousand check-ins a second, one message
# (and one screening batch: a JetStream publish and fetch, a CNIC lookup, an update) per fifty check-ins
# rather than per group commit. Screening never decides the hotel's answer; an alert is 50 ms later.
PUBLISH_LINGER_S = 0.05
ACK_WAIT_S = 60.0
RETRY_DELAY_S = 5.0


def deployment_token(database_url: str) -> str:
    """The deployment's token in subjects: its database (check-in ids are that database's)."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:16]


class ScreeningQueue:
    """Publishes committed check-ins' ids for screening, in as few messages as the load allows."""

    def __init__(self, nc: NATS, names: Subjects, deployment: str) -> None:
        self._js = nc.jetstream()
        self._subject = names.checkin_screening(deployment)
        self._pending: list[int] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="checkin-screening-publisher")

    def submit(self, checkin_id: int) -> None:
        """Queue a committed check-in for screening (call on the event loop)."""
        self._pending.append(checkin_id)
        self._wake.set()

    async def close(self) -> None:
        """Publish what is queued (for a few seconds at most), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if not self._stopping:
                await asyncio.sleep(PUBLISH_LINGER_S)
            self._wake.clear()
            while self._pending:
                ids = self._pending[:MAX_IDS_PER_MESSAGE]
                try:
                    await self._publish(ids)
                except Exception as exc:
                    if self._stopping:
                        log.warning("%d check-in(s) not queued for screening at stop: %s", len(ids), exc)
                        return  # the next start publishes them again (they are unscreened)
                    log.warning("queueing check-ins for screening failed (%s); retrying", exc)
                    await asyncio.sleep(PUBLISH_RETRY_S)
                    continue
                del self._pending[: len(ids)]
                self.published += len(ids)
            if self._stopping:
                return

    async def _publish(self, ids: list[int]) -> None:
        body = json.dumps(ids).encode()
        digest = hashlib.sha256(self._subject.encode() + b"\n" + body).hexdigest()[:32]
        msg_id = f"screen-{digest}"  # a retried publish of the same ids is stored once
        await self._js.publish(self._subject, body, headers={"Nats-Msg-Id": msg_id})


class ScreeningConsumer(PullLoop):
    """The deployment's screening of check-ins, shared by its replicas."""

    what = "check-ins to screen"
    origin = "checkins"

    def __init__(
        self, nc: NATS, names: Subjects, screener: CheckinScreener, *, name: str, deployment: str
    ) -> None:
        super().__init__(nc, names, name=name, batch=8)
        self._screener = screener
        self._subject = names.checkin_screening(deployment)

    def streams(self) -> list[StreamConfig]:
        return [checkins_stream_config(self.names)]

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._name,
            description="command centre: hotel check-ins to screen",
            filter_subject=self._subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=64,
        )

    async def handle(self, msg: Msg) -> None:
        try:
            ids = [int(v) for v in json.loads(msg.data)]
        except (ValueError, TypeError) as exc:
            await self.give_up(msg, f"not a list of check-in ids: {exc}", {}, RETRY_DELAY_S)
            return
        try:
            await self._screener.screen_many(ids)
        except Exception as exc:
            log.warning("screening %d check-in(s) failed (%s); tried again shortly", len(ids), exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=RETRY_DELAY_S)
            return
        with contextlib.suppress(Exception):
            await msg.ack()
