"""Each officer's durable channels: JetStream subjects and durable consumers per officer, over one WebSocket.

A dispatch notice is published to ``subjects.dispatch_officer(<officer key>)`` (the officer's government
ID: stable, unique, and never reused) in the SAFECITY_DISPATCH stream. The officer's durable pull
consumer keeps its place whether or not anyone is connected, so an officer whose phone was offline gets
every notice on reconnection. The records notices (personal watchlist, bulletins to every officer,
casework) come the same way from the officer's consumers on the SAFECITY_RECORDS stream: each consumer
is a ``Feed``, and one WebSocket relays all of an officer's feeds.

The app confirms each notice it received (``{"type": "received", "seq": n}``); unconfirmed notices are
sent again after ``ack_wait`` and, when the socket closes, are released at once for the next connection.
``seq`` numbers a notice on its connection (the feeds' streams number their messages independently, so
a stream sequence would not name one notice); a notice sent again on the same connection keeps its number.

Two connections of one officer (phone and tablet) share the consumers: each notice goes to one of them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from pipeline.adapters.streams import dispatch_stream_config, ensure_stream
from pipeline.aio import cancel_and_wait
from pipeline.contracts import DispatchNotice, Message, SessionRevoked
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

FETCH_BATCH = 8
FETCH_TIMEOUT_S = 1.0
MAX_CLIENT_MESSAGE = 4096
CLOSE_GOING_AWAY = 1001
CLOSE_EXPIRED = 4401
CLOSE_FAILED = 1011  # the server could not read the channel (NATS away): reconnect shortly
CLOSE_TIMEOUT_S = 2.0
# A consumer nobody read for this long is removed by the server (the stream keeps notices as long), so
# accounts that left the force do not leave consumers behind; it is made again at the next notice.
CHANNEL_IDLE_S = 7 * 86_400.0

Describe = Callable[[DispatchNotice], Awaitable[dict[str, Any]]]
Handle = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
# A message's payload -> what the app is sent (with its "type"); raises pydantic's ValidationError for
# a payload that is not the feed's contract (such a message is terminated, never sent).
Render = Callable[[bytes], Awaitable[dict[str, Any]]]


def consumer_name(officer_key: str) -> str:
    return f"officer-{officer_key}"


def browser_json(message: Message) -> dict[str, Any]:
    """A message for a browser: a photo in standard base64 (what ``atob`` and data: URLs take;
    pydantic writes the URL-safe alphabet)."""
    body = message.model_dump(mode="json")
    photo = getattr(message, "photo_jpeg", None)
    if "photo_jpeg" in body:
        body["photo_jpeg"] = base64.b64encode(photo).decode() if isinstance(photo, bytes) and photo else None
    return body


@dataclass(frozen=True, slots=True)
class Feed:
    """One durable consumer of an officer, relayed over their WebSocket."""

    stream: str
    durable: str
    ensure: Callable[[], Awaitable[None]]  # makes the consumer if it is not there (idempotent)
    render: Render


@dataclass(eq=False)
class _Connection:
    user_id: int
    session_id: str | None
    still_valid: Callable[[], Awaitable[bool]] | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int = CLOSE_GOING_AWAY

    def stop(self, code: int) -> None:
        self.close_code = code
        self.stopped.set()


@dataclass(frozen=True, slots=True)
class OfficerSession:
    """Who is on the other end of an officer WebSocket, and until when."""

    officer_key: str
    user_id: int
    session_id: str | None
    until: float | None
    still_valid: Callable[[], Awaitable[bool]]
    recheck_s: float


class OfficerChannels:
    def __init__(self, nc: NATS, names: Subjects, *, ack_wait_s: float) -> None:
        self._nc = nc
        self._names = names
        self._js: JetStreamContext = nc.jetstream()
        self._ack_wait_s = ack_wait_s
        self._consumers: set[str] = set()
        self._connections: set[_Connection] = set()
        self._subscription: Subscription | None = None
        self.published = 0

    async def start(self) -> None:
        await ensure_stream(self._js, dispatch_stream_config(self._names))
        self._subscription = await self._nc.subscribe(self._names.sessions_revoked(), cb=self._on_revoked)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        for connection in list(self._connections):
            connection.stop(CLOSE_GOING_AWAY)

    async def _on_revoked(self, msg: Msg) -> None:
        try:
            event = SessionRevoked.from_bytes(msg.data)
        except ValidationError:
            return
        for connection in list(self._connections):
            if event.session_id is not None and connection.session_id != event.session_id:
                continue
            if event.user_id is not None and connection.user_id != event.user_id:
                continue
            # An account id alone is unique only within one database (see AlertFeed.revoke): check first.
            if event.session_id is None and connection.still_valid is not None:
                try:
                    if await connection.still_valid():
                        continue
                except Exception:
                    log.exception("could not re-check an officer's session on a revocation; closing it")
            connection.stop(CLOSE_EXPIRED)

    # -- publishing ----------------------------------------------------------------------------------

    async def ensure_consumer(self, officer_key: str) -> None:
        """The officer's durable consumer (idempotent); it starts at the first notice ever kept for them."""
        if officer_key in self._consumers:
            return
        config = ConsumerConfig(
            durable_name=consumer_name(officer_key),
            description="an officer's dispatch notifications",
            filter_subject=self._names.dispatch_officer(officer_key),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=256,
            inactive_threshold=CHANNEL_IDLE_S,
        )
        try:
            await self._js.add_consumer(self._names.dispatch_stream, config)
        except APIError as exc:
            log.warning("using the officer consumer %s as it is: %s", config.durable_name, exc)
        self._consumers.add(officer_key)

    def feed(self, officer_key: str, describe: Describe) -> Feed:
        """The officer's dispatch notices as a feed: ``{"type": "dispatch"|"cancelled", ...describe()}``."""

        async def render(data: bytes) -> dict[str, Any]:
            notice = DispatchNotice.from_bytes(data)
            return {**await describe(notice), "type": notice.kind}

        return Feed(
            self._names.dispatch_stream,
            consumer_name(officer_key),
            functools.partial(self.ensure_consumer, officer_key),
            render,
        )

    async def publish(self, officer_key: str, notice: DispatchNotice) -> None:
        await self.ensure_consumer(officer_key)
        await self._js.publish(
            self._names.dispatch_officer(officer_key),
            notice.to_bytes(),
            stream=self._names.dispatch_stream,
            headers={"Nats-Msg-Id": str(notice.event_id)},
        )
        self.published += 1

    # -- serving one WebSocket -----------------------------------------------------------------------

    async def serve(
        self, websocket: WebSocket, session: OfficerSession, feeds: Sequence[Feed], handle: Handle
    ) -> None:
        """Relay the officer's feeds to an accepted WebSocket and its requests to ``handle``."""
        subscriptions: list[JetStreamContext.PullSubscription] = []
        try:
            for feed in feeds:
                await feed.ensure()
                subscriptions.append(
                    await self._js.pull_subscribe_bind(durable=feed.durable, stream=feed.stream)
                )
            await self._relay(websocket, session, list(zip(feeds, subscriptions, strict=True)), handle)
        finally:
            for subscription in subscriptions:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()

    async def _relay(
        self,
        websocket: WebSocket,
        session: OfficerSession,
        feeds: list[tuple[Feed, JetStreamContext.PullSubscription]],
        handle: Handle,
    ) -> None:
        connection = _Connection(session.user_id, session.session_id, session.still_valid)
        self._connections.add(connection)
        link = _Link(websocket, handle)
        pumps = [asyncio.create_task(link.pump(feed, subscription)) for feed, subscription in feeds]
        tasks = [
            *pumps,
            asyncio.create_task(link.listen()),
            asyncio.create_task(connection.stopped.wait()),
            asyncio.create_task(_watch(connection, session)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for (feed, _), pump in zip(feeds, pumps, strict=True):
                failed = pump.exception() if pump.done() and not pump.cancelled() else None
                if failed is not None:
                    log.warning(
                        "officer channel %s failed: %s: %s", feed.durable, type(failed).__name__, failed
                    )
                    connection.stop(CLOSE_FAILED)
        finally:
            self._connections.discard(connection)
            await asyncio.gather(*(cancel_and_wait(task) for task in tasks))
            # Drop the pull subscriptions before handing notices back: a cancelled fetch's pull request
            # may still be waiting on the server, and a notice released into it would be "delivered" to
            # nobody and come back only after ack_wait (seen once: the next connection waited > 10 s).
            for _, subscription in feeds:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
            await link.release()
        if connection.stopped.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(code=connection.close_code), CLOSE_TIMEOUT_S)


async def _watch(connection: _Connection, session: OfficerSession) -> None:
    """Stop the connection when its token expires or its session stops being valid."""
    while True:
        wait = session.recheck_s
        if session.until is not None:
            wait = min(wait, max(session.until - time.time(), 0))
        await asyncio.sleep(wait)
        if session.until is not None and time.time() >= session.until:
            connection.stop(CLOSE_EXPIRED)
            return
        try:
            valid = await session.still_valid()
        except Exception:
            log.exception("could not re-check an officer WebSocket's session; keeping it for now")
            continue
        if not valid:
            connection.stop(CLOSE_EXPIRED)
            return


_Key = tuple[str, int]  # a message: its stream and its sequence there


class _Link:
    """One WebSocket's traffic: notices out (held until the app confirms them), requests in."""

    def __init__(self, websocket: WebSocket, handle: Handle) -> None:
        self._ws = websocket
        self._handle = handle
        self._held: dict[int, tuple[_Key, Msg]] = {}  # seq -> the message to acknowledge when confirmed
        self._numbers: dict[_Key, int] = {}  # the seq of each held message
        self._last_seq = 0
        self._send_lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._ws.send_text(json.dumps(payload, default=str))

    async def pump(self, feed: Feed, subscription: JetStreamContext.PullSubscription) -> None:
        while True:
            try:
                messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_S)
            except (nats.errors.TimeoutError, TimeoutError):
                # nats.py raises its own TimeoutError when no notice came, and asyncio's when the
                # pull request itself was not answered in time (a loaded server): both mean "try again".
                continue
            for msg in messages:
                await self._deliver(feed, msg)

    async def _deliver(self, feed: Feed, msg: Msg) -> None:
        try:
            envelope = await feed.render(msg.data)
        except ValidationError as exc:
            log.warning("terminated an invalid notice on %s: %s", feed.durable, exc.errors()[:1])
            await msg.term()
            return
        key = (feed.stream, msg.metadata.sequence.stream)
        seq = self._numbers.get(key)
        if seq is None:  # a notice sent again on this connection (not confirmed in time) keeps its number
            self._last_seq += 1
            seq = self._numbers[key] = self._last_seq
        self._held[seq] = (key, msg)
        await self.send({**envelope, "seq": seq})

    async def listen(self) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            async for text in self._ws.iter_text():
                await self._on_text(text)

    async def _on_text(self, text: str) -> None:
        try:
            request = json.loads(text) if len(text) <= MAX_CLIENT_MESSAGE else None
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("type"), str):
            await self.send({"type": "error", "detail": "send a JSON object with a 'type'"})
            return
        if request["type"] == "received":
            await self._confirm(request.get("seq"))
            return
        await self.send(await self._handle(request))

    async def _confirm(self, seq: object) -> None:
        held = self._held.pop(seq, None) if isinstance(seq, int) and not isinstance(seq, bool) else None
        if held is None:
            await self.send({"type": "error", "detail": f"no notice {seq!r} is waiting for confirmation"})
            return
        key, msg = held
        del self._numbers[key]
        await msg.ack()

    async def release(self) -> None:
        """Hand unconfirmed notices back to JetStream now, for the officer's next connection."""
        for _, msg in self._held.values():
            with contextlib.suppress(Exception):
                await msg.nak()
        self._held.clear()
        self._numbers.clear()
