"""Composition root of a worker process: cameras in, face hits and plate reads out.

Threads: per camera, one RTSP source and one analysis thread running the camera's stages (faces,
plates, or both). The asyncio loop owns NATS (publishing, watchlist changes, heartbeats).
SIGTERM/SIGINT stop the sources, let analysers finish the frames
they hold, flush the outbox and drain the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import threading
from dataclasses import dataclass

from nats.aio.client import Client

from pipeline import subjects
from pipeline.bus import connect
from pipeline.contracts import WorkerHeartbeat
from pipeline.database import make_engine
from pipeline.face import FaceAnalyzer
from pipeline.settings import CameraConfig, ConfigError, Settings
from pipeline.streams import ensure_stream, hits_stream_config, plates_stream_config
from pipeline.types import CameraId, Frame
from watchlist.matcher import WatchlistMatcher
from watchlist.store import WatchlistStore
from workers.analysis import CameraAnalyser
from workers.frame_queue import DropOldestQueue
from workers.plate_analysis import PlateAnalyser
from workers.publisher import HitPublisher
from workers.runner import CameraRunner, Stage
from workers.source import RtspSource, SourceOptions
from workers.stats import CameraCounters
from workers.watchlist_sync import WatchlistSync

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    raw = f"{socket.gethostname()}-{os.getpid()}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", raw)[:64]


def select_cameras(settings: Settings, camera_ids: list[str]) -> list[CameraConfig]:
    if not settings.cameras:
        raise ConfigError("no cameras are configured (settings 'cameras')")
    if not camera_ids:
        return list(settings.cameras)
    known = {c.id: c for c in settings.cameras}
    unknown = [c for c in camera_ids if c not in known]
    if unknown:
        raise ConfigError(f"unknown camera id(s): {', '.join(unknown)}; configured: {', '.join(known)}")
    return [known[c] for c in camera_ids]


@dataclass
class CameraPipeline:
    source: RtspSource
    analyser: CameraRunner
    counters: CameraCounters

    def alive(self) -> bool:
        return self.source.is_alive() or self.analyser.is_alive()


class Worker:
    def __init__(self, settings: Settings, cameras: list[CameraConfig]) -> None:
        self.settings = settings
        self.cameras = cameras
        self.worker_id = settings.worker.worker_id or default_worker_id()
        self._thread_stop = threading.Event()
        self._stop = asyncio.Event()
        self.pipelines: list[CameraPipeline] = []

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        nc = await connect(self.settings.nats_url, name=f"worker-{self.worker_id}")
        try:
            return await self._run_connected(nc, loop)
        finally:
            await nc.drain()

    async def _run_connected(self, nc: Client, loop: asyncio.AbstractEventLoop) -> int:
        js = nc.jetstream()
        await ensure_stream(js, hits_stream_config())
        await ensure_stream(js, plates_stream_config())
        store = WatchlistStore(make_engine(self.settings.resolved_database_url))
        await asyncio.to_thread(store.create_schema)
        matcher = WatchlistMatcher(self.settings)
        sync = WatchlistSync(js, matcher, store)
        await sync.start()
        publisher = HitPublisher(js, loop)
        publish_stop = asyncio.Event()
        publish_task = asyncio.create_task(publisher.run(publish_stop))
        for camera in self.cameras:
            self.pipelines.append(await asyncio.to_thread(self._build, camera, matcher, publisher))
        for p in self.pipelines:
            p.analyser.start()
            p.source.start()
        log.info("worker %s: analysing %s", self.worker_id, ", ".join(c.id for c in self.cameras))
        heartbeat = asyncio.create_task(self._heartbeats(nc))
        resync = asyncio.create_task(sync.resync_forever(self.settings.worker.watchlist_resync_s))
        try:
            await self._wait_until_done()
        finally:
            self._thread_stop.set()
            for p in self.pipelines:
                await asyncio.to_thread(p.source.join, 10)
                await asyncio.to_thread(p.analyser.join, 10)
            heartbeat.cancel()
            resync.cancel()
            publish_stop.set()
            try:
                await asyncio.wait_for(publish_task, 15)
            except TimeoutError:
                log.error("worker %s: %d hits unpublished at exit", self.worker_id, publisher.pending)
            await sync.stop()
            await self._publish_heartbeat(nc)
        return 0

    def _build(
        self, camera: CameraConfig, matcher: WatchlistMatcher, publisher: HitPublisher
    ) -> CameraPipeline:
        wopt = self.settings.worker
        queue: DropOldestQueue[Frame] = DropOldestQueue(wopt.queue_size)
        counters = CameraCounters(camera.id)
        options = SourceOptions(
            url=camera.url,
            analysis_fps=camera.analysis_fps or wopt.analysis_fps,
            open_timeout_s=wopt.open_timeout_s,
            reconnect_initial_s=wopt.reconnect_initial_s,
            reconnect_max_s=wopt.reconnect_max_s,
            stop_at_end=wopt.stop_at_end,
        )
        source = RtspSource(CameraId(camera.id), options, queue, counters, self._thread_stop)
        stages: list[Stage] = []
        if "face" in camera.analytics:
            analyzer = FaceAnalyzer(self.settings, self.settings.models_dir)
            analyzer.load()
            stages.append(
                CameraAnalyser(
                    camera.id,
                    self.worker_id,
                    self.settings,
                    analyzer,
                    matcher,
                    queue,
                    counters,
                    publisher.submit,
                    self._thread_stop,
                )
            )
        if "plate" in camera.analytics:
            from pipeline.plates.reader import PlateReader  # ANPR models load only where configured

            reader = PlateReader(self.settings.plates, self.settings.models_dir)
            reader.load()
            stages.append(
                PlateAnalyser(camera.id, self.worker_id, self.settings, reader, counters, publisher.submit)
            )
        analyser = CameraRunner(camera.id, stages, queue, self._thread_stop)
        return CameraPipeline(source, analyser, counters)

    async def _wait_until_done(self) -> None:
        while not self._stop.is_set():
            if self.settings.worker.stop_at_end and not any(p.alive() for p in self.pipelines):
                log.info("worker %s: every stream ended", self.worker_id)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.5)

    async def _heartbeats(self, nc: Client) -> None:
        while True:
            await asyncio.sleep(self.settings.worker.heartbeat_s)
            await self._publish_heartbeat(nc)

    async def _publish_heartbeat(self, nc: Client) -> None:
        beat = WorkerHeartbeat(
            worker_id=self.worker_id, cameras=[p.counters.snapshot() for p in self.pipelines]
        )
        try:
            await nc.publish(subjects.worker_heartbeat(self.worker_id), beat.to_bytes())
        except Exception as exc:
            log.warning("heartbeat not sent: %s", exc)


def run_worker(settings: Settings, camera_ids: list[str]) -> int:
    cameras = select_cameras(settings, camera_ids)
    return asyncio.run(Worker(settings, cameras).run())
