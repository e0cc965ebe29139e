"""Follows the camera catalogue in NATS KV, so adding, editing or removing a camera needs no restart
(workers pick up cameras, the command centre their names, places and districts).

A KV watcher delivers every current camera, then each change as it happens. The watcher is rebuilt
from scratch every ``resync_s``, after any error and after the client reconnects: its ephemeral
consumer does not survive a NATS server restart, and a full re-read repairs anything missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import nats.errors
from nats.js.kv import KeyValue

from pipeline.adapters.fleet import Catalogue, next_change, stop_watching

log = logging.getLogger(__name__)

RETRY_S = 1.0
IDLE_POLL_S = 1.0


class CatalogueWatch:
    def __init__(
        self,
        kv: KeyValue,
        on_catalogue: Callable[[Catalogue], None],
        resync_s: float,
        reconnects: Callable[[], int] = lambda: 0,
    ) -> None:
        self._kv = kv
        self._reconnects = reconnects  # the NATS client's reconnection count
        self._on_catalogue = on_catalogue
        self._resync_s = resync_s
        self.catalogue = Catalogue()
        self.loaded = asyncio.Event()  # the first full read is done
        self.rebuilds = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._follow(stop)
            except Exception as exc:
                log.warning("camera catalogue: watch failed (%s: %s); re-reading", type(exc).__name__, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_S)

    async def _follow(self, stop: asyncio.Event) -> None:
        """One watcher: the full state, then changes, until it is time to resync (or to stop)."""
        self.rebuilds += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._resync_s
        reconnects = self._reconnects()
        watcher = await self._kv.watchall()
        try:
            fresh = Catalogue()
            initial = True
            while not stop.is_set() and loop.time() < deadline and self._reconnects() == reconnects:
                try:
                    entry = await next_change(watcher, IDLE_POLL_S)
                except nats.errors.TimeoutError:
                    continue
                if entry is None:  # the end of the current state
                    initial = False
                    self._publish(fresh)
                    continue
                target = fresh if initial else self._copy()
                target.add(entry.key, entry.value if entry.operation is None else None)
                if not initial:
                    self._publish(target)
        finally:
            with contextlib.suppress(Exception):
                await stop_watching(watcher)

    def _copy(self) -> Catalogue:
        return Catalogue(dict(self.catalogue.cameras), dict(self.catalogue.invalid))

    def _publish(self, catalogue: Catalogue) -> None:
        for key, reason in catalogue.invalid.items():
            if self.catalogue.invalid.get(key) != reason:
                log.error("camera catalogue: ignoring %s: %s", key, reason, extra={"camera_id": key})
        before = set(self.catalogue.cameras)
        after = set(catalogue.cameras)
        if before != after or self.catalogue.cameras != catalogue.cameras:
            log.info(
                "camera catalogue: %d cameras (added %s, removed %s)",
                len(after),
                ", ".join(sorted(after - before)) or "none",
                ", ".join(sorted(before - after)) or "none",
            )
        self.catalogue = catalogue
        self.loaded.set()
        self._on_catalogue(catalogue)
