"""Prometheus metrics and dependency watch of one command-centre process.

* ``CommandCenterMetrics``: a registry of the process's own. Hits and alerts are counted where they
  are stored (``MeteredAlertStore``), so each replica counts only what it stored; what is counted
  elsewhere already (consumer stats, WebSocket feed, NATS client) is read at scrape time.
* ``Watchdog``: every few seconds, the JetStream lag of the hit and plate-read consumers (pending and
  unacknowledged messages, from consumer info) and whether the database, NATS and Redis answer. A
  dependency going away or coming back is logged once, at the transition. Redis away is a degraded
  mode, not an outage: alerts are deduplicated in the database, so they are still stored and pushed
  to connected operators; sign-ins and session checks fail until Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from command_center.alerts.sightings import Sighting
from command_center.alerts.store import AlertStore, HitOutcome
from command_center.pull_loop import PullLoop
from command_center.services import Services
from pipeline.aio import cancel_and_wait
from pipeline.contracts import Hit

log = logging.getLogger(__name__)

WATCH_EVERY_S = 2.0
CHECK_TIMEOUT_S = 2.0
STORE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
AGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
DEPENDENCIES = ("database", "nats", "redis")


class CommandCenterMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.hits = Counter(
            "safecity_cc_hits",
            "Hits stored, by alert kind and outcome (created, updated, quiet, duplicate).",
            ["kind", "outcome"],
            registry=r,
        )
        self.alerts_created = Counter(
            "safecity_alerts_created", "Alerts opened, by kind (face, plate).", ["kind"], registry=r
        )
        self.stage_seconds = Histogram(
            "safecity_cc_stage_seconds", "Time per hit in each command-centre stage.", ["stage"],
            buckets=STORE_BUCKETS, registry=r,
        )  # fmt: skip
        self.hit_age = Histogram(
            "safecity_cc_hit_age_seconds",
            "From the worker capturing the frame to the hit being stored.",
            buckets=AGE_BUCKETS,
            registry=r,
        )
        self.consumer_pending = Gauge(
            "safecity_jetstream_consumer_pending",
            "Messages in the stream not yet delivered to the consumer (consumer lag).",
            ["consumer"],
            registry=r,
        )
        self.consumer_ack_pending = Gauge(
            "safecity_jetstream_consumer_ack_pending",
            "Messages delivered but not yet acknowledged.",
            ["consumer"],
            registry=r,
        )
        self.consumer_redelivered = Gauge(
            "safecity_jetstream_consumer_redelivered", "Messages being redelivered.", ["consumer"], registry=r
        )
        self.dependency_up = Gauge(
            "safecity_dependency_up", "1 while the dependency answers.", ["dependency"], registry=r
        )
        self._collector: _ServicesCollector | None = None

    def attach(self, services: Services) -> None:
        """Read the running services' own counters at scrape time."""
        if self._collector is not None:
            self.registry.unregister(self._collector)
        self._collector = _ServicesCollector(services)
        self.registry.register(self._collector)

    def stored(self, outcome: HitOutcome, seconds: float, captured_at: datetime | None) -> None:
        kind = outcome.alert.kind
        label = (
            "duplicate"
            if outcome.duplicate
            else "quiet"
            if outcome.quiet
            else "created"
            if outcome.created
            else "updated"
        )
        self.hits.labels(kind, label).inc()
        self.stage_seconds.labels("store").observe(seconds)
        if outcome.created and not outcome.duplicate:
            self.alerts_created.labels(kind).inc()
        if captured_at is not None and not outcome.duplicate:
            self.hit_age.observe(max((datetime.now(UTC) - captured_at).total_seconds(), 0.0))


class MeteredAlertStore(AlertStore):
    """The alert store, counting and timing every hit it records (and logging new alerts with ids)."""

    def __init__(self, engine: Engine, *, metrics: CommandCenterMetrics, **options: Any) -> None:
        super().__init__(engine, **options)
        self._metrics = metrics

    def record_hit(self, hit: Hit | Sighting, received_at: datetime) -> HitOutcome:
        started = time.perf_counter()
        outcome = super().record_hit(hit, received_at)
        captured = None if isinstance(hit, Sighting) else hit.captured_at
        self._metrics.stored(outcome, time.perf_counter() - started, captured)
        if outcome.created and not outcome.duplicate:
            log.info(
                "alert %d opened",
                outcome.alert.id,
                extra={
                    "alert_id": outcome.alert.id,
                    "camera_id": outcome.alert.camera_id,
                    "event_id": str(hit.hit_id),
                    "kind": outcome.alert.kind,
                },
            )
        return outcome


class _ServicesCollector(Collector):
    def __init__(self, services: Services) -> None:
        self._s = services

    def collect(self) -> Iterator[Metric]:
        s = self._s
        for loop_name, stats in (
            ("hits", s.consumer.stats.as_dict()),
            ("plate_reads", s.plate_reads.stats.as_dict()),
        ):
            family = CounterMetricFamily(
                f"safecity_cc_{loop_name}_consumed", f"The {loop_name} consumer's counts.", labels=["outcome"]
            )
            for outcome, n in stats.items():
                family.add_metric([outcome], n)
            yield family
        errors = CounterMetricFamily(
            "safecity_cc_fetch_errors", "Failed JetStream fetches (disconnections).", labels=["consumer"]
        )
        errors.add_metric(["hits"], s.consumer.fetch_errors)
        errors.add_metric(["plate_reads"], s.plate_reads.fetch_errors)
        yield errors
        dead = CounterMetricFamily(
            "safecity_cc_dead_lettered",
            "Messages that could never be handled, copied with their error to SAFECITY_DEADLETTERS.",
            labels=["consumer"],
        )
        dead.add_metric(["hits"], s.consumer.dead_lettered)
        dead.add_metric(["plate_reads"], s.plate_reads.dead_lettered)
        yield dead
        yield GaugeMetricFamily("safecity_cc_websocket_clients", "Operators connected.", s.feed.client_count)
        yield CounterMetricFamily(
            "safecity_cc_alert_events_delivered", "Alert events sent to WebSockets.", s.feed.delivered
        )
        yield GaugeMetricFamily(
            "safecity_nats_connected", "1 while connected to NATS.", float(s.nats.is_connected)
        )
        yield CounterMetricFamily(
            "safecity_nats_reconnects", "Reconnections to NATS.", s.nats.stats["reconnects"]
        )


class Watchdog:
    """Polls consumer lag and dependency health; logs dependencies going away and coming back."""

    def __init__(
        self, services: Services, metrics: CommandCenterMetrics, every_s: float = WATCH_EVERY_S
    ) -> None:
        self._s = services
        self._m = metrics
        self._every_s = every_s
        self.up: dict[str, bool | None] = dict.fromkeys(DEPENDENCIES)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="observability-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self._every_s)

    async def check(self) -> None:
        await self._lag(self._s.consumer, "hits")
        await self._lag(self._s.plate_reads, "plate_reads")
        self._note("database", await probe(asyncio.to_thread(self._s.alerts.ping)))
        self._note("nats", None if self._s.nats.is_connected else "not connected")
        self._note("redis", await probe(cast(Awaitable[Any], self._s.redis.ping())))

    async def _lag(self, loop: PullLoop, label: str) -> None:
        stream = loop.streams()[0].name
        durable = loop.consumer_config().durable_name
        if stream is None or durable is None:
            return
        try:
            info = await asyncio.wait_for(
                self._s.nats.jetstream().consumer_info(stream, durable), CHECK_TIMEOUT_S
            )
        except Exception:
            return  # NATS away: the dependency check says so
        self._m.consumer_pending.labels(label).set(info.num_pending or 0)
        self._m.consumer_ack_pending.labels(label).set(info.num_ack_pending or 0)
        self._m.consumer_redelivered.labels(label).set(info.num_redelivered or 0)

    def _note(self, dependency: str, problem: str | None) -> None:
        was = self.up[dependency]
        now = problem is None
        self.up[dependency] = now
        self._m.dependency_up.labels(dependency).set(float(now))
        if was is not False and not now:
            consequence = _CONSEQUENCES[dependency]
            log.warning(
                "%s unavailable (%s): %s", dependency, problem, consequence, extra={"dependency": dependency}
            )
        elif was is False and now:
            log.info("%s is back", dependency, extra={"dependency": dependency})


_CONSEQUENCES = {
    "database": "hits stay in JetStream and are stored when it is back",
    "nats": "no hits arrive until the client reconnects",
    "redis": "degraded: alerts are still stored, deduplicated (in the database) and pushed to connected "
    "operators; sign-ins and session checks fail until it is back",
}


async def probe(check: Awaitable[Any]) -> str | None:
    """None if ``check`` completes in time, else what went wrong."""
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_S)
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return None
