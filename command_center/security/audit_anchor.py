"""The audit chain's head, anchored outside the database: in a JetStream stream that denies delete and purge.

Whoever administers the database could cut entries off the end of the chain and move its head back, or,
holding the audit key as well, rewrite entries and recompute the chain; neither touches what was already
published here. A command centre publishes the head (seq and hash) every ``audit_anchor_every_s`` when it
moved, and when it stops. ``verify`` compares every anchor with the stored chain: an anchor beyond the
stored head means entries were removed, an anchor whose hash differs from the stored entry's means the
chain was rewritten.

The subject carries a fingerprint of the audit key, so deployments sharing a NATS never read each other's
anchors.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from command_center.security.audit import AuditTrail
from pipeline.adapters.streams import audit_anchors_stream_config, ensure_stream
from pipeline.aio import cancel_and_wait
from pipeline.contracts import AuditAnchor
from pipeline.settings import Settings
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)


def chain_fingerprint(key: bytes) -> str:
    """Names the chain on NATS without revealing anything about its key."""
    return hmac.new(key, b"safecity audit chain", hashlib.sha256).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    ok: bool
    anchors: int  # how many were compared
    problems: list[str]

    def describe(self) -> str:
        if self.ok:
            return f"{self.anchors} anchors outside the database agree with the chain"
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        return "; ".join(self.problems[:5]) + more


class Anchors:
    def __init__(
        self, js: JetStreamContext, names: Subjects, trail: AuditTrail, key: bytes, replica: str = ""
    ) -> None:
        self._js = js
        self._names = names
        self._trail = trail
        self._subject = self._names.audit_anchors(chain_fingerprint(key))
        self._replica = replica
        self._published: tuple[int, str] | None = None

    @classmethod
    def of(cls, nc: NATS, trail: AuditTrail, settings: Settings) -> Anchors:
        """The anchors of this deployment's chain, published as this command-centre replica."""
        key = settings.security.audit_key.get_secret_value().encode()
        return cls(
            nc.jetstream(), settings.nats.subjects, trail, key, replica=settings.command_center.consumer_name
        )

    async def publish(self) -> bool:
        """Publish the current head if it moved since the last one published here; whether it did."""
        seq, digest = await asyncio.to_thread(self._trail.head)
        if seq == 0 or self._published == (seq, digest):
            return False
        await ensure_stream(self._js, audit_anchors_stream_config(self._names))
        anchor = AuditAnchor(seq=seq, hash=digest, replica=self._replica)
        # The same head from two replicas is one anchor (de-duplicated by its id).
        await self._js.publish(self._subject, anchor.to_bytes(), headers={"Nats-Msg-Id": f"{seq}:{digest}"})
        self._published = (seq, digest)
        return True

    async def read(self) -> list[AuditAnchor]:
        """Every anchor of this chain, oldest first."""
        await ensure_stream(self._js, audit_anchors_stream_config(self._names))
        found: list[AuditAnchor] = []
        done = asyncio.Event()
        try:
            await self._js.get_last_msg(self._names.audit_anchors_stream, self._subject)
        except NotFoundError:
            return found  # nothing anchored yet

        async def take(msg: Msg) -> None:
            found.append(AuditAnchor.from_bytes(msg.data))
            if msg.metadata.num_pending == 0:
                done.set()

        sub = await self._js.subscribe(
            self._subject, cb=take, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        try:
            await asyncio.wait_for(done.wait(), 60)
        finally:
            await sub.unsubscribe()
        return found

    async def check(self) -> AnchorCheck:
        """Compare every anchor with the stored chain."""
        anchors = await self.read()
        head_seq, _ = await asyncio.to_thread(self._trail.head)
        problems: list[str] = []
        for anchor in anchors:
            if anchor.seq > head_seq:
                problems.append(
                    f"removed: an anchor of {anchor.emitted_at:%Y-%m-%d %H:%M} vouches for entry "
                    f"{anchor.seq}, but the chain ends at {head_seq}"
                )
                continue
            stored = await asyncio.to_thread(self._trail.hash_at, anchor.seq)
            if stored != anchor.hash:
                problems.append(
                    f"changed: entry {anchor.seq} is not what was anchored at "
                    f"{anchor.emitted_at:%Y-%m-%d %H:%M} (the chain was rewritten up to it)"
                )
        return AnchorCheck(not problems, len(anchors), problems)


def start_anchoring(anchors: Anchors, every_s: float, stack: AsyncExitStack) -> None:
    """Publish the head every ``every_s`` seconds while it moves, and once more at shutdown."""

    async def quietly(when: str) -> None:
        try:
            await anchors.publish()
        except Exception as exc:  # NATS away: the next round publishes the head as it is then
            log.warning("audit head not anchored %s: %s", when, exc)

    async def run() -> None:
        while True:
            await asyncio.sleep(every_s)
            await quietly("this round")

    task = asyncio.create_task(run(), name="audit-anchors")

    async def stop() -> None:
        await cancel_and_wait(task)
        await quietly("at shutdown")

    stack.push_async_callback(stop)
