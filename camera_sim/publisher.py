"""FrameSent events on core NATS, published from a thread of their own so feeders never wait on NATS."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient

from pipeline.contracts import FrameSent
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 2.0
_RETRY_CONNECT_S = 5.0
_DRAIN_TIMEOUT_S = 5.0


@dataclass(slots=True)
class PublisherStats:
    published: int = 0
    dropped: int = 0
    """Events lost because NATS was unreachable or the buffer was full (oldest dropped)."""


class FramePublisher:
    """``offer`` matches the simulator's ``on_frame_sent`` callback and never blocks.

    Events wait in a bounded buffer; when it is full the oldest is dropped and counted. If NATS is not
    reachable the simulator keeps serving video: events are dropped and the connection retried.
    """

    def __init__(self, nats_url: str, names: Subjects, *, buffer_size: int = 4096) -> None:
        self._servers = [u.strip() for u in nats_url.split(",") if u.strip()]
        self._names = names
        self._pending: collections.deque[tuple[str, int, int, int]] = collections.deque(maxlen=buffer_size)
        self.stats = PublisherStats()
        self._loop = asyncio.new_event_loop()
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera-sim-nats", daemon=True)

    def start(self, wait_connected_s: float = _CONNECT_TIMEOUT_S) -> bool:
        """Start publishing; True if NATS answered within ``wait_connected_s``."""
        self._thread.start()
        return self._connected.wait(wait_connected_s)

    def offer(self, camera_id: str, seq: int, loop: int, sent_ns: int) -> None:
        pending = self._pending
        if len(pending) == pending.maxlen:
            self.stats.dropped += 1
        pending.append((camera_id, seq, loop, sent_ns))
        if self._wake is not None and not self._closing:
            with contextlib.suppress(RuntimeError):  # the loop closed during stop()
                self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        """Publish what is buffered (if connected), drain the connection and end the thread."""
        self._closing = True
        if self._thread.is_alive():
            if self._wake is not None:
                self._loop.call_soon_threadsafe(self._wake.set)
            self._thread.join(_DRAIN_TIMEOUT_S + _CONNECT_TIMEOUT_S + 1)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        nc = await self._connect()
        while nc is None and not self._closing:
            self._discard()
            try:
                await asyncio.wait_for(self._wake.wait(), _RETRY_CONNECT_S)
            except TimeoutError:
                nc = await self._connect(quiet=True)
            self._wake.clear()
        if nc is None:
            self._discard()
            return
        try:
            while True:
                self._wake.clear()
                await self._publish_pending(nc)
                if self._closing:
                    break
                await self._wake.wait()
        finally:
            try:
                await asyncio.wait_for(nc.drain(), _DRAIN_TIMEOUT_S)
            except Exception as exc:
                log.warning("camera_sim: NATS drain failed: %s", exc)

    async def _connect(self, quiet: bool = False) -> NatsClient | None:
        try:
            # With unlimited reconnects nats-py retries a first connection forever; bound it and retry
            # ourselves, so a missing NATS costs a warning rather than a silent hang.
            nc = await asyncio.wait_for(
                nats.connect(
                    servers=self._servers,
                    connect_timeout=_CONNECT_TIMEOUT_S,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                ),
                _CONNECT_TIMEOUT_S,
            )
        except Exception as exc:
            if not quiet:
                log.warning(
                    "camera_sim: NATS at %s not reachable (%s); serving video without FrameSent events",
                    ",".join(self._servers),
                    str(exc) or type(exc).__name__,
                )
            return None
        log.info("camera_sim: publishing FrameSent events to %s", ",".join(self._servers))
        self._connected.set()
        return nc

    async def _on_error(self, exc: Exception) -> None:
        log.debug("camera_sim: NATS error: %s", exc)

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.warning("camera_sim: NATS disconnected; FrameSent events are buffered, then dropped")

    async def _on_reconnected(self) -> None:
        log.info("camera_sim: NATS reconnected")

    async def _publish_pending(self, nc: NatsClient) -> None:
        while self._pending:
            camera_id, seq, loop, sent_ns = self._pending.popleft()
            event = FrameSent(camera_id=camera_id, seq=seq, loop=loop, sent_at_ns=sent_ns)
            try:
                await nc.publish(self._names.sim_frames(camera_id), event.to_bytes())
            except Exception:
                # Disconnected with a full reconnect buffer: losing measurements beats stalling.
                self.stats.dropped += 1
            else:
                self.stats.published += 1

    def _discard(self) -> None:
        self.stats.dropped += len(self._pending)
        self._pending.clear()
