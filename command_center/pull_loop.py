"""A durable JetStream pull consumer shared by command-centre replicas: create, bind, fetch, recover.

Subclasses say which stream and subject (``stream``, ``consumer_config``), what to do before each batch
(``before_batch``) and with each message (``handle``); this class owns the task, the fetch loop and the
recovery from disconnections (back off, bind again), and stops after finishing the batch in hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Container

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, RawStreamMsg, StreamConfig
from nats.js.errors import APIError

from command_center.admin.deadletters import dead_letter
from pipeline.adapters.streams import ensure_stream
from pipeline.aio import cancel_and_wait
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 1.0
MAX_ERROR_BACKOFF_S = 5.0
STOP_TIMEOUT_S = 10.0
# A message from a camera the deployment does not know is tried this often, this far apart, before it is
# dead-lettered: a camera just added reaches the directory within milliseconds of its catalogue entry.
UNKNOWN_CAMERA_TRIES = 5
UNKNOWN_CAMERA_DELAY_S = 1.0


class RepeatLog:
    """Logs a failure in full the first time, then the same kind of failure once a minute with how many
    times it recurred meanwhile: an outage or a stream of bad messages does not write megabytes."""

    def __init__(self, every_s: float = 60.0) -> None:
        self._every_s = every_s
        self._seen: dict[str, tuple[float, int]] = {}  # kind -> (last logged at, repeats since)

    def failed(self, kind: str, message: str, *args: object, extra: dict[str, str] | None = None) -> None:
        now = time.monotonic()
        logged_at, repeats = self._seen.get(kind, (-float("inf"), 0))
        if now - logged_at < self._every_s:
            self._seen[kind] = (logged_at, repeats + 1)
            return
        self._seen[kind] = (now, 0)
        suffix = f" (and {repeats} more like it in the last {self._every_s:.0f} s)" if repeats else ""
        log.warning(message + suffix, *args, exc_info=repeats == 0 and logged_at < 0, extra=extra)


class PullLoop:
    what = "messages"  # for log lines: "fetching <what> failed"
    origin = "messages"  # the dead-letter subject token of this loop's messages

    def __init__(
        self, nc: NATS, names: Subjects, *, name: str, batch: int, cameras: Container[str] | None = None
    ) -> None:
        self._cameras = cameras  # None: every camera is accepted
        self.unknown_cameras = 0
        self._repeats = RepeatLog()
        self.dead_lettered = 0
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self.names = names  # the deployment's subjects and streams
        self._name = name
        self._batch = batch
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._handling = False  # inside a batch: stop() lets it finish so its messages are acked
        self.fetch_errors = 0

    # -- what a subclass provides ----------------------------------------------------------------------

    def streams(self) -> list[StreamConfig]:
        """Streams to create if missing; the first is the one consumed."""
        raise NotImplementedError

    def consumer_config(self) -> ConsumerConfig:
        raise NotImplementedError

    async def before_batch(self) -> None:
        """Called before each batch is handled."""

    async def give_up(self, msg: Msg, reason: str, ids: dict[str, str], retry_delay_s: float) -> None:
        """A message that can never be handled: copied with ``reason`` to the dead letters, then
        terminated. If the copy fails it is not lost: it waits in its stream and is tried again."""
        try:
            await dead_letter(self._js, self.names, msg, self.origin, self._name, reason)
        except Exception as exc:
            self._repeats.failed("dead-letter", "could not dead-letter a message on %s: %s", msg.subject, exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=retry_delay_s)
            return
        self.dead_lettered += 1
        self._repeats.failed(
            f"dead:{reason[:40]}", "dead-lettered a message on %s: %s", msg.subject, reason[:500], extra=ids
        )
        with contextlib.suppress(Exception):
            await msg.term()

    async def refused_camera(
        self, msg: Msg, camera_id: str, ids: dict[str, str], retry_delay_s: float
    ) -> bool:
        """Whether the message came from a camera this deployment does not know, and was set aside: tried
        again shortly for its first few deliveries, then dead-lettered (another deployment's camera on a
        shared NATS, a forged or misconfigured publisher). Its alert would reach no district's operators."""
        if self._cameras is None or camera_id in self._cameras:
            return False
        if msg.metadata.num_delivered < UNKNOWN_CAMERA_TRIES:
            with contextlib.suppress(Exception):
                await msg.nak(delay=UNKNOWN_CAMERA_DELAY_S)
            return True
        self.unknown_cameras += 1
        reason = f"unknown camera {camera_id!r}: in neither the settings nor the camera catalogue"
        await self.give_up(msg, reason, ids, retry_delay_s)
        return True

    async def oldest_unacked_age_s(self) -> float:
        """How long the oldest message not yet acknowledged has waited (0 when none waits): a consumer
        that keeps failing on one shows it here, whatever its stats say."""
        streams = self.streams()
        stream = streams[0].name
        assert stream is not None
        info = await self._js.consumer_info(stream, self._name)
        if not (info.num_ack_pending or info.num_pending):
            return 0.0
        first = (info.ack_floor.stream_seq if info.ack_floor else 0) + 1
        try:
            oldest = await self._js.get_msg(stream, first)
        except Exception:
            return 0.0  # gone meanwhile (acknowledged, or aged out of the stream)
        sent = _published_at(oldest)
        return max(0.0, time.time() - sent) if sent else 0.0

    async def handle(self, msg: Msg) -> None:
        raise NotImplementedError

    # -- the loop ------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Create the streams and the consumer (first replica wins) and start fetching."""
        subscription = await self._subscribe()
        self._task = asyncio.create_task(self._run(subscription), name=f"{self.what}:{self._name}")

    async def stop(self) -> None:
        """Finish the batch in hand (so its messages are acked), then stop."""
        self._stopping.set()
        if self._task is None:
            return
        if not self._handling:
            # Waiting on a fetch: nothing in hand to ack, so there is no need to wait for its timeout.
            self._task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
        except TimeoutError:
            await cancel_and_wait(self._task)
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise  # the caller itself was cancelled

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        streams = self.streams()
        for config in streams:
            await ensure_stream(self._js, config)
        stream = streams[0].name
        assert stream is not None
        try:
            await self._js.add_consumer(stream, self.consumer_config())
        except APIError as exc:
            # An existing consumer whose settings cannot be changed in place: keep using it.
            log.warning("using existing consumer %s as it is: %s", self._name, exc)
        return await self._js.pull_subscribe_bind(durable=self._name, stream=stream)

    async def _run(self, subscription: JetStreamContext.PullSubscription | None) -> None:
        # The subscription is dropped however the loop ends (stop() cancels a waiting fetch): a pull
        # request left behind would be answered into an inbox nobody reads, and closing the connection
        # (drain) would then wait its whole timeout for that message to be taken.
        try:
            backoff = 0.2
            while not self._stopping.is_set():
                try:
                    if subscription is None:
                        subscription = await self._subscribe()
                    messages = await subscription.fetch(self._batch, timeout=FETCH_TIMEOUT_S)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue  # nothing to do for a second
                except Exception as exc:
                    # Disconnected, reconnecting, or the consumer vanished: wait, then bind again.
                    self.fetch_errors += 1
                    log.warning(
                        "fetching %s failed (%s: %s); retrying in %.1fs",
                        self.what,
                        type(exc).__name__,
                        exc,
                        backoff,
                    )
                    await self._discard(subscription)
                    subscription = None
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, MAX_ERROR_BACKOFF_S)
                    continue
                backoff = 0.2
                self._handling = True
                try:
                    await self.before_batch()
                    for msg in messages:
                        await self.handle(msg)
                finally:
                    self._handling = False
        finally:
            await self._discard(subscription)

    @staticmethod
    async def _discard(subscription: JetStreamContext.PullSubscription | None) -> None:
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


def _published_at(raw: RawStreamMsg) -> float:
    """When JetStream stored a message fetched by sequence, in Unix time (0 when it does not say)."""
    return raw.time.timestamp() if raw.time is not None else 0.0
