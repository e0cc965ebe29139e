"""Live alert feed: AlertEvents from core NATS fanned out to this replica's WebSocket clients.

Every replica subscribes to ``alert_events()`` (a plain subscription, not a queue group), so an alert
stored by any replica's consumer reaches every operator, whichever replica their browser is connected to.
Each client has a small bounded queue; a client that cannot keep up is dropped and closed instead of
slowing the others (its browser reconnects and reloads the list).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from pipeline.aio import cancel_and_wait
from pipeline.contracts import AlertEvent, SessionRevoked
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 64
CLOSE_TOO_SLOW = 1013  # "try again later"
CLOSE_GOING_AWAY = 1001
CLOSE_EXPIRED = 4401  # the credentials expired: sign in again (same code as a refused token)
CLOSE_TIMEOUT_S = 2.0
RECHECK_S = 30.0  # how often a connection's session is checked again, besides revocation events


class _Client:
    def __init__(
        self,
        websocket: WebSocket,
        queue_size: int,
        sees: Callable[[str], bool],
        user_id: int | None = None,
        session_id: str | None = None,
        still_valid: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.websocket = websocket
        self.sees = sees
        self.user_id = user_id
        self.session_id = session_id
        self.still_valid = still_valid
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.stopped = asyncio.Event()
        self.close_code = CLOSE_GOING_AWAY

    def offer(self, text: str) -> bool:
        """Queue a message; False (and the client stopped) when it is too far behind."""
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            self.stop(CLOSE_TOO_SLOW)
            return False

    def stop(self, code: int) -> None:
        self.close_code = code
        while not self.queue.empty():
            self.queue.get_nowait()
        self.stopped.set()


class AlertFeed:
    def __init__(self, queue_size: int = CLIENT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._clients: set[_Client] = set()
        self._subscriptions: list[Subscription] = []
        self.delivered = 0
        self.dropped_clients = 0
        self.revoked_clients = 0

    @property
    def client_count(self) -> int:
        return len(self._clients)

    async def subscribe(self, nc: NATS, names: Subjects) -> None:
        self._subscriptions = [
            await nc.subscribe(names.alert_events(), cb=self._on_message),
            await nc.subscribe(names.sessions_revoked(), cb=self._on_revoked),
        ]

    async def close(self) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self._subscriptions = []
        for client in list(self._clients):
            client.stop(CLOSE_GOING_AWAY)

    async def _on_revoked(self, msg: Msg) -> None:
        try:
            event = SessionRevoked.from_bytes(msg.data)
        except ValidationError as exc:
            log.warning("ignored an invalid SessionRevoked: %s", exc.errors()[:1])
            return
        await self.revoke(user_id=event.user_id, session_id=event.session_id)

    async def revoke(self, *, user_id: int | None = None, session_id: str | None = None) -> int:
        """Close the connections opened with a session (or every session of a user); how many.

        A session id is unique, so its connections close at once. An account id alone is only unique
        within one database: before closing on it, the connection's credentials are checked again, so
        that an announcement from another deployment sharing this NATS cannot cut this one's operators.
        """
        closed = 0
        for client in list(self._clients):
            if session_id is not None and client.session_id != session_id:
                continue
            if user_id is not None and client.user_id != user_id:
                continue
            if session_id is None and client.still_valid is not None and await _holds(client.still_valid):
                continue
            client.stop(CLOSE_EXPIRED)
            closed += 1
        self.revoked_clients += closed
        return closed

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = AlertEvent.from_bytes(msg.data)
        except ValidationError as exc:
            log.warning("ignored an invalid AlertEvent: %s", exc.errors()[:1])
            return
        self.broadcast(event.model_dump_json(), event.alert.district)

    def broadcast(self, text: str, district: str = "") -> None:
        """Send to every client allowed to see this district's alerts."""
        for client in list(self._clients):
            if not client.sees(district):
                continue
            if client.offer(text):
                self.delivered += 1
            else:
                self.dropped_clients += 1
                self._clients.discard(client)
                log.warning("dropped a WebSocket client that could not keep up")

    async def serve(
        self,
        websocket: WebSocket,
        *,
        sees: Callable[[str], bool] = lambda _district: True,
        until: float | None = None,
        user_id: int | None = None,
        session_id: str | None = None,
        still_valid: Callable[[], Awaitable[bool]] | None = None,
        recheck_s: float = RECHECK_S,
    ) -> None:
        """Run one accepted WebSocket connection until the client leaves or is stopped.

        ``sees(district)`` filters what this client receives; at ``until`` (epoch seconds: when its
        credentials expire) the connection is closed with CLOSE_EXPIRED and the client reconnects.
        A SessionRevoked naming ``user_id``/``session_id`` closes it at once; ``still_valid`` is asked
        every ``recheck_s`` too, in case that announcement was missed.
        """
        client = _Client(websocket, self._queue_size, sees, user_id, session_id, still_valid)
        self._clients.add(client)
        tasks = [
            asyncio.create_task(self._send_loop(client)),
            asyncio.create_task(self._receive_loop(websocket)),
            asyncio.create_task(client.stopped.wait()),
        ]
        if until is not None:
            tasks.append(asyncio.create_task(self._expire(client, until)))
        if still_valid is not None:
            tasks.append(asyncio.create_task(self._recheck(client, still_valid, recheck_s)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._clients.discard(client)
            # A sender stuck on a full socket is abandoned here.
            await asyncio.gather(*(cancel_and_wait(task) for task in tasks))
        if client.stopped.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(code=client.close_code), CLOSE_TIMEOUT_S)

    @staticmethod
    async def _expire(client: _Client, until: float) -> None:
        await asyncio.sleep(max(until - time.time(), 0))
        client.stop(CLOSE_EXPIRED)

    @staticmethod
    async def _recheck(client: _Client, still_valid: Callable[[], Awaitable[bool]], every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                valid = await still_valid()
            except Exception:
                log.exception("could not re-check a WebSocket client's session; keeping it for now")
                continue
            if not valid:
                client.stop(CLOSE_EXPIRED)
                return

    @staticmethod
    async def _send_loop(client: _Client) -> None:
        while True:
            await client.websocket.send_text(await client.queue.get())

    @staticmethod
    async def _receive_loop(websocket: WebSocket) -> None:
        # Clients have nothing to say; reading notices when they go away.
        with contextlib.suppress(WebSocketDisconnect):
            async for _ in websocket.iter_text():
                pass


async def _holds(still_valid: Callable[[], Awaitable[bool]]) -> bool:
    """Whether credentials are still good; a failed check counts as no (a revocation errs on closing)."""
    try:
        return await still_valid()
    except Exception:
        log.exception("could not re-check a WebSocket client's session on a revocation; closing it")
        return False
