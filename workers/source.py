"""RTSP ingest: read a camera over TCP, decode, pick frames at the analysis rate, reconnect on loss.

One thread per camera owns the connection. Only frames chosen for analysis are converted to BGR
(colour conversion costs more than decoding). Frame stamps that camera_sim puts in the stream tell
when each frame left the camera, so latency is measured from the glass, not from our socket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
import av.error
import numpy as np
from av.codec.context import Flags2

from pipeline.frame_stamp import FrameStamp, find_stamp
from pipeline.types import CameraId, Frame
from workers.frame_queue import DropOldestQueue
from workers.stats import CameraCounters

log = logging.getLogger(__name__)

_MAX_PENDING_STAMPS = 64
# A connection whose packets decode to nothing for a while is dropped and opened again (seen once in ~20
# benchmark connections: a session that opened without usable parameter sets never decodes). The first
# limit is short so a camera restored into such a session is back within seconds; it doubles with each
# stall in a row, so a camera whose keyframes lie further apart (a long GOP joined mid-way; the car clip
# has one keyframe in 4.6 s) still gets through after a reconnect or two.
UNDECODABLE_FIRST_S = 3.0
UNDECODABLE_MAX_S = 12.0
# Failed attempts in a row logged one by one; after them, about one line a minute (with the count), so a
# camera down for hours at one attempt every reconnect_max_s does not write thousands of lines an hour.
_LOUD_FAILURES = 3
_QUIET_LOG_S = 60.0


class _Stalled(Exception):
    """Packets arrive but none has decoded within the current undecodable limit."""


class StallLimit:
    """How long a connection may go without a decoded frame: short first, doubling on stalls in a row."""

    def __init__(self, first_s: float = UNDECODABLE_FIRST_S, max_s: float = UNDECODABLE_MAX_S) -> None:
        self._first_s = first_s
        self._max_s = max_s
        self.seconds = first_s

    def stalled(self) -> None:
        self.seconds = min(self.seconds * 2, self._max_s)

    def decoded(self) -> None:
        self.seconds = self._first_s


class FailureLog:
    """Whether to log this failure in a row: the first few, then about once every ``every_s``."""

    def __init__(self, loud: int = _LOUD_FAILURES, every_s: float = _QUIET_LOG_S) -> None:
        self._loud = loud
        self._every_s = every_s
        self.failures = 0
        self._logged_at = -float("inf")

    def failed(self, now: float) -> bool:
        self.failures += 1
        if self.failures <= self._loud or now - self._logged_at >= self._every_s:
            self._logged_at = now
            return True
        return False

    def recovered(self) -> None:
        self.failures = 0
        self._logged_at = -float("inf")


@dataclass(frozen=True)
class SourceOptions:
    url: str
    analysis_fps: float
    open_timeout_s: float
    reconnect_initial_s: float
    reconnect_max_s: float
    stop_at_end: bool


class RateGate:
    """Chooses frames at a steady rate from a faster stream, without drift."""

    def __init__(self, fps: float) -> None:
        self._period_ns = int(1e9 / fps)
        self._next_ns = 0

    def take(self, now_ns: int) -> bool:
        if now_ns < self._next_ns:
            return False
        self._next_ns += self._period_ns
        if self._next_ns <= now_ns:
            # Fell behind (stall or first frame): restart the schedule from now.
            self._next_ns = now_ns + self._period_ns
        return True


class RtspSource:
    """Reads one camera in its own thread and feeds a DropOldestQueue with frames to analyse."""

    def __init__(
        self,
        camera_id: CameraId,
        options: SourceOptions,
        queue: DropOldestQueue[Frame],
        counters: CameraCounters,
        stop: threading.Event,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.camera_id = camera_id
        self._opt = options
        self._queue = queue
        self._counters = counters
        self._stop = stop
        self._clock = clock
        self._gate = RateGate(options.analysis_fps)
        self._stall = StallLimit()
        self._failures = FailureLog()
        self._last_error = ""  # why the last attempt failed, for the once-a-minute line
        self._thread = threading.Thread(target=self._run, name=f"source-{camera_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        delay = self._opt.reconnect_initial_s
        try:
            while not self._stop.is_set():
                connected, received = self._read_once()
                if self._stop.is_set() or (self._opt.stop_at_end and connected):
                    break  # a replay that ended is over, even if it ended before a decodable frame
                if received:
                    delay = self._opt.reconnect_initial_s
                    self._failures.recovered()
                self._counters.reconnects += 1
                if self._failures.failed(time.monotonic()):
                    log.info(
                        "camera %s: reconnecting in %.1fs (attempt %d; %s)",
                        self.camera_id,
                        delay,
                        self._failures.failures,
                        self._last_error or "stream ended",
                        extra={"camera_id": self.camera_id},
                    )
                self._stop.wait(delay)
                delay = min(delay * 2, self._opt.reconnect_max_s)
        finally:
            self._counters.connected = False
            self._queue.close()

    def _read_once(self) -> tuple[bool, bool]:
        """One connection: read until it ends or fails. Returns (connected, any frame decoded)."""
        timeout = self._opt.open_timeout_s
        # No stream probing: the SDP carries the H.264 parameters, and probing held every (re)connection
        # back by ~2 s (measured against camera_sim: open 2.0-2.9 s → 0.07 s), time a camera that moves
        # to another worker or comes back after a drop spends dark.
        options = {
            "rtsp_transport": "tcp",
            "fflags": "nobuffer",
            "flags": "low_delay",
            "analyzeduration": "0",
            "probesize": "32",
        }
        try:
            container = av.open(self._opt.url, options=options, timeout=(timeout, timeout))
        except (av.error.FFmpegError, OSError) as exc:
            self._last_error = f"cannot open: {exc}"
            if self._failures.failures < _LOUD_FAILURES:  # later ones: the reconnect line says enough
                log.warning(
                    "camera %s: cannot open %s: %s",
                    self.camera_id,
                    self._opt.url,
                    exc,
                    extra={"camera_id": self.camera_id},
                )
            return False, False
        received = False
        stalled = False
        self._last_error = ""
        try:
            stream = container.streams.video[0]
            # Frame threading holds frames back (one per thread) before returning them: latency for
            # no gain, since a camera's decode costs ~1 ms a frame and we scale by processes.
            stream.codec_context.thread_count = 1
            # A frame of several slices may reach the decoder in pieces: a server that repeats the
            # parameter sets before every keyframe *slice* (GStreamer's rtph264pay with
            # config-interval=-1 does) begins, by H.264's rules, a new access unit at each, and
            # FFmpeg's parser cuts the frame there; decoded packet by packet, each picture kept only
            # one slice. In chunk mode the H.264 decoder joins a picture's slices across packets
            # and returns it once complete (other decoders ignore the flag).
            stream.codec_context.flags2 |= Flags2.chunks
            self._counters.connected = True
            log.info("camera %s: connected to %s", self.camera_id, self._opt.url)
            received = self._pump(container, stream)
        except (av.error.FFmpegError, OSError, IndexError) as exc:
            self._last_error = f"stream lost: {exc}"
            log.warning(
                "camera %s: stream lost: %s", self.camera_id, exc, extra={"camera_id": self.camera_id}
            )
        except _Stalled:
            stalled = True
            self._last_error = "nothing decoded"
            self._stall.stalled()
        finally:
            self._counters.connected = False
            container.close()
        if stalled:  # not an end: even a replay (stop_at_end) opens the stream again
            return False, received
        log.info("camera %s: stream ended", self.camera_id)
        return True, received

    def _pump(self, container: av.container.InputContainer, stream: av.VideoStream) -> bool:
        stamps: dict[int, FrameStamp] = {}
        received = False
        last_frame = time.monotonic()
        for packet in container.demux(stream):
            if self._stop.is_set():
                break
            if time.monotonic() - last_frame > self._stall.seconds:
                # Packets arrive but nothing decodes: reconnecting is what a person would do.
                log.warning(
                    "camera %s: no frame decoded for %.0fs though packets arrive; reconnecting",
                    self.camera_id,
                    self._stall.seconds,
                    extra={"camera_id": self.camera_id},
                )
                raise _Stalled
            if packet.size == 0:
                continue
            stamp = find_stamp(bytes(packet))
            if stamp is not None and packet.pts is not None:
                stamps[packet.pts] = stamp
                if len(stamps) > _MAX_PENDING_STAMPS:
                    stamps.pop(next(iter(stamps)))
            t0 = time.perf_counter()
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue  # joined mid-GOP: undecodable until the next keyframe
            decode_ms = (time.perf_counter() - t0) * 1e3
            for frame in frames:
                if not received:
                    self._stall.decoded()
                received = True
                last_frame = time.monotonic()
                self._on_frame(
                    frame, stamps.pop(frame.pts, None) if frame.pts is not None else None, decode_ms
                )
        return received

    def _on_frame(self, frame: av.VideoFrame, stamp: FrameStamp | None, decode_ms: float) -> None:
        now = self._clock()
        self._counters.frames_decoded += 1
        self._counters.last_frame_ns = now
        if not self._gate.take(now):
            return
        image = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
        dropped_before = self._queue.dropped
        self._queue.put(
            Frame(
                camera_id=self.camera_id,
                image=image,
                received_ns=now,
                decode_ms=decode_ms,
                seq=stamp.seq if stamp else None,
                sent_ns=stamp.sent_ns if stamp else None,
                enqueued_ns=time.perf_counter_ns(),
            )
        )
        self._counters.frames_dropped += self._queue.dropped - dropped_before
