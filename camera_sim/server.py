"""CameraSimulator: an RTSP server whose mounts replay H.264 and HEVC clips like live IP cameras."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Self

from camera_sim.auth import CountingAuth, SimAuth, grant, role_of
from camera_sim.clip import Clip, load_clip
from camera_sim.faults import SKEW_NEEDS_STAMPS, ActiveFault, FaultBoard, FaultError, FaultSpec, parse_fault
from camera_sim.feeder import MAIN, Feeder, FeederStats, FrameSentCallback
from camera_sim.gst import GLib, GstRtsp, GstRtspServer, init
from camera_sim.scenario import Scenario, ScenarioCamera
from camera_sim.transcode import CameraEncoding, ensure_camera_like, transcoded

log = logging.getLogger(__name__)

# One shared media per mount: every client sees the same live stream, as with a real camera.
# The payloader inserts no parameter sets (config-interval=0): every keyframe of a clip carries them at
# the head of its access unit already (clip.py), which is where a client joining mid-stream needs them.
# With config-interval=-1 the payloader put them before every IDR *slice*, so in a frame of several
# slices they sat between slices; by the H.264 and HEVC rules a parameter set after a slice begins a
# new access unit, so FFmpeg cut each keyframe into one picture per slice, and every picture of that
# GOP kept only its last slice's rows (the top of the frame grey in the worker).
_LAUNCH = (
    "( appsrc name=src is-live=true format=time do-timestamp=false min-latency=0 "
    "block=false max-bytes=4000000 leaky-type=downstream "
    "! {payloader} name=pay0 pt=96 config-interval=0 aggregate-mode=zero-latency )"
)
_PAYLOADERS = {"h264": "rtph264pay", "hevc": "rtph265pay"}
# UDP clients that vanish without TEARDOWN are only noticed when their session times out; the pool
# has to be swept for that to happen.
_SESSION_SWEEP_S = 2
# How often the RTSP thread looks for cameras whose clients a drop fault disconnects.
_DROP_CHECK_MS = 50
_REQUESTS = ("pre-describe-request", "pre-setup-request", "pre-play-request")
# A client whose host vanished (link cut, power lost) acknowledges nothing. Its frames pile up until the
# RTSP watch's backlog is full, and then the mount's shared stream waits for it: every other viewer of
# that camera froze, and new ones took 4 s to open (measured with a worker host's link cut). The kernel
# gives up on such a connection once sent data has gone unacknowledged this long, which frees the stream
# (measured: new viewers open in 0.1 s throughout). A live client's kernel acknowledges what it buffers; one
# that reads nothing until its buffer has been full for this long is dropped too, as cameras drop them.
_UNACKNOWLEDGED_MS = 2000


@dataclass(frozen=True, slots=True)
class SimReadiness:
    listening: bool
    cameras_playing: list[str]

    @property
    def ready(self) -> bool:
        """Listening with at least one mount that has a stream to give."""
        return self.listening and bool(self.cameras_playing)


@dataclass(frozen=True, slots=True)
class SimCamera:
    camera_id: str
    clip: Clip
    loop: bool = True
    stamps: bool = True  # False: no frame stamps, as a real camera (latency from its RTCP reports)
    substream: Clip | None = None  # the same frames, smaller: served at rtsp://HOST:PORT/<id>/sub
    substream_step: int = 1  # the sub-stream has every n-th frame of the main stream's (a lower rate)
    auth: SimAuth | None = None  # a login the camera requires (both streams); None: open to anyone
    on_first_viewer: bool = False  # the clock starts when a client first connects, not at start()
    faults: tuple[FaultSpec, ...] = ()  # scheduled from when the clock starts (faults.py)
    alternates: tuple[Clip, ...] = ()  # the main stream at other heights, for resolution faults


def abort_when_unacknowledged(client: GstRtspServer.RTSPClient) -> None:
    """Set TCP_USER_TIMEOUT (and keep-alive probes) on the client's connection: see _UNACKNOWLEDGED_MS."""
    connection = client.get_connection()
    gsocket = connection.get_read_socket() if connection is not None else None
    if gsocket is None:
        return
    try:
        # A duplicate of the descriptor: closing it leaves GStreamer's own open.
        with socket.socket(fileno=os.dup(gsocket.get_fd())) as sock:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, _UNACKNOWLEDGED_MS)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    except OSError as exc:
        log.debug("camera_sim: cannot bound a client's unacknowledged time: %s", exc)


def _mount(camera_id: str, role: str) -> str:
    return f"{camera_id}/{role}" if role else camera_id


def _main_file(cam: ScenarioCamera, cache_dir: Path | None) -> Path:
    """The file a camera's main stream replays: its own, made camera-like, or encoded as it says."""
    if cam.encode is not None:
        return transcoded(cam.file, cam.encode.encoding(), cache_dir)
    return ensure_camera_like(cam.file, cache_dir)


def resized(main: Clip, height: int, cache_dir: Path | None) -> Clip:
    """The main stream re-encoded at ``height`` (same codec and frame rate, a keyframe a second), for a
    resolution fault; transcoded once into the cache."""
    encoding = CameraEncoding(
        codec="hevc" if main.codec == "hevc" else "h264", height=height, preset="ultrafast"
    )
    return load_clip(transcoded(main.path, encoding, cache_dir), main.fps)


def _loops_for(cam: SimCamera, loops: int, seconds: float | None) -> int | None:
    """How many times ``cam`` plays its clip (None: forever)."""
    if not cam.loop:
        return 1
    if seconds is not None:
        return max(1, math.ceil(seconds * 1e9 / cam.clip.span_ns))
    return loops or None


class CameraSimulator:
    """Serves each camera at ``rtsp://HOST:PORT/<camera_id>``.

    ``loops=0`` plays forever; ``loops=N`` plays each looping camera N times (a camera with
    ``loop=False`` once), then ends its stream; ``seconds=S`` instead plays each looping camera in whole
    loops until it has played at least S seconds (a 1 s clip and a 9 s clip then end together);
    ``wait()`` returns when every camera has ended.
    ``port=0`` picks a free port, readable from ``port`` after ``start()``.
    """

    def __init__(
        self,
        cameras: Sequence[SimCamera],
        *,
        host: str = "127.0.0.1",
        port: int = 8554,
        loops: int = 0,
        seconds: float | None = None,
        on_frame_sent: FrameSentCallback | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if not cameras:
            raise ValueError("a simulator needs at least one camera")
        if loops < 0:
            raise ValueError("loops must be >= 0 (0 plays forever)")
        if seconds is not None and (loops or seconds <= 0):
            raise ValueError("seconds must be > 0, and is given instead of loops")
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._feeders = {
            cam.camera_id: Feeder(
                cam.camera_id,
                cam.clip,
                loops=_loops_for(cam, loops, seconds),
                on_frame_sent=on_frame_sent,
                stamps=cam.stamps,
                substream=cam.substream,
                substream_step=cam.substream_step,
                on_first_viewer=cam.on_first_viewer,
                faults=cam.faults,
                alternates={alt.height: alt for alt in cam.alternates},
            )
            for cam in cameras
        }
        self.cache_dir = cache_dir
        if len(self._feeders) != len(cameras):
            raise ValueError("camera ids must be unique")
        self._auth_of = {cam.camera_id: cam.auth for cam in cameras}
        self._auth: CountingAuth | None = None
        self._context: GLib.MainContext | None = None
        self._loop: GLib.MainLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: GstRtspServer.RTSPServer | None = None
        self._source: GLib.Source | None = None
        self._stopped = threading.Event()
        self._viewers: dict[GstRtspServer.RTSPClient, str] = {}  # client → camera id (GLib thread only)

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        *,
        host: str = "127.0.0.1",
        port: int = 8554,
        loops: int = 0,
        seconds: float | None = None,
        on_frame_sent: FrameSentCallback | None = None,
        cache_dir: Path | None = None,
    ) -> CameraSimulator:
        """Demux every file of the scenario (each file, encoding and frame rate once), build the simulator.

        Files in other codecs than H.264 and HEVC, and a camera's ``encode`` and ``substream``, are
        transcoded once into ``cache_dir`` (transcode.py).
        """
        clips: dict[tuple[Path, float | None], Clip] = {}

        def clip(path: Path, fps: float | None) -> Clip:
            if (path, fps) not in clips:
                clips[path, fps] = load_clip(path, fps)
            return clips[path, fps]

        cameras = []
        for cam in scenario.cameras:
            main = clip(_main_file(cam, cache_dir), cam.fps)
            sub, step = None, 1
            if cam.substream is not None:
                step = cam.substream.frame_step(cam.fps or main.fps)
                encoding = replace(cam.substream.encoding(), frame_step=step)
                sub = clip(transcoded(cam.file, encoding, cache_dir), cam.fps / step if cam.fps else None)
            auth = None if cam.auth is None else cam.auth.sim_auth()
            faults = tuple(cam.faults)
            heights = sorted({f.height for f in faults if f.height is not None})
            alternates = tuple(resized(main, height, cache_dir) for height in heights)
            on_first_viewer = cam.start == "on_first_viewer"
            cameras.append(
                SimCamera(
                    cam.id,
                    main,
                    cam.loop,
                    cam.stamps,
                    sub,
                    step,
                    auth=auth,
                    on_first_viewer=on_first_viewer,
                    faults=faults,
                    alternates=alternates,
                )
            )
        return cls(
            cameras,
            host=host,
            port=port,
            loops=loops,
            seconds=seconds,
            on_frame_sent=on_frame_sent,
            cache_dir=cache_dir,
        )

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not started")
        return self._port

    @property
    def camera_ids(self) -> list[str]:
        return list(self._feeders)

    def url(self, camera_id: str, role: str = MAIN) -> str:
        """The camera's main stream, or with ``role=SUB`` its sub-stream."""
        if role not in self._feeders[camera_id].clips:
            raise KeyError(f"{camera_id} has no {role} stream")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"rtsp://{host}:{self.port}/{_mount(camera_id, role)}"

    def urls(self) -> dict[str, str]:
        return {camera_id: self.url(camera_id) for camera_id in self._feeders}

    def logins(self, camera_id: str) -> tuple[int, int]:
        """A protected camera's logins so far: (attempts, refused); (0, 0) for an open camera."""
        counts = self._auth.counts.get(camera_id) if self._auth is not None else None
        if counts is None:
            return 0, 0
        with counts.lock:
            return counts.attempts, counts.refused

    def planned_loops(self) -> dict[str, int | None]:
        """How many times each camera plays its clip (None: forever)."""
        return {camera_id: feeder.loops for camera_id, feeder in self._feeders.items()}

    def streams(self, camera_id: str) -> dict[str, Clip]:
        """What a camera serves, by mount role (feeder.MAIN, feeder.SUB)."""
        return dict(self._feeders[camera_id].clips)

    def stats(self) -> dict[str, FeederStats]:
        return {camera_id: feeder.stats for camera_id, feeder in self._feeders.items()}

    def readiness(self) -> SimReadiness:
        """Whether the RTSP server listens (its socket attached, its loop running), and which mounts play."""
        listening = self._source is not None and self._loop is not None and self._loop.is_running()
        playing = sorted(camera_id for camera_id, feeder in self._feeders.items() if feeder.playing)
        return SimReadiness(listening=listening, cameras_playing=playing)

    # -- faults (faults.py): validated, listed, cleared; the HTTP API calls these -----------------------

    def inject(self, camera_id: str, data: object) -> ActiveFault:
        """Schedule a fault on a camera ``at_s`` from now; FaultError (4xx) if the camera or fault is
        unknown or invalid. A resolution fault at a new height transcodes the clip first (cached)."""
        feeder = self._feeders.get(camera_id)
        if feeder is None:
            raise FaultError(f"unknown camera {camera_id!r}; cameras: {', '.join(self._feeders)}", 404)
        spec = parse_fault(data)
        if spec.kind == "skew" and not feeder.stamps:
            raise FaultError(f"camera {camera_id}: {SKEW_NEEDS_STAMPS}", 422)
        if spec.height is not None and spec.height not in feeder.alternates:
            if spec.height == feeder.clip.height:
                raise FaultError(f"camera {camera_id} already sends {spec.height} lines", 422)
            feeder.alternates[spec.height] = resized(feeder.clip, spec.height, self.cache_dir)
        fault = feeder.faults.add(spec, time.monotonic())
        log.info("camera %s: fault %d injected: %s", camera_id, fault.id, spec.model_dump(exclude_none=True))
        return fault

    def faults(self, camera_id: str | None = None) -> list[ActiveFault]:
        """Faults scheduled or in effect (of one camera, or all)."""
        now = time.monotonic()
        return [f for cam in self._boards(camera_id) for f in cam.listed(now)]

    def clear_faults(self, camera_id: str | None = None, fault_id: int | None = None) -> int:
        """End faults at once: one by id, a camera's, or all; how many were cleared."""
        return sum(board.clear(fault_id) for board in self._boards(camera_id))

    def _boards(self, camera_id: str | None) -> list[FaultBoard]:
        if camera_id is None:
            return [feeder.faults for feeder in self._feeders.values()]
        if camera_id not in self._feeders:
            raise FaultError(f"unknown camera {camera_id!r}; cameras: {', '.join(self._feeders)}", 404)
        return [self._feeders[camera_id].faults]

    def wait_started(self, camera_id: str, timeout: float | None = None) -> bool:
        """Block until the camera's clock has started (at once, or at its first viewer)."""
        return self._feeders[camera_id].wait_started(timeout)

    def start(self) -> None:
        """Listen (raising OSError if the address is unusable), then start every camera's clock."""
        if self._thread is not None:
            raise RuntimeError("the simulator was already started")
        init()
        self._context = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self._context, False)
        self._server = server = GstRtspServer.RTSPServer()
        server.set_address(self.host)
        server.set_service(str(self._requested_port))
        if any(auth is not None for auth in self._auth_of.values()):
            self._auth = CountingAuth(self._auth_of)
            server.set_auth(self._auth)
        # Clients served on this loop's own thread, not the pool's: a client closed here (a drop fault, the
        # shutdown) must not still be read by another thread, which then spins on the closed connection.
        server.get_thread_pool().set_max_threads(0)
        server.connect("client-connected", self._on_client)
        mounts = server.get_mount_points()
        roles = {role_of(camera_id, auth) for camera_id, auth in self._auth_of.items()}
        for camera_id, feeder in self._feeders.items():
            for role in feeder.clips:
                factory = self._factory(feeder, role)
                grant(factory, role_of(camera_id, self._auth_of[camera_id]), roles)
                mounts.add_factory(f"/{_mount(camera_id, role)}", factory)
        try:
            self._source = server.create_source(None)
        except GLib.Error as exc:
            raise OSError(
                f"camera_sim cannot listen on {self.host}:{self._requested_port}: {exc.message}"
            ) from None
        self._source.attach(self._context)
        self._port = server.get_bound_port()
        sweep = GLib.timeout_source_new_seconds(_SESSION_SWEEP_S)
        sweep.set_callback(self._sweep_sessions)
        sweep.attach(self._context)
        drops = GLib.timeout_source_new(_DROP_CHECK_MS)
        drops.set_callback(self._enforce_drops)
        drops.attach(self._context)
        self._thread = threading.Thread(target=self._loop.run, name="camera-sim-rtsp", daemon=True)
        self._thread.start()
        for feeder in self._feeders.values():
            feeder.start()
        threading.Thread(target=self._wait_feeders, name="camera-sim-watch", daemon=True).start()
        log.info("camera_sim serving %d cameras on %s:%d", len(self._feeders), self.host, self._port)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every camera's playback ended (finite mode) or ``stop()``; False on timeout."""
        return self._stopped.wait(timeout)

    def stop(self) -> None:
        """Stop the cameras, disconnect every client and close the socket. Idempotent."""
        for feeder in self._feeders.values():
            feeder.stop()
        if self._loop is not None and self._context is not None and self._thread is not None:
            done = threading.Event()
            self._context.invoke_full(GLib.PRIORITY_DEFAULT, self._shutdown, done)
            if not done.wait(5):
                log.warning("camera_sim: RTSP shutdown timed out")
            self._loop.quit()
            self._thread.join(5)
        self._thread = None
        self._stopped.set()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_feeders(self) -> None:
        for feeder in self._feeders.values():
            while not feeder.finished.wait(0.2):
                if self._stopped.is_set():
                    return
        self._stopped.set()

    def _factory(self, feeder: Feeder, role: str) -> GstRtspServer.RTSPMediaFactory:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(_LAUNCH.format(payloader=_PAYLOADERS[feeder.clips[role].codec]))
        factory.set_shared(True)
        factory.connect("media-configure", self._on_media_configure, feeder, role)
        return factory

    def _on_media_configure(
        self,
        _factory: GstRtspServer.RTSPMediaFactory,
        media: GstRtspServer.RTSPMedia,
        feeder: Feeder,
        role: str,
    ) -> None:
        appsrc = media.get_element().get_by_name("src")
        feeder.attach(appsrc, role)
        media.connect("unprepared", lambda _media: feeder.detach(appsrc))

    def _on_client(self, _server: GstRtspServer.RTSPServer, client: GstRtspServer.RTSPClient) -> None:
        abort_when_unacknowledged(client)
        for signal in _REQUESTS:
            client.connect(signal, self._on_request)
        client.connect("play-request", self._on_play)
        client.connect("closed", lambda c: self._viewers.pop(c, None))

    def _on_play(self, client: GstRtspServer.RTSPClient, _ctx: GstRtspServer.RTSPContext) -> None:
        """Emitted once the PLAY response is sent: frames pushed from now on reach this client."""
        camera_id = self._viewers.get(client)
        if camera_id is not None:
            self._feeders[camera_id].viewer_playing()

    def _on_request(
        self, client: GstRtspServer.RTSPClient, ctx: GstRtspServer.RTSPContext
    ) -> GstRtsp.RTSPStatusCode:
        """Note which camera a client asks for; refuse it (503) while that camera has a drop fault."""
        path = ctx.uri.abspath.strip("/") if ctx.uri is not None else ""
        camera_id = path.split("/", 1)[0]
        feeder = self._feeders.get(camera_id)
        if feeder is None:
            return GstRtsp.RTSPStatusCode.OK  # the server answers 404 itself
        self._viewers[client] = camera_id
        if feeder.faults.active("drop", time.monotonic()):
            feeder.stats.connections_refused += 1
            return GstRtsp.RTSPStatusCode.SERVICE_UNAVAILABLE
        return GstRtsp.RTSPStatusCode.OK

    def _enforce_drops(self, *_args: object) -> bool:
        now = time.monotonic()
        dropped = {camera_id for camera_id, f in self._feeders.items() if f.faults.active("drop", now)}
        if dropped and self._server is not None and any(c in dropped for c in self._viewers.values()):

            def remove(_server: object, client: GstRtspServer.RTSPClient) -> GstRtspServer.RTSPFilterResult:
                camera_id = self._viewers.get(client)
                if camera_id in dropped:
                    self._viewers.pop(client, None)
                    self._feeders[camera_id].stats.connections_dropped += 1
                    return GstRtspServer.RTSPFilterResult.REMOVE
                return GstRtspServer.RTSPFilterResult.KEEP

            self._server.client_filter(remove)
        return True  # keep the timer

    def _sweep_sessions(self, *_args: object) -> bool:
        if self._server is not None:
            self._server.get_session_pool().cleanup()
        return True  # keep the timer

    def _shutdown(self, done: threading.Event) -> bool:
        try:
            if self._server is not None:
                self._server.client_filter(lambda _server, _client: GstRtspServer.RTSPFilterResult.REMOVE)
            if self._source is not None:
                self._source.destroy()
                # The listening socket closes only when the last reference to its GSource is gone,
                # and this wrapper holds one: drop it so a restarted camera can bind the same port.
                self._source = None
        finally:
            done.set()
        return False  # run once
