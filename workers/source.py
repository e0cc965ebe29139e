"""RTSP ingest for analysis: read a camera's analysed stream, decode, pick frames at the analysis rate.

One thread per camera owns the connection (``RtspReader``: reconnects with backoff). Frames the analysis
will not take are decoded only when other frames need them (``skip_nonref``), and only the frames chosen
are converted to BGR (colour conversion costs more than decoding). Each frame carries when it left the
camera where that is known: from camera_sim's frame stamps (exact), else from the camera's RTCP sender
reports (``CaptureClock``), so latency is measured from the glass, not from our socket. A connection
that decodes nothing is waiting for a keyframe, or broken (``SessionWatch``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from av.codec.context import Flags2

from pipeline.camera_credentials import StreamAddress
from pipeline.frame_stamp import FrameStamp, find_stamp
from pipeline.settings import CameraConfig, WorkerSettings
from pipeline.types import CameraId, Frame
from workers.capture_clock import CaptureClock
from workers.frame_queue import DropOldestQueue
from workers.health_notices import HealthNotices
from workers.rtsp_reader import GiveUp, RtspReader
from workers.session_watch import UNDECODABLE_FIRST_S, SessionWatch
from workers.stats import CameraCounters

log = logging.getLogger(__name__)

_MAX_PENDING_STAMPS = 64


@dataclass(frozen=True)
class SourceOptions:
    address: StreamAddress
    analysis_fps: float
    open_timeout_s: float
    reconnect_initial_s: float
    reconnect_max_s: float
    stop_at_end: bool
    keyframe_wait_s: float
    skip_nonref: bool
    skip_loop_filter: bool
    auth_retry_initial_s: float = 300.0
    auth_retry_max_s: float = 3600.0

    @classmethod
    def for_camera(cls, camera: CameraConfig, worker: WorkerSettings) -> SourceOptions:
        """The analysed stream of ``camera`` (its sub-stream if it names one) read as ``worker`` says."""
        streams = worker.streams
        return cls(
            address=camera.analysed_stream,
            analysis_fps=camera.analysis_fps or worker.analysis_fps,
            open_timeout_s=worker.open_timeout_s,
            reconnect_initial_s=worker.reconnect_initial_s,
            reconnect_max_s=worker.reconnect_max_s,
            stop_at_end=worker.stop_at_end,
            keyframe_wait_s=streams.keyframe_wait_s,
            skip_nonref=streams.skip_nonref,
            skip_loop_filter=streams.skip_loop_filter,
            auth_retry_initial_s=worker.auth_retry_initial_s,
            auth_retry_max_s=worker.auth_retry_max_s,
        )


class RateGate:
    """Chooses frames at a steady rate from a faster stream, without drift.

    A frame that arrives a little early (network jitter, a loaded machine) is taken in its turn rather
    than skipped for the next one: up to a quarter of the period early, and less than half the stream's
    own frame interval. Without that, a sub-stream sent at the analysis rate (5 fps analysed at 5 fps)
    loses every frame that arrives a few milliseconds before its time (6 of 100 at ±15 ms of jitter).
    The rate taken stays at most ``fps``: each frame taken moves the next time on by a period.
    """

    def __init__(self, fps: float) -> None:
        self._period_ns = int(1e9 / fps)
        self._next_ns = 0
        self._last_ns: int | None = None  # the last frame seen (taken or not)
        self._interval_ns: float | None = None  # the stream's frame interval, smoothed

    def _early_ns(self) -> int:
        if self._interval_ns is None:
            return 0
        return int(min(self._period_ns / 4, self._interval_ns / 2))

    def due(self, now_ns: int) -> bool:
        """Whether a frame at ``now_ns`` would be taken (nothing changes)."""
        return now_ns >= self._next_ns - self._early_ns()

    def take(self, now_ns: int) -> bool:
        taken = self.due(now_ns)
        if self._last_ns is not None and now_ns > self._last_ns:
            gap = now_ns - self._last_ns
            self._interval_ns = gap if self._interval_ns is None else 0.9 * self._interval_ns + 0.1 * gap
        self._last_ns = now_ns
        if not taken:
            return False
        self._next_ns += self._period_ns
        if self._next_ns <= now_ns:
            # Fell behind (stall or first frame): restart the schedule from now.
            self._next_ns = now_ns + self._period_ns
        return True


class RtspSource(RtspReader):
    """Reads one camera in its own thread and feeds a DropOldestQueue with frames to analyse."""

    def __init__(
        self,
        camera_id: CameraId,
        options: SourceOptions,
        queue: DropOldestQueue[Frame],
        counters: CameraCounters,
        stop: threading.Event,
        clock: Callable[[], int] = time.time_ns,
        health: HealthNotices | None = None,
    ) -> None:
        super().__init__(
            camera_id,
            options.address,
            stop,
            name="source",
            open_timeout_s=options.open_timeout_s,
            reconnect_initial_s=options.reconnect_initial_s,
            reconnect_max_s=options.reconnect_max_s,
            auth_retry_initial_s=options.auth_retry_initial_s,
            auth_retry_max_s=options.auth_retry_max_s,
            stop_at_end=options.stop_at_end,
        )
        self._camera = camera_id
        self._opt = options
        self._queue = queue
        self._counters = counters
        self._clock = clock
        self._health = health
        self._gate = RateGate(options.analysis_fps)
        self.analysed_size: tuple[int, int] | None = None  # (width, height) of the last frame taken

    def _connected(self, connected: bool) -> None:
        self._counters.connected = connected

    def _reconnecting(self) -> None:
        self._counters.reconnects += 1

    def _finished(self) -> None:
        self._queue.close()

    def _login_refused(self, reason: str, retry_in_s: float) -> None:
        self._counters.logins_refused += 1
        if self._health is not None:
            self._health.login_refused(self.camera_id, reason, self.logins_refused, retry_in_s)

    def _login_accepted(self) -> None:
        if self._health is not None:
            self._health.login_accepted(self.camera_id)

    def _pump(self, container: av.container.InputContainer, stream: av.VideoStream) -> bool:
        ctx = stream.codec_context
        self._configure(ctx)
        capture = CaptureClock(self.camera_id, stream.time_base)
        watch = SessionWatch(self._opt.keyframe_wait_s, self.stall, time.monotonic())
        stamps: dict[int, FrameStamp] = {}
        skipping = False
        said_waiting = False
        gops = SilentGops()
        for packet in container.demux(stream):
            if self._stop.is_set():
                break
            now = time.monotonic()
            self._check(watch, now)
            if packet.size == 0:
                continue
            watch.packet(packet.is_keyframe, now)
            if gops.packet(packet.is_keyframe):
                ctx.flush_buffers()  # a keyframe needs no earlier state
                self._counters.decoder_resets += 1
            capture.observe(packet)
            _remember_stamp(stamps, packet)
            if self._opt.skip_nonref and skipping == self._gate.due(self._clock()):
                skipping = not skipping  # frames no one will analyse: decode only those others need
                ctx.skip_frame = "NONREF" if skipping else "DEFAULT"
            t0 = time.perf_counter()
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue  # joined mid-GOP: undecodable until the next keyframe
            decode_ms = (time.perf_counter() - t0) * 1e3
            if not frames and not said_waiting and watch.waiting_for_keyframe(now) > UNDECODABLE_FIRST_S:
                said_waiting = True
                log.info(
                    "camera %s: waiting for a keyframe (joined between keyframes of a long GOP)",
                    self.camera_id,
                    extra={"camera_id": self.camera_id},
                )
            for frame in frames:
                gops.decoded()
                if not watch.decoding and said_waiting:
                    log.info("camera %s: keyframe received, decoding", self.camera_id)
                watch.frame(time.monotonic())
                stamp = stamps.pop(frame.pts, None) if frame.pts is not None else None
                self._on_frame(frame, stamp, capture, decode_ms)
        return watch.decoding

    def _configure(self, ctx: av.codec.context.CodecContext) -> None:
        # Frame threading holds frames back (one per thread) before returning them: latency for no
        # gain, since a camera's decode costs a few ms a frame and we scale by processes.
        ctx.thread_count = 1
        # A frame of several slices may reach the decoder in pieces: a server that repeats the parameter
        # sets before every keyframe *slice* (GStreamer's rtph264pay with config-interval=-1 does)
        # begins, by H.264's rules, a new access unit at each, and FFmpeg's parser cuts the frame
        # there; decoded packet by packet, each picture kept only one slice. In chunk mode the H.264
        # decoder joins a picture's slices across packets and returns it once complete (other
        # decoders ignore the flag).
        ctx.flags2 |= Flags2.chunks
        if self._opt.skip_loop_filter:
            ctx.options = {"skip_loop_filter": "all"}

    def _check(self, watch: SessionWatch, now: float) -> None:
        if watch.broken(now):
            limit = self.stall.seconds
            self.stall.stalled()
            raise GiveUp(f"no frame decoded {limit:.0f}s after a keyframe though packets arrive")
        if watch.keyframe_overdue(now):
            raise GiveUp(f"no keyframe in {self._opt.keyframe_wait_s:.0f}s though packets arrive")

    def _on_frame(
        self, frame: av.VideoFrame, stamp: FrameStamp | None, capture: CaptureClock, decode_ms: float
    ) -> None:
        now = self._clock()
        self._counters.frames_decoded += 1
        self._counters.last_frame_ns = now
        if not self._gate.take(now):
            return
        # A stamp from a camera whose clock is off (camera_sim's skew fault) is no latency either.
        sent_ns = (
            capture.checked(stamp.sent_ns, now) if stamp is not None else capture.capture_ns(frame.pts, now)
        )
        self.analysed_size = (frame.width, frame.height)
        image = bgr_of(frame)
        dropped_before = self._queue.dropped
        self._queue.put(
            Frame(
                camera_id=self._camera,
                image=image,
                received_ns=now,
                decode_ms=decode_ms,
                seq=stamp.seq if stamp else None,
                sent_ns=sent_ns,
                enqueued_ns=time.perf_counter_ns(),
            )
        )
        self._counters.frames_dropped += self._queue.dropped - dropped_before


def bgr_of(frame: av.VideoFrame) -> np.ndarray:
    """The frame in BGR, converted on this thread. swscale's own threads (PyAV's default: as many as the
    machine has cores) cost more CPU than they save on a camera's frame, and every camera converts on
    its own source thread anyway; the pixels are the same."""
    return np.asarray(frame.to_ndarray(format="bgr24", threads=1), dtype=np.uint8)


class SilentGops:
    """A whole GOP that decoded to nothing: in chunk mode the H.264 decoder waits for the rest of a picture
    that garbled slices never complete, and would ignore every later keyframe too (measured with
    camera_sim's corrupt fault). ``packet`` says when to flush it, at the next keyframe."""

    def __init__(self) -> None:
        self._silent = False  # a keyframe arrived and nothing has decoded since
        self._went_on = False  # ... and other frames' packets followed it (a keyframe may come in pieces)

    def packet(self, keyframe: bool) -> bool:
        """True when the decoder is to be flushed before decoding this packet (a keyframe)."""
        if not keyframe:
            self._went_on = True
            return False
        flush = self._silent and self._went_on
        self._silent, self._went_on = True, False
        return flush

    def decoded(self) -> None:
        self._silent = False


def _remember_stamp(stamps: dict[int, FrameStamp], packet: av.Packet[Any]) -> None:
    """The send stamp a packet carries (camera_sim's SEI), kept by its pts until its frame is decoded."""
    stamp = find_stamp(bytes(packet))
    if stamp is not None and packet.pts is not None:
        stamps[packet.pts] = stamp
        if len(stamps) > _MAX_PENDING_STAMPS:
            stamps.pop(next(iter(stamps)))
