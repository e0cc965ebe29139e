"""The NATS sink: face hits and plate reads go to JetStream, deduplicated by event id, retried until acked.

Analysis threads hand hits over with ``submit`` (thread-safe, never blocks). A bounded outbox
absorbs a NATS outage; if it overflows, the oldest hit is dropped and counted, because a live
system prefers the newest evidence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import get_args

from nats.js import JetStreamContext

from pipeline.contracts import FaceEvidence, Hit, PlateRead
from pipeline.subjects import Subjects

Outgoing = Hit | PlateRead | FaceEvidence
HITS = get_args(Hit)


def subject_of(names: Subjects, message: Outgoing) -> str:
    """A plate read goes to the read log (the command centre matches the hotlist); a hit to its kind's
    subject; a face hit's sharper images after it, to the hits' stream."""
    if isinstance(message, PlateRead):
        return names.plates_read(message.camera_id)
    if isinstance(message, FaceEvidence):
        return names.face_evidence(message.camera_id)
    if isinstance(message, HITS):
        return names.hits(message.KIND, message.camera_id)
    raise TypeError(f"a worker publishes no {type(message).__name__}")


log = logging.getLogger(__name__)


class HitPublisher:
    def __init__(
        self,
        js: JetStreamContext,
        names: Subjects,
        loop: asyncio.AbstractEventLoop,
        capacity: int = 1000,
        on_published: Callable[[Outgoing, float], None] | None = None,
    ) -> None:
        self._js = js
        self._names = names
        self._on_published = on_published  # (message, seconds until JetStream acknowledged it)
        self._loop = loop
        self._outbox: deque[Outgoing] = deque()
        self._capacity = capacity
        self._wakeup = asyncio.Event()
        self.dropped = 0
        self.published = 0

    def submit(self, hit: Outgoing) -> None:
        """Called from any thread."""
        self._loop.call_soon_threadsafe(self._enqueue, hit)

    def _enqueue(self, hit: Outgoing) -> None:
        if len(self._outbox) >= self._capacity:
            self._outbox.popleft()
            self.dropped += 1
        self._outbox.append(hit)
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._outbox)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set and the outbox is empty (or NATS is unreachable at stop)."""
        delay = 0.2
        while True:
            if not self._outbox:
                if stop.is_set():
                    return
                self._wakeup.clear()
                waiter = asyncio.ensure_future(self._wakeup.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                continue
            hit = self._outbox[0]
            started = time.perf_counter()
            try:
                await self._js.publish(
                    subject_of(self._names, hit),
                    hit.to_bytes(),
                    timeout=5,
                    headers={"Nats-Msg-Id": str(hit.event_id)},
                )
            except Exception as exc:  # any NATS failure: keep the hit and retry
                if stop.is_set():
                    log.error("stopping with %d unpublished hits: %s", len(self._outbox), exc)
                    return
                log.warning("publishing hit failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.2
            if self._outbox and self._outbox[0] is hit:
                self._outbox.popleft()
            self.published += 1
            if self._on_published is not None:
                self._on_published(hit, time.perf_counter() - started)
