"""One camera's clock: replays a clip in real time into the appsrc of the mount's shared RTSP media.

A camera may also serve a sub-stream (the same frames, encoded smaller): its frames go out with the main
stream's, on the same clock and with the same frame stamps, as a real camera encodes both from one sensor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from camera_sim.clip import AccessUnit, Clip
from camera_sim.gst import Gst
from pipeline.frame_stamp import FrameStamp, insert_stamp

log = logging.getLogger(__name__)

FrameSentCallback = Callable[[str, int, int, int], None]
"""Called as ``on_frame_sent(camera_id, seq, loop, sent_ns)`` from the feeder thread; must not block."""

MAIN = ""  # mount roles: rtsp://HOST:PORT/<camera id> and .../<camera id>/sub
SUB = "sub"
# A feeder that falls this far behind (a stopped process, a loaded machine) restarts its clock rather
# than bursting the missed frames at clients, as a real camera would.
_MAX_LAG_NS = 1_000_000_000


@dataclass(slots=True)
class FeederStats:
    frames_sent: int = 0
    frames_unwatched: int = 0
    loops_started: int = 0
    clock_resets: int = 0
    callback_errors: int = 0


class _Sink:
    """An appsrc of one prepared media, with the offset from our clip timeline to its running time."""

    def __init__(self, appsrc: Gst.Element) -> None:
        self.appsrc = appsrc
        self.offset_ns: int | None = None
        self.started = False

    def running_time(self) -> int | None:
        clock = self.appsrc.get_clock()
        if clock is None:
            return None
        return int(clock.get_time() - self.appsrc.get_base_time())


class Feeder:
    """Pushes access units on schedule whether or not anyone watches, stamping each one as it leaves.

    ``loops`` is how many times the clip plays (``None``: forever); afterwards the media gets EOS.
    ``stamps=False`` sends the frames as a real camera does, without the simulator's frame stamps.
    ``substream``: a clip of the same frames to serve beside the main one (its mount role ``SUB``).
    """

    def __init__(
        self,
        camera_id: str,
        clip: Clip,
        loops: int | None,
        on_frame_sent: FrameSentCallback | None = None,
        stamps: bool = True,
        substream: Clip | None = None,
    ) -> None:
        if loops is not None and loops < 1:
            raise ValueError("loops must be at least 1 (or None for forever)")
        if substream is not None and len(substream.units) != len(clip.units):
            raise ValueError(
                f"camera {camera_id}: the sub-stream has {len(substream.units)} frames, the main stream "
                f"{len(clip.units)}; both must be the same frames"
            )
        self.camera_id = camera_id
        self.clip = clip
        self.clips = {MAIN: clip} | ({SUB: substream} if substream is not None else {})
        self.loops = loops
        self.stats = FeederStats()
        self.finished = threading.Event()
        self._on_frame_sent = on_frame_sent
        self._stamps = stamps
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sinks: dict[str, _Sink] = {}  # by mount role
        self._ended = False
        self._thread = threading.Thread(target=self._run, name=f"feeder-{camera_id}", daemon=True)

    def attach(self, appsrc: Gst.Element, role: str = MAIN) -> None:
        """Called by the server (GLib thread) when a new shared media for a mount is prepared."""
        appsrc.set_property("caps", Gst.Caps.from_string(self.clips[role].caps))
        with self._lock:
            self._sinks[role] = _Sink(appsrc)
            if self._ended:
                appsrc.emit("end-of-stream")

    def detach(self, appsrc: Gst.Element) -> None:
        with self._lock:
            for role, sink in list(self._sinks.items()):
                if sink.appsrc is appsrc:
                    del self._sinks[role]

    def start(self) -> None:
        self._thread.start()

    @property
    def playing(self) -> bool:
        """Started and not yet ended: the mount has a stream to give a client that connects."""
        return self._thread.is_alive() and not self.finished.is_set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            self._play()
        except Exception:
            log.exception("camera %s: feeder failed", self.camera_id)
        finally:
            self.finished.set()

    def _play(self) -> None:
        span = self.clip.span_ns
        start = time.monotonic_ns()
        seq = 0
        loop = 0
        while self.loops is None or loop < self.loops:
            self.stats.loops_started += 1
            for index, unit in enumerate(self.clip.units):
                due = loop * span + unit.dts_ns
                lag = time.monotonic_ns() - (start + due)
                if lag > _MAX_LAG_NS:
                    start += lag
                    self.stats.clock_resets += 1
                elif lag < 0 and self._stop.wait(-lag / 1e9):
                    return
                self._send(index, seq, loop, due)
                seq += 1
            loop += 1
        # The last frame lasts its duration before the stream ends, as a finite recording would.
        remaining = start + loop * span - time.monotonic_ns()
        if remaining > 0 and self._stop.wait(remaining / 1e9):
            return
        self._end()

    def _send(self, index: int, seq: int, loop: int, due_ns: int) -> None:
        sent_ns = time.time_ns()
        for role, clip in self.clips.items():
            unit = clip.units[index]
            data = (
                insert_stamp(unit.data, FrameStamp(seq, sent_ns), clip.syntax) if self._stamps else unit.data
            )
            if not self._push(role, data, unit, due_ns) and role == MAIN:
                self.stats.frames_unwatched += 1
        self.stats.frames_sent += 1
        if self._on_frame_sent is not None:
            try:
                self._on_frame_sent(self.camera_id, seq, loop, sent_ns)
            except Exception:
                self.stats.callback_errors += 1
                if self.stats.callback_errors == 1:
                    log.exception("camera %s: on_frame_sent failed (further errors counted)", self.camera_id)

    def _push(self, role: str, data: bytes, unit: AccessUnit, due_ns: int) -> bool:
        with self._lock:
            sink = self._sinks.get(role)
        if sink is None:
            return False
        running = sink.running_time()
        if running is None:
            # The media is still being prepared; it takes buffers but has no clock to stamp them by.
            running = 0
        if sink.offset_ns is None:
            sink.offset_ns = running - due_ns
        if not sink.started and not unit.keyframe:
            data = self.clips[role].with_parameter_sets(data)
        sink.started = True
        buffer = Gst.Buffer.new_wrapped(data)
        buffer.dts = max(0, due_ns + sink.offset_ns)
        buffer.pts = max(0, due_ns + (unit.pts_ns - unit.dts_ns) + sink.offset_ns)
        buffer.duration = unit.duration_ns
        if not unit.keyframe:
            buffer.set_flags(Gst.BufferFlags.DELTA_UNIT)
        flow = sink.appsrc.emit("push-buffer", buffer)
        if flow != Gst.FlowReturn.OK:
            self.detach(sink.appsrc)
            return False
        return True

    def _end(self) -> None:
        with self._lock:
            self._ended = True
            for sink in self._sinks.values():
                sink.appsrc.emit("end-of-stream")
