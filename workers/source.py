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

from pipeline.frame_stamp import FrameStamp, find_stamp
from pipeline.types import CameraId, Frame
from workers.frame_queue import DropOldestQueue
from workers.stats import CameraCounters

log = logging.getLogger(__name__)

_MAX_PENDING_STAMPS = 64
# A connection whose packets decode to nothing for this long is dropped and opened again (a camera keeps
# a keyframe at least every few seconds, so a healthy stream always decodes well within it).
UNDECODABLE_RECONNECT_S = 10.0


class _Stalled(Exception):
    """Packets arrive but none has decoded for UNDECODABLE_RECONNECT_S."""


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
                self._counters.reconnects += 1
                log.info("camera %s: reconnecting in %.1fs", self.camera_id, delay)
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
            log.warning("camera %s: cannot open %s: %s", self.camera_id, self._opt.url, exc)
            return False, False
        received = False
        stalled = False
        try:
            stream = container.streams.video[0]
            # Frame threading holds frames back (one per thread) before returning them: latency for
            # no gain, since a camera's decode costs ~1 ms a frame and we scale by processes.
            stream.codec_context.thread_count = 1
            self._counters.connected = True
            log.info("camera %s: connected to %s", self.camera_id, self._opt.url)
            received = self._pump(container, stream)
        except (av.error.FFmpegError, OSError, IndexError) as exc:
            log.warning("camera %s: stream lost: %s", self.camera_id, exc)
        except _Stalled:
            stalled = True
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
            if time.monotonic() - last_frame > UNDECODABLE_RECONNECT_S:
                # Packets arrive but nothing decodes (seen once in ~20 benchmark connections: a session
                # that opened without usable parameter sets). Reconnecting is what a person would do.
                log.warning(
                    "camera %s: no frame decoded for %.0fs though packets arrive; reconnecting",
                    self.camera_id,
                    UNDECODABLE_RECONNECT_S,
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
