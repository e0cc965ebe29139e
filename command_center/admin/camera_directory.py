"""The cameras the command centre knows: names, places and districts for alerts, dispatch and the map.

Cameras are configured in two places: the settings' ``cameras`` (a fleet's first start seeds the catalogue
from them; pinned workers read them directly) and the fleet's camera catalogue in NATS KV, which operators
edit at run time (``safecity cameras ...``). The directory is the union, the catalogue winning for a camera
in both, and it follows the catalogue live: a camera added or moved to another district while everything
runs routes its next alert to the right operators and draws on the map at its new place, with no restart.

The directory is a read-only ``Mapping`` of camera id to ``CameraConfig`` whose content changes under the
readers; ``districts`` is the same as a mapping of camera id to district.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import AsyncExitStack

import nats.js.errors
from nats.aio.client import Client as NATS

from pipeline.adapters.catalogue_watch import CatalogueWatch
from pipeline.adapters.fleet import Catalogue
from pipeline.aio import cancel_and_wait
from pipeline.settings import CameraConfig, Settings

log = logging.getLogger(__name__)

# How long the command centre waits at start for the first full read of the catalogue before it serves
# with what the settings say (the watch goes on and fills in the rest).
FIRST_READ_WAIT_S = 3.0
# How often a catalogue bucket that does not exist yet is looked for (one JetStream request each time).
BUCKET_LOOK_S = 1.0


class CameraDirectory(Mapping[str, CameraConfig]):
    def __init__(self, configured: list[CameraConfig]) -> None:
        self._configured = {camera.id: camera for camera in configured}
        self._cameras: dict[str, CameraConfig] = dict(self._configured)
        self.districts: Mapping[str, str] = _Districts(self)

    # -- Mapping ---------------------------------------------------------------------------------------

    def __getitem__(self, camera_id: str) -> CameraConfig:
        return self._cameras[camera_id]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._cameras))

    def __len__(self) -> int:
        return len(self._cameras)

    def all(self) -> list[CameraConfig]:
        """Every known camera, by id."""
        cameras = self._cameras
        return [cameras[k] for k in sorted(cameras)]

    def put(self, camera: CameraConfig) -> None:
        """One camera as just written to the catalogue, before the watch brings it (read your writes)."""
        self._cameras = {**self._cameras, camera.id: camera}

    # -- following the catalogue -----------------------------------------------------------------------

    def apply(self, catalogue: Catalogue) -> None:
        """Take the catalogue's current cameras (swapped in whole, so a reader never sees half of it)."""
        merged = dict(self._configured)
        merged.update(catalogue.cameras)
        self._cameras = merged

    async def follow(self, nc: NATS, settings: Settings, stack: AsyncExitStack) -> None:
        """Watch the fleet's catalogue until the stack closes; wait briefly for the first full read.

        The catalogue bucket is the workers' to create (a fleet's first worker seeds it); until it exists
        the directory holds the configured cameras and looks for it again every second (hits from a
        camera it does not know wait a few seconds, then are dead-lettered).
        """
        stop = asyncio.Event()
        loaded = asyncio.Event()
        task = asyncio.create_task(self._follow(nc, settings, stop, loaded), name="camera-directory")

        async def _stop() -> None:
            # Bounded whatever the task does: asyncio.wait_for would wait on a cancelled task that is
            # itself stuck in a NATS request (seen once as a shutdown hung for minutes, NATS away).
            stop.set()
            done, _ = await asyncio.wait({task}, timeout=5)
            if not done:
                await asyncio.wait({asyncio.ensure_future(cancel_and_wait(task))}, timeout=1)

        stack.push_async_callback(_stop)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(loaded.wait(), FIRST_READ_WAIT_S)
        if not loaded.is_set():
            log.warning(
                "camera catalogue not read within %.0fs; using the configured cameras", FIRST_READ_WAIT_S
            )

    async def _follow(self, nc: NATS, settings: Settings, stop: asyncio.Event, loaded: asyncio.Event) -> None:
        bucket = settings.nats.subjects.cameras_bucket(settings.worker.fleet)
        resync_s = settings.worker.catalogue_resync_s
        while True:
            try:
                kv = await nc.jetstream().key_value(bucket)
                break
            except nats.js.errors.BucketNotFoundError:
                loaded.set()  # nothing to read yet: the configured cameras are all there is
                wait_s = min(resync_s, BUCKET_LOOK_S)
            except Exception as exc:
                log.warning("camera catalogue %s not readable (%s: %s)", bucket, type(exc).__name__, exc)
                wait_s = resync_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait_s)
            if stop.is_set():
                return
        watch = CatalogueWatch(kv, self.apply, resync_s, reconnects=lambda: int(nc.stats["reconnects"]))
        forward = asyncio.create_task(_forward(watch.loaded, loaded))
        try:
            await watch.run(stop)
        finally:
            forward.cancel()


async def _forward(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


class _Districts(Mapping[str, str]):
    """Camera id → district, read through the directory as it is now."""

    def __init__(self, directory: CameraDirectory) -> None:
        self._directory = directory

    def __getitem__(self, camera_id: str) -> str:
        return self._directory[camera_id].district

    def __iter__(self) -> Iterator[str]:
        return iter(self._directory)

    def __len__(self) -> int:
        return len(self._directory)
