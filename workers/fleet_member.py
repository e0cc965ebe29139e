"""A worker's membership of its fleet: the buckets, the catalogue watch and the lease keeper together.

``join`` opens the fleet's buckets and seeds an empty catalogue from the configured cameras (the first
start of a fleet); ``start`` runs the watch and the lease rounds; ``leave`` stops claiming, then hands
every camera over at once so the others need not wait for the leases to lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nats.aio.client import Client

from pipeline.adapters.catalogue_watch import CatalogueWatch
from pipeline.adapters.fleet import open_buckets, seed_if_empty
from pipeline.settings import CameraConfig, Settings
from workers.leases import LeaseKeeper

log = logging.getLogger(__name__)

CATALOGUE_WAIT_S = 10.0
LEAVE_TIMEOUT_S = 5.0


class FleetMember:
    def __init__(self, keeper: LeaseKeeper, watch: CatalogueWatch, fleet: str) -> None:
        self.keeper = keeper
        self.watch = watch
        self.fleet = fleet
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def join(
        cls, nc: Client, settings: Settings, worker_id: str, on_change: Callable[[], None]
    ) -> FleetMember:
        wopt = settings.worker
        buckets = await open_buckets(nc.jetstream(), settings.nats.subjects, wopt.fleet, wopt.lease_ttl_s)
        seeded = await seed_if_empty(buckets.catalogue, list(settings.cameras))
        if seeded:
            log.info(
                "fleet %s: camera catalogue was empty; seeded %d cameras from the settings",
                wopt.fleet,
                seeded,
            )
        keeper = LeaseKeeper(buckets, worker_id, on_change)
        watch = CatalogueWatch(
            buckets.catalogue,
            keeper.set_catalogue,
            wopt.catalogue_resync_s,
            reconnects=lambda: int(nc.stats["reconnects"]),
        )
        log.info(
            "worker %s joined fleet %s (leases of %.1fs, renewed every %.1fs)",
            worker_id,
            wopt.fleet,
            keeper.ttl_s,
            keeper.period_s,
        )
        return cls(keeper, watch, wopt.fleet)

    def start(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        """Run until ``stop`` (or ``leave``); the tasks are returned for the caller to cancel."""
        self._tasks = [
            asyncio.create_task(self.watch.run(self._stop)),
            asyncio.create_task(self._keep()),
            asyncio.create_task(self._relay(stop)),
        ]
        return list(self._tasks)

    async def _keep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.watch.loaded.wait(), CATALOGUE_WAIT_S)
        await self.keeper.run(self._stop)

    async def _relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stop.set()

    @property
    def desired(self) -> dict[str, CameraConfig]:
        return self.keeper.desired

    @property
    def running(self) -> bool:
        """The watch and the lease rounds are going (or were stopped on purpose)."""
        if self._stop.is_set():
            return True
        return bool(self._tasks) and not any(t.done() for t in self._tasks[:2])

    def healthy(self) -> bool:
        return self.keeper.healthy()

    async def leave(self) -> None:
        self._stop.set()
        keeper_task = self._tasks[1] if len(self._tasks) > 1 else None
        if keeper_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(keeper_task), LEAVE_TIMEOUT_S)
        await self.keeper.release_all()
