"""Composition root of a worker process: cameras in, face hits and plate reads out.

Threads: per camera, one RTSP source and one analysis thread running the camera's stages (faces,
plates, or both). The asyncio loop owns NATS (publishing, watchlist changes, leases, heartbeats) and
the metrics endpoint. The face models are loaded once per process and shared by every camera (they are
thread-safe and keep nothing between calls); OpenCV runs on the calling thread only, so each camera's
CPU is spent, and counted, on its own threads, and cameras rather than one frame's pixels use the cores.

Which cameras: with ``worker.assignment: leases`` (the default) the cameras are those this worker holds
leases on (``workers.leases``), out of the fleet's catalogue in NATS KV, and change at run time; with
``static`` (replays, ``--camera``) they are fixed at start. Either way the worker keeps a desired set
and starts or stops pipelines to match it; a camera whose lease is lost is signalled to stop at once.

SIGTERM/SIGINT stop the sources, let analysers finish the frames they hold, hand leases over, flush
the outbox and drain the connection.
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

import cv2
from nats.aio.client import Client

from pipeline.adapters.bus import connect
from pipeline.adapters.database import make_engine
from pipeline.adapters.streams import ensure_stream, hits_stream_config, plates_stream_config, use_replicas
from pipeline.aio import cancel_and_wait
from pipeline.camera_credentials import redact
from pipeline.contracts import PlateRead, WorkerHeartbeat
from pipeline.settings import CameraConfig, ConfigError, Settings
from pipeline.types import CameraId, Frame
from watchlist.lists import WatchLists
from watchlist.matcher import WatchlistMatcher
from watchlist.policies import ListPolicies
from watchlist.store import WatchlistStore
from workers.camera_pipeline import CameraPipeline
from workers.evidence_upgrade import MainStreamEvidence
from workers.fleet_member import FleetMember
from workers.frame_queue import DropOldestQueue
from workers.health_notices import HealthNotices
from workers.kinds import StageContext, stage_for
from workers.metrics import RateMeter, WorkerMetrics, WorkerSnapshot
from workers.probe_server import Probe, ProbeServer
from workers.publisher import HitPublisher, Outgoing
from workers.runner import CameraRunner, Stage
from workers.source import RtspSource, SourceOptions
from workers.stats import CameraCounters
from workers.watchlist_sync import WatchlistSync

log = logging.getLogger(__name__)

BUILD_RETRY_S = 5.0
JOIN_TIMEOUT_S = 10.0


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


class Worker:
    def __init__(self, settings: Settings, cameras: list[CameraConfig] | None) -> None:
        """``cameras``: a fixed set (static assignment), or None to take cameras through leases."""
        self.settings = settings
        self.static = {c.id: c for c in cameras} if cameras is not None else None
        self.worker_id = settings.worker.worker_id or default_worker_id()
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()
        self.pipelines: dict[str, CameraPipeline] = {}
        self.counters: dict[str, CameraCounters] = {}  # kept across restarts of a camera
        self.fleet: FleetMember | None = None
        self.metrics = WorkerMetrics(self.worker_id, self._snapshot)
        self._rates = RateMeter()
        self._nc: Client | None = None
        self._publisher: HitPublisher | None = None
        self._matcher: WatchlistMatcher | None = None
        self._policies = ListPolicies()
        self._build_failures: dict[str, str] = {}
        self._shared: dict[str, object] = {}  # models every camera of a kind shares, by kind
        self._health: HealthNotices | None = None

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        use_replicas(self.settings.nats_replicas)
        nc = await connect(self.settings.nats_url, name=f"worker-{self.worker_id}")
        self._nc = nc
        try:
            return await self._run_connected(nc, loop)
        finally:
            await nc.drain()

    async def _run_connected(self, nc: Client, loop: asyncio.AbstractEventLoop) -> int:
        js = nc.jetstream()
        names = self.settings.nats.subjects
        await ensure_stream(js, hits_stream_config(names))
        await ensure_stream(js, plates_stream_config(names))
        store = WatchlistStore(make_engine(self.settings.resolved_database_url))
        await asyncio.to_thread(store.create_schema)
        await asyncio.to_thread(WatchLists.open, store, self.settings)  # the default lists, if none yet
        self._matcher = WatchlistMatcher(self.settings, keep=self._policies.keeps)  # live lists only
        sync = WatchlistSync(js, self._matcher, store, self.settings, self._policies)
        await sync.start()
        self._publisher = HitPublisher(js, names, loop, on_published=self._published)
        self._health = HealthNotices(self.worker_id, loop, nc, names)
        publish_stop = asyncio.Event()
        background_stop = asyncio.Event()
        publish_task = asyncio.create_task(self._publisher.run(publish_stop))
        probes = await self._start_probes()
        if self.static is None:
            self.fleet = await FleetMember.join(nc, self.settings, self.worker_id, self._on_assignment)
        tasks = [
            asyncio.create_task(self._reconcile_forever()),
            asyncio.create_task(self._heartbeats(nc)),
            asyncio.create_task(self._sample_rates(background_stop)),
            asyncio.create_task(sync.resync_forever(self.settings.worker.watchlist_resync_s)),
        ]
        if self.fleet is not None:
            tasks += self.fleet.start(background_stop)
        self._changed.set()
        try:
            await self._wait_until_done()
        finally:
            if self.fleet is not None:
                await self.fleet.leave()  # hand cameras over before the slow part of stopping
            await self._stop_pipelines(list(self.pipelines))
            background_stop.set()
            await asyncio.gather(*(cancel_and_wait(task) for task in tasks))
            publish_stop.set()
            try:
                await asyncio.wait_for(publish_task, 15)
            except TimeoutError:
                log.error("worker %s: %d hits unpublished at exit", self.worker_id, self._publisher.pending)
            await sync.stop()
            await self._publish_heartbeat(nc)
            if probes is not None:
                await probes.close()
        return 0

    # -- which cameras -------------------------------------------------------------------------------

    def _desired(self) -> dict[str, CameraConfig]:
        if self.static is not None:
            return self.static
        return self.fleet.desired if self.fleet is not None else {}

    def _on_assignment(self) -> None:
        """Leases changed: signal cameras no longer ours to stop now, and reconcile the rest soon."""
        desired = self._desired()
        for camera_id, pipeline in self.pipelines.items():
            if desired.get(camera_id) != pipeline.config:
                pipeline.stop.set()
        self._changed.set()

    async def _reconcile_forever(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self._reconcile()

    async def _reconcile(self) -> None:
        desired = self._desired()
        await self._stop_pipelines([c for c, p in self.pipelines.items() if desired.get(c) != p.config])
        for camera_id, config in desired.items():
            if camera_id in self.pipelines or self._stop.is_set():
                continue
            try:
                counters = self.counters.setdefault(camera_id, CameraCounters(camera_id))  # on this loop
                pipeline = await asyncio.to_thread(self._build, config, counters)
            except Exception as exc:
                self._build_failures[camera_id] = redact(f"{type(exc).__name__}: {exc}")
                log.exception("camera %s: cannot start; retrying", camera_id, extra={"camera_id": camera_id})
                asyncio.get_running_loop().call_later(BUILD_RETRY_S, self._changed.set)
                continue
            self._build_failures.pop(camera_id, None)
            if self._desired().get(camera_id) != config or self._stop.is_set():
                continue  # lost (or edited) while its models loaded
            pipeline.start()
            self.pipelines[camera_id] = pipeline
            log.info(
                "camera %s: analysing %s (%s)",
                camera_id,
                ", ".join(config.analytics),
                config.analysed_stream.url,
                extra={"camera_id": camera_id, "worker_id": self.worker_id},
            )

    async def _stop_pipelines(self, camera_ids: list[str]) -> None:
        stopping = [self.pipelines.pop(c) for c in camera_ids if c in self.pipelines]
        for pipeline in stopping:
            pipeline.stop.set()
        for pipeline in stopping:
            await asyncio.to_thread(pipeline.join, JOIN_TIMEOUT_S)
            if self._health is not None:
                self._health.forget(pipeline.config.id)
            log.info(
                "camera %s: stopped",
                pipeline.config.id,
                extra={"camera_id": pipeline.config.id, "worker_id": self.worker_id},
            )

    def _build(self, camera: CameraConfig, counters: CameraCounters) -> CameraPipeline:
        assert self._matcher is not None and self._publisher is not None
        wopt = self.settings.worker
        stop = threading.Event()
        queue: DropOldestQueue[Frame] = DropOldestQueue(wopt.queue_size)
        source = RtspSource(
            CameraId(camera.id),
            SourceOptions.for_camera(camera, wopt),
            queue,
            counters,
            stop,
            health=self._health,
        )
        submit = self._publisher.submit
        evidence = MainStreamEvidence.for_camera(camera, wopt, lambda: source.analysed_size, submit, stop)
        if evidence is not None:
            submit = evidence.submit
        context = StageContext(
            camera,
            self.worker_id,
            self.settings,
            counters,
            submit,
            self._matcher,
            self._policies,
            self._shared,
        )
        stages: dict[str, Stage] = {kind: stage_for(kind, context) for kind in camera.analytics}
        analyser = CameraRunner(camera.id, stages, queue, stop, counters, observer=self.metrics)
        return CameraPipeline(camera, source, analyser, counters, stop, evidence)

    async def _wait_until_done(self) -> None:
        while not self._stop.is_set():
            if (
                self.settings.worker.stop_at_end
                and self.pipelines
                and not any(p.alive() for p in self.pipelines.values())
            ):
                log.info("worker %s: every stream ended", self.worker_id)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.5)

    # -- telling the world ---------------------------------------------------------------------------

    def _published(self, message: Outgoing, seconds: float) -> None:
        self.metrics.published(seconds)
        log.log(
            logging.DEBUG if isinstance(message, PlateRead) else logging.INFO,  # reads: every vehicle pass
            "published %s",
            type(message).__name__,
            extra={"camera_id": message.camera_id, "event_id": str(message.event_id)},
        )

    async def _heartbeats(self, nc: Client) -> None:
        while True:
            await asyncio.sleep(self.settings.worker.heartbeat_s)
            await self._publish_heartbeat(nc)
            if self._health is not None:
                await self._health.repeat()

    async def _publish_heartbeat(self, nc: Client) -> None:
        beat = WorkerHeartbeat(
            worker_id=self.worker_id, cameras=[p.counters.snapshot() for p in self.pipelines.values()]
        )
        try:
            subject = self.settings.nats.subjects.worker_heartbeat(self.worker_id)
            await nc.publish(subject, beat.to_bytes())
        except Exception as exc:
            log.warning("heartbeat not sent: %s", exc)

    async def _sample_rates(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for pipeline in list(self.pipelines.values()):
                pipeline.sample_cpu()
            self._rates.sample(self.counters, len(self.pipelines))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def _start_probes(self) -> ProbeServer | None:
        wopt = self.settings.worker
        if not wopt.metrics_port:
            return None
        server = ProbeServer(
            self.metrics.registry, self._live, self._ready, wopt.metrics_host, wopt.metrics_port
        )
        await server.start()
        return server

    def _snapshot(self) -> WorkerSnapshot:
        nc, publisher, fleet = self._nc, self._publisher, self.fleet
        keeper = fleet.keeper if fleet is not None else None
        return WorkerSnapshot(
            cameras=dict(self.counters),
            running=frozenset(self.pipelines),
            fps=self._rates.rates(),
            cpu_ms_per_s=self._rates.cpu_ms_per_s(),
            process_cpu_ms_per_camera_s=self._rates.process_cpu_ms_per_camera_s(),
            outbox_pending=publisher.pending if publisher else 0,
            published=publisher.published if publisher else 0,
            outbox_dropped=publisher.dropped if publisher else 0,
            nats_connected=bool(nc and nc.is_connected),
            nats_reconnects=int(nc.stats["reconnects"]) if nc else 0,
            leases_held=len(keeper.held) if keeper else None,
            live_workers=keeper.live_workers if keeper else 0,
            lease_events={
                "claimed": keeper.stats.claimed,
                "released": keeper.stats.released,
                "contended": keeper.stats.contended,
            }
            if keeper
            else {},
            leases_lost=dict(keeper.lost_by_reason) if keeper else {},
        )

    def _live(self) -> Probe:
        """The loop answers (this runs on it) and the lease loop has not died."""
        fleet_ok = self.fleet is None or self.fleet.running
        return Probe(fleet_ok, {"worker_id": self.worker_id, "lease_loop": fleet_ok})

    def _ready(self) -> Probe:
        """Connected to NATS, leases current, and every camera held is analysed (models loaded)."""
        nats_ok = bool(self._nc and self._nc.is_connected)
        leases_ok = self.fleet is None or self.fleet.healthy()
        desired = set(self._desired())
        missing = sorted(desired - set(self.pipelines))
        details: dict[str, object] = {
            "worker_id": self.worker_id,
            "nats": nats_ok,
            "leases": leases_ok,
            "cameras": sorted(self.pipelines),
            "starting": missing,
            "failed": dict(self._build_failures),
        }
        return Probe(nats_ok and leases_ok and not missing, details)


def run_worker(settings: Settings, camera_ids: list[str]) -> int:
    """Static assignment with ``camera_ids`` or ``worker.assignment: static``; leases otherwise."""
    cv2.setNumThreads(1)  # see the module: no pool threads behind a camera's back
    if camera_ids or settings.worker.assignment == "static":
        return asyncio.run(Worker(settings, select_cameras(settings, camera_ids)).run())
    return asyncio.run(Worker(settings, None).run())
