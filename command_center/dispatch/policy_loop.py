"""The command centre's own steps, taken every ``dispatch.tick_s`` by each replica's loop.

1. escalate alerts left ``new`` longer than their priority allows (supervisors are told live, with
   ``audience: supervisors`` on the feed, and find them later at ``GET /alerts/escalations``);
2. pass dispatches nobody acknowledged in time on to the next nearest unit;
3. auto-dispatch the most urgent new alerts (when the policy is on);
4. drop stale unit positions.

Every step is a conditional write (see ``lifecycle.py`` and ``dispatch_store.py``), so replicas running
the same loop at the same moment act on each alert once. A new alert wakes the loop at once, so
auto-dispatch does not wait for the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from command_center.alerts.lifecycle import LifecycleStore
from command_center.alerts.lifecycle_events import Announcer
from command_center.alerts.store import Alert
from command_center.dispatch.dispatcher import Dispatcher
from command_center.dispatch.positions import PatrolPositions
from pipeline.aio import cancel_and_wait
from pipeline.contracts import AlertEvent
from pipeline.settings.dispatch import DispatchSettings
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


@dataclass(slots=True)
class PolicyStats:
    ticks: int = 0
    escalated: int = 0
    passed_on: int = 0
    auto_dispatched: int = 0
    positions_dropped: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class PolicyLoop:
    def __init__(
        self,
        settings: DispatchSettings,
        *,
        lifecycle: LifecycleStore,
        dispatcher: Dispatcher,
        positions: PatrolPositions,
        announcer: Announcer,
    ) -> None:
        self._settings = settings
        self._lifecycle = lifecycle
        self._dispatcher = dispatcher
        self._positions = positions
        self._announcer = announcer
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self.stats = PolicyStats()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, nc: NATS, names: Subjects) -> None:
        self._subscription = await nc.subscribe(names.alert_events(), cb=self._on_alert_event)
        self._task = asyncio.create_task(self._run(), name="policy-loop")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
        except TimeoutError:
            await cancel_and_wait(self._task)

    async def _on_alert_event(self, msg: Msg) -> None:
        # Only a wake-up: what to do is read from the database, not from the message.
        try:
            created = AlertEvent.from_bytes(msg.data).kind == "created"
        except ValueError:
            return
        if created:
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.tick_s)
            self._wake.clear()

    async def tick(self) -> None:
        """One round of every policy step; a failing step is logged and retried next round."""
        self.stats.ticks += 1
        for name, step in (
            ("escalation", self.escalate),
            ("ack timeouts", self._dispatcher.pass_on_overdue),
            ("auto-dispatch", self._dispatcher.auto_dispatch),
            ("stale positions", self._prune),
        ):
            try:
                done = await step()
            except Exception:
                self.stats.errors += 1
                log.exception("policy step %s failed; retrying next round", name)
                continue
            self._count(name, done)

    def _count(self, name: str, done: int) -> None:
        if name == "escalation":
            self.stats.escalated += done
        elif name == "ack timeouts":
            self.stats.passed_on += done
        elif name == "auto-dispatch":
            self.stats.auto_dispatched += done
        else:
            self.stats.positions_dropped += done

    async def _prune(self) -> int:
        return await self._positions.prune(time.time())

    async def escalate(self) -> int:
        """Escalate every alert waiting longer than its priority allows; how many this replica did."""
        now = datetime.now(UTC)
        horizon = self._settings.escalation_horizon_s
        escalated = 0
        for priority, limit in sorted(self._settings.escalate_after_s.items()):
            waiting = await asyncio.to_thread(self._lifecycle.waiting, now, horizon, priority, limit)
            for alert in waiting:
                escalated += await self._escalate_one(alert, now, limit)
        return escalated

    async def _escalate_one(self, alert: Alert, now: datetime, limit_s: float) -> int:
        waited = (now - alert.created_at).total_seconds()
        async with self._announcer.unit():  # the escalation and its audit entry commit together
            done = await asyncio.to_thread(
                self._lifecycle.escalate, alert.id, alert.priority, waited, limit_s
            )
            if done is None:
                return 0  # acknowledged meanwhile, or escalated by another replica
            await self._announcer.escalated(done, alert.priority, waited, limit_s)
            details = {"priority": alert.priority, "waited_s": round(waited, 1), "limit_s": limit_s}
            await self._announcer.audit_policy(done, "alerts.escalate", details=details)
        return 1
