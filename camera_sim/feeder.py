"""One camera's clock: replays a clip in real time into the appsrc of the mount's shared RTSP media.

A camera may also serve a sub-stream (the same frames, encoded smaller, and perhaps at a fraction of the
main stream's rate): its frames go out with the main stream's of the same instants, on the same clock and
with the same frame stamps, as a real camera encodes both from one sensor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from camera_sim.clip import AccessUnit, Clip
from camera_sim.faults import FaultBoard, FaultSpec, corrupted
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
    frames_withheld: int = 0  # due during a stall or drop fault, not sent
    connections_dropped: int = 0  # clients disconnected by a drop fault
    connections_refused: int = 0  # requests answered 503 during a drop fault


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

    ``on_first_viewer=True`` holds the clock until a client's PLAY of one of the camera's mounts is
    answered, so a short clip is seen from its first frame by whoever connects first. ``faults`` (a
    FaultBoard) says which faults are in effect on each frame; ``alternates`` are the main stream at
    other heights, for resolution faults.

    ``loops`` is how many times the clip plays (``None``: forever); afterwards the media gets EOS.
    ``stamps=False`` sends the frames as a real camera does, without the simulator's frame stamps.
    ``substream``: a clip of the same frames to serve beside the main one (its mount role ``SUB``), every
    ``substream_step``-th of them (its frame j goes out with the main stream's frame j * step).
    """

    def __init__(
        self,
        camera_id: str,
        clip: Clip,
        loops: int | None,
        on_frame_sent: FrameSentCallback | None = None,
        stamps: bool = True,
        substream: Clip | None = None,
        *,
        substream_step: int = 1,
        on_first_viewer: bool = False,
        faults: Sequence[FaultSpec] = (),
        alternates: dict[int, Clip] | None = None,
    ) -> None:
        if loops is not None and loops < 1:
            raise ValueError("loops must be at least 1 (or None for forever)")
        if substream_step < 1:
            raise ValueError("substream_step must be at least 1")
        expected = -(-len(clip.units) // substream_step)  # every step-th frame of the main stream's
        if substream is not None and len(substream.units) != expected:
            raise ValueError(
                f"camera {camera_id}: the sub-stream has {len(substream.units)} frames, the main stream "
                f"{len(clip.units)}; both must be the same frames (every {substream_step}th in the "
                "sub-stream)"
            )
        self.substream_step = substream_step
        self.camera_id = camera_id
        self.clip = clip
        self.clips = {MAIN: clip} | ({SUB: substream} if substream is not None else {})
        self.loops = loops
        self.stats = FeederStats()
        self.finished = threading.Event()
        self._on_frame_sent = on_frame_sent
        self.stamps = stamps
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sinks: dict[str, _Sink] = {}  # by mount role
        self._ended = False
        self.on_first_viewer = on_first_viewer
        self.faults = FaultBoard(camera_id)
        self._scheduled = tuple(faults)  # the scenario's, from when the clock starts
        self.alternates: dict[int, Clip] = dict(alternates or {})  # main stream by height (resolution)
        self.started_at: float | None = None  # monotonic seconds the clock started
        self._started = threading.Event()
        self._viewer = threading.Event()
        self._serving: dict[str, Clip] = {}  # by role, when not its own clip (resolution fault)
        self._resync: set[str] = set()  # roles that resume at a keyframe after withheld frames
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
        if self.on_first_viewer and not self._wait_for_viewer():
            return
        self.started_at = time.monotonic()
        for spec in self._scheduled:
            self.faults.add(spec, self.started_at)
        self._started.set()
        start = time.monotonic_ns()
        due = 0  # the clip's timeline: each frame lasts its duration, twice that while half_fps
        seq = 0
        loop = 0
        while self.loops is None or loop < self.loops:
            self.stats.loops_started += 1
            for index, unit in enumerate(self.clip.units):
                lag = time.monotonic_ns() - (start + due)
                if lag > _MAX_LAG_NS:
                    start += lag
                    self.stats.clock_resets += 1
                elif lag < 0 and self._stop.wait(-lag / 1e9):
                    return
                stretch = 2 if self.faults.active("half_fps", time.monotonic()) else 1
                self._send(index, seq, loop, due, stretch)
                due += unit.duration_ns * stretch
                seq += 1
            loop += 1
        # The last frame lasts its duration before the stream ends, as a finite recording would.
        remaining = start + due - time.monotonic_ns()
        if remaining > 0 and self._stop.wait(remaining / 1e9):
            return
        self._end()

    def viewer_playing(self) -> None:
        """A client's PLAY was answered (the server calls this): an on_first_viewer clock may start."""
        self._viewer.set()

    def _wait_for_viewer(self) -> bool:
        """Hold the clock until a client plays a mount of this camera; False if stopped first.

        A mount's media is prepared at DESCRIBE, and cannot describe itself (its SDP) until its payloader
        has seen a frame: each prepared mount gets the clip's first keyframe, unstamped, meanwhile.
        """
        primed: set[str] = set()
        while not self._viewer.wait(0.05):
            if self._stop.is_set():
                return False
            with self._lock:
                waiting = [role for role in self._sinks if role not in primed]
            for role in waiting:
                first = next(u for u in self.clips[role].units if u.keyframe)
                self._push(role, first.data, first, 0, True, 1)
                primed.add(role)
        with self._lock:
            for sink in self._sinks.values():
                sink.offset_ns = None  # the clip's timeline starts now, not at the primed frame
        return True

    def wait_started(self, timeout: float | None = None) -> bool:
        """Block until the camera's clock starts (at once, or at its first viewer)."""
        return self._started.wait(timeout)

    def _send(self, index: int, seq: int, loop: int, due_ns: int, stretch: int = 1) -> None:
        now = time.monotonic()
        faults = self.faults
        skew = faults.active("skew", now)
        sent_ns = time.time_ns() + (round((skew.spec.skew_s or 0) * 1e9) if skew else 0)
        withheld = faults.active("stall", now) or faults.active("drop", now)
        corrupt = faults.active("corrupt", now)
        resized = faults.active("resolution", now)
        for role, clip in self.clips.items():
            if role != MAIN and index % self.substream_step:
                continue  # a low-rate sub-stream has no frame of this instant
            i = index if role == MAIN else index // self.substream_step
            unit = clip.units[i]
            source = self._source_clip(role, i, resized.spec.height if resized else None)
            if withheld:
                self._resync.add(role)  # frames after the gap would refer to frames never sent
                continue
            data = source.units[i % len(source.units)].data
            keyframe = source.units[i % len(source.units)].keyframe
            if role in self._resync and not keyframe:
                continue
            self._resync.discard(role)
            if corrupt:
                data = corrupted(data, source.syntax, corrupt.spec.corrupt_fraction, faults.rng)
            if self.stamps:
                data = insert_stamp(data, FrameStamp(seq, sent_ns), source.syntax)
            if not self._push(role, data, unit, due_ns, keyframe, stretch) and role == MAIN:
                self.stats.frames_unwatched += 1
        if withheld:
            self.stats.frames_withheld += 1
            return
        self.stats.frames_sent += 1
        if self._on_frame_sent is not None:
            try:
                self._on_frame_sent(self.camera_id, seq, loop, sent_ns)
            except Exception:
                self.stats.callback_errors += 1
                if self.stats.callback_errors == 1:
                    log.exception("camera %s: on_frame_sent failed (further errors counted)", self.camera_id)

    def _source_clip(self, role: str, index: int, height: int | None) -> Clip:
        """The clip whose frame ``index`` the mount sends: switched to or from another resolution only
        at a keyframe of the clip switched to, so a client never gets a frame that refers to the other."""
        current = self._serving.get(role, self.clips[role])
        wanted = (
            self.alternates.get(height, self.clips[role]) if role == MAIN and height else self.clips[role]
        )
        if wanted is not current and wanted.units[index % len(wanted.units)].keyframe:
            current = self._serving[role] = wanted
        return current

    def _push(
        self, role: str, data: bytes, unit: AccessUnit, due_ns: int, keyframe: bool, stretch: int
    ) -> bool:
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
        if not sink.started and not keyframe:
            data = self.clips[role].with_parameter_sets(data)
        sink.started = True
        buffer = Gst.Buffer.new_wrapped(data)
        buffer.dts = max(0, due_ns + sink.offset_ns)
        buffer.pts = max(0, due_ns + (unit.pts_ns - unit.dts_ns) * stretch + sink.offset_ns)
        buffer.duration = unit.duration_ns * stretch
        if not keyframe:
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
