"""Camera leases in NATS KV: claim, renew every third of the TTL, release, and let go at once when lost.

Every round (``ttl / 3``) the keeper announces this worker's presence, renews its leases with
``update(last=revision)``, reads who holds what, and follows ``lease_plan.plan``. What the worker
should analyse is ``desired`` (camera id → settings); the keeper calls ``on_change`` whenever it
changes, and the worker starts and stops pipelines to match.

A lease is given up, and its camera stopped, as soon as a renewal is refused (it lapsed and someone
else holds it, or an operator removed it) or when this worker could not renew it for a whole TTL
(NATS unreachable): by then the server may have let another worker take it, and analysing a camera
twice is what leases exist to prevent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue
from pydantic import ValidationError

from pipeline.adapters.fleet import CameraLease, Catalogue, FleetBuckets, WorkerPresence, snapshot
from pipeline.contracts import utcnow
from pipeline.settings import CameraConfig
from workers.lease_plan import View, plan

log = logging.getLogger(__name__)

# Renewing this long before the server could expire a lease keeps clock skew and a slow round safe.
SAFETY_MARGIN_S = 0.25
LAPSE_POLL_S = 0.25
LAPSE_GRACE_S = 2.0
KV_TIMEOUT_S = 2.0
SNAPSHOT_TIMEOUT_S = 4.0


@dataclass(slots=True)
class HeldLease:
    revision: int
    valid_until: float  # monotonic: after this the server may have handed the camera to someone else


@dataclass(slots=True)
class LeaseStats:
    claimed: int = 0
    released: int = 0
    lost: int = 0
    contended: int = 0  # claims another worker won
    rounds: int = 0
    round_errors: int = 0


class LeaseKeeper:
    def __init__(
        self,
        buckets: FleetBuckets,
        worker_id: str,
        on_change: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._b = buckets
        self.worker_id = worker_id
        self._on_change = on_change
        self._clock = clock
        self.ttl_s = buckets.ttl_s
        self.period_s = buckets.ttl_s / 3
        self.catalogue = Catalogue()
        self.held: dict[str, HeldLease] = {}
        self.stats = LeaseStats()
        self.lost_by_reason: dict[str, int] = {}
        self.live_workers = 0
        self.last_round_ok: float | None = None
        self._free_before: frozenset[str] = frozenset()
        # Others' leases: camera -> (revision, when it lapses unless renewed), and the next round is
        # timed for the first such moment.
        self._foreign: dict[str, tuple[int, float]] = {}
        self._started_at = utcnow()
        self._wakeup = asyncio.Event()

    # -- what the worker reads -----------------------------------------------------------------------

    @property
    def desired(self) -> dict[str, CameraConfig]:
        return {cid: self.catalogue.cameras[cid] for cid in self.held if cid in self.catalogue.cameras}

    def healthy(self) -> bool:
        """A round succeeded within one TTL (so the leases held are still ours)."""
        return self.last_round_ok is not None and self._clock() - self.last_round_ok < self.ttl_s

    def set_catalogue(self, catalogue: Catalogue) -> None:
        """The camera catalogue changed (watcher): act on it now rather than at the next round."""
        changed = {cid for cid in self.held if self.catalogue.cameras.get(cid) != catalogue.cameras.get(cid)}
        self.catalogue = catalogue
        if changed:
            self._on_change()
        self._wakeup.set()

    # -- the loop ------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = self._clock()
            self._wakeup.clear()
            try:
                # Bounded, so a hung NATS cannot keep a lapsed lease's camera running past its time.
                await asyncio.wait_for(self.round(), max(self.period_s, 1.0))
                self.last_round_ok = self._clock()
            except Exception as exc:
                self.stats.round_errors += 1
                log.warning("worker %s: lease round failed: %s: %s", self.worker_id, type(exc).__name__, exc)
            self._expire_unrenewed()
            wait = max(min(started + self.period_s, self._next_lapse()) - self._clock(), 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self._wakeup), wait)

    async def round(self) -> None:
        self.stats.rounds += 1
        await self._renew_all()
        await self._announce()
        leases = await asyncio.wait_for(snapshot(self._b.leases), SNAPSHOT_TIMEOUT_S)
        owners = _owners(leases)
        self._follow_foreign(leases, owners)
        presence = _presence(await asyncio.wait_for(snapshot(self._b.presence), SNAPSHOT_TIMEOUT_S))
        self.live_workers = len(presence.keys() | {self.worker_id})
        decision = plan(
            View(
                me=self.worker_id,
                cameras=frozenset(self.catalogue.cameras),
                owners=owners,
                held_counts=presence,
                held=frozenset(self.held),
                free_before=self._free_before,
            )
        )
        self._free_before = decision.free
        for camera_id in decision.release:
            await self._release(camera_id, "fair share" if camera_id in self.catalogue.cameras else "removed")
        for camera_id in decision.claim:
            await self._claim(camera_id)

    def _follow_foreign(self, leases: dict[str, KeyValue.Entry], owners: dict[str, str]) -> None:
        now = self._clock()
        foreign = {}
        for camera_id, entry in leases.items():
            if owners[camera_id] == self.worker_id or entry.revision is None:
                continue
            before = self._foreign.get(camera_id)
            if before and before[0] == entry.revision:
                foreign[camera_id] = before
            else:
                foreign[camera_id] = (entry.revision, self._lapse_of(entry, now))
        self._foreign = foreign

    def _lapse_of(self, entry: KeyValue.Entry, now: float) -> float:
        """When a lease first seen ``now`` lapses unless renewed (a little after, to be sure).

        It was written up to a round before this worker saw it: the server's time of the write tells
        when, which lets a dead worker's camera be taken up to a round sooner. That time is another
        machine's clock, so it may only bring the moment forward by at most one round."""
        seen_due = now + self.ttl_s + SAFETY_MARGIN_S
        written: object = entry.created  # nats.py types it int; a watch gives the stream's datetime
        if not isinstance(written, datetime):
            return seen_due
        written_due = now + written.timestamp() - time.time() + self.ttl_s + SAFETY_MARGIN_S
        return min(max(written_due, seen_due - self.period_s), seen_due)

    def _next_lapse(self) -> float:
        """When the first unrenewed foreign lease can have lapsed."""
        now = self._clock()
        dues = [due for _, due in self._foreign.values()]
        # The server expires entries on a timer of its own: look again every LAPSE_POLL_S for a while.
        soon = [max(due, now + LAPSE_POLL_S) for due in dues if due > now - LAPSE_GRACE_S]
        return min(soon, default=now + self.ttl_s)

    async def release_all(self) -> None:
        """Graceful stop: hand every camera over now instead of letting the leases lapse."""
        for camera_id in list(self.held):
            with contextlib.suppress(Exception):
                await self._release(camera_id, "worker stopping")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._b.presence.delete(self.worker_id), KV_TIMEOUT_S)

    # -- steps ---------------------------------------------------------------------------------------

    async def _announce(self) -> None:
        presence = WorkerPresence(
            worker_id=self.worker_id, cameras=sorted(self.held), started_at=self._started_at
        )
        await asyncio.wait_for(self._b.presence.put(self.worker_id, presence.to_bytes()), KV_TIMEOUT_S)

    def _lease_value(self) -> bytes:
        return CameraLease(worker_id=self.worker_id).to_bytes()

    async def _renew_all(self) -> None:
        await asyncio.gather(*(self._renew(camera_id) for camera_id in list(self.held)))

    async def _renew(self, camera_id: str) -> None:
        lease = self.held.get(camera_id)
        if lease is None:
            return
        sent = self._clock()
        try:
            revision = await asyncio.wait_for(
                self._b.leases.update(camera_id, self._lease_value(), last=lease.revision), KV_TIMEOUT_S
            )
        except nats.js.errors.KeyWrongLastSequenceError:
            self._lose(camera_id, "taken over")
            return
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning(
                "camera %s: lease not renewed (%s); held until it lapses",
                camera_id,
                type(exc).__name__,
                extra={"camera_id": camera_id},
            )
            return
        if camera_id in self.held:
            self.held[camera_id] = HeldLease(revision, sent + self.ttl_s - SAFETY_MARGIN_S)

    def _expire_unrenewed(self) -> None:
        now = self._clock()
        for camera_id, lease in list(self.held.items()):
            if now >= lease.valid_until:
                self._lose(camera_id, "lapsed")

    def _lose(self, camera_id: str, reason: str) -> None:
        if self.held.pop(camera_id, None) is None:
            return
        self.stats.lost += 1
        self.lost_by_reason[reason] = self.lost_by_reason.get(reason, 0) + 1
        log.warning(
            "camera %s: lease lost (%s); stopping it", camera_id, reason, extra={"camera_id": camera_id}
        )
        self._on_change()

    async def _claim(self, camera_id: str) -> None:
        sent = self._clock()
        try:
            revision = await asyncio.wait_for(
                self._b.leases.create(camera_id, self._lease_value()), KV_TIMEOUT_S
            )
        except nats.js.errors.KeyWrongLastSequenceError:
            self.stats.contended += 1
            return
        self.held[camera_id] = HeldLease(revision, sent + self.ttl_s - SAFETY_MARGIN_S)
        self.stats.claimed += 1
        log.info(
            "camera %s: lease claimed (revision %d)",
            camera_id,
            revision,
            extra={"camera_id": camera_id, "lease_revision": revision},
        )
        self._on_change()

    async def _release(self, camera_id: str, reason: str) -> None:
        lease = self.held.pop(camera_id, None)
        if lease is None:
            return
        self._on_change()  # stop analysing before anyone else can claim it
        self.stats.released += 1
        log.info("camera %s: lease released (%s)", camera_id, reason, extra={"camera_id": camera_id})
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
            await asyncio.wait_for(self._b.leases.delete(camera_id, last=lease.revision), KV_TIMEOUT_S)


def _owners(entries: dict[str, KeyValue.Entry]) -> dict[str, str]:
    """Camera id -> lease holder; a value nobody can read still marks the camera as taken."""
    owners = {}
    for key, entry in entries.items():
        try:
            owners[key] = CameraLease.from_bytes(entry.value or b"").worker_id
        except ValidationError:
            owners[key] = "?"
    return owners


def _presence(entries: dict[str, KeyValue.Entry]) -> dict[str, int]:
    """Live worker id -> how many cameras it says it holds."""
    counts = {}
    for key, entry in entries.items():
        try:
            counts[key] = len(WorkerPresence.from_bytes(entry.value or b"").cameras)
        except ValidationError:
            counts[key] = 0
    return counts


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
