"""A camera's main stream kept for evidence: read and demuxed, never decoded until a hit asks for a frame.

When a camera is analysed on its sub-stream, decoding its 4K main stream continuously would cost what the
sub-stream saves (~21 ms a frame for 4K HEVC). Demuxing it costs little, so ``MainStreamReader`` keeps the
last ``buffer_s`` seconds of coded frames, whole GOPs from a keyframe on (``PacketRing``); a hit's
evidence frame is decoded from the keyframe before it (``workers.evidence_upgrade``).

Each coded frame keeps two times: when it arrived, and when the camera made it, from the simulator's
stamps or the camera's RTCP sender reports (``CaptureClock``), the same clocks as the analysed stream's,
so a frame of one stream is found in the other by time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av

from pipeline.camera_credentials import StreamAddress
from pipeline.frame_stamp import find_stamp
from workers.capture_clock import CaptureClock
from workers.rtsp_reader import GiveUp, RtspReader
from workers.session_watch import SessionWatch


@dataclass(slots=True)
class CodedFrame:
    data: bytes
    pts: int | None
    arrived_ns: int
    captured_ns: int | None  # by the camera's clock (stamp or RTCP), if known


@dataclass(frozen=True, slots=True)
class Decoder:
    """What a decoder of the stream needs besides the packets."""

    codec: str
    extradata: bytes | None


@dataclass(slots=True)
class _Gop:
    frames: list[CodedFrame] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Found:
    """The coded frames from a keyframe up to the one asked for (the last), and how to decode them."""

    frames: list[CodedFrame]
    decoder: Decoder
    distance_ns: int  # between the time asked for and the last frame's
    early: bool  # the last frame is the newest kept and earlier than asked: the right one may be coming


class PacketRing:
    """The last few seconds of one connection's coded frames, as whole GOPs. Thread-safe."""

    def __init__(self, buffer_s: float) -> None:
        self._buffer_ns = int(buffer_s * 1e9)
        self._gops: deque[_Gop] = deque()
        self._decoder: Decoder | None = None
        self._lock = threading.Lock()

    def reset(self, decoder: Decoder | None) -> None:
        """A new connection (its pts start anew) or none: forget what the last one held."""
        with self._lock:
            self._gops.clear()
            self._decoder = decoder

    def add(self, frame: CodedFrame, keyframe: bool) -> None:
        with self._lock:
            if keyframe:
                self._gops.append(_Gop())
            elif not self._gops:
                return  # joined between keyframes: nothing can decode it
            frames = self._gops[-1].frames
            if frames and frame.pts is not None and frames[-1].pts == frame.pts:
                # One picture the parser cut in two (parameter sets between its slices): join it again.
                frames[-1].data += frame.data
                return
            frames.append(frame)
            # Whole GOPs go when the next one starts before the buffer's span.
            oldest = frame.arrived_ns - self._buffer_ns
            while len(self._gops) > 1 and self._gops[1].frames[0].arrived_ns < oldest:
                self._gops.popleft()

    def find(self, captured_ns: int | None, arrived_ns: int) -> Found | None:
        """The frame nearest a time and its GOP up to it: by the camera's clock when the time asked for
        and the frames have it (both streams stamped, or both with sender reports), else by arrival."""
        with self._lock:
            if self._decoder is None:
                return None
            found = None
            if captured_ns is not None:
                found = self._nearest(captured_ns, lambda f: f.captured_ns)
            if found is None:
                found = self._nearest(arrived_ns, lambda f: f.arrived_ns)
            return found

    def _nearest(self, at_ns: int, time_of: Callable[[CodedFrame], int | None]) -> Found | None:
        assert self._decoder is not None
        best: tuple[int, int, int, int] | None = None  # (distance, gop, index, time)
        for g, gop in enumerate(self._gops):
            for i, frame in enumerate(gop.frames):
                t = time_of(frame)
                if t is not None and (best is None or abs(t - at_ns) < best[0]):
                    best = (abs(t - at_ns), g, i, t)
        if best is None:
            return None
        distance, g, i, t = best
        frames = self._gops[g].frames
        newest = g == len(self._gops) - 1 and i == len(frames) - 1
        return Found(list(frames[: i + 1]), self._decoder, distance, early=newest and t < at_ns)


class MainStreamReader(RtspReader):
    """Reads a camera's main stream into a PacketRing, in a thread of its own, reconnecting as needed."""

    def __init__(
        self,
        camera_id: str,
        address: StreamAddress,
        ring: PacketRing,
        stop: threading.Event,
        *,
        open_timeout_s: float,
        reconnect_initial_s: float,
        reconnect_max_s: float,
        keyframe_wait_s: float,
        auth_retry_initial_s: float = 300.0,
        auth_retry_max_s: float = 3600.0,
    ) -> None:
        super().__init__(
            camera_id,
            address,
            stop,
            name="evidence",
            open_timeout_s=open_timeout_s,
            reconnect_initial_s=reconnect_initial_s,
            reconnect_max_s=reconnect_max_s,
            auth_retry_initial_s=auth_retry_initial_s,
            auth_retry_max_s=auth_retry_max_s,
        )
        self.ring = ring
        self._keyframe_wait_s = keyframe_wait_s

    def _connected(self, connected: bool) -> None:
        if not connected:
            self.ring.reset(None)

    def _pump(self, container: av.container.InputContainer, stream: av.VideoStream) -> bool:
        extradata = stream.codec_context.extradata
        self.ring.reset(Decoder(stream.codec_context.name, bytes(extradata) if extradata else None))
        capture = CaptureClock(self.camera_id, stream.time_base)
        # Nothing is decoded here: a keyframe counts as progress, and only its absence is waited on.
        watch = SessionWatch(self._keyframe_wait_s, self.stall, time.monotonic())
        for packet in container.demux(stream):
            if self._stop.is_set():
                break
            if packet.size == 0:
                continue
            now = time.monotonic()
            if packet.is_keyframe:
                watch.frame(now)
            elif watch.keyframe_overdue(now):
                raise GiveUp(f"main stream: no keyframe in {self._keyframe_wait_s:.0f}s")
            capture.observe(packet)
            data = bytes(packet)
            arrived = time.time_ns()
            stamp = find_stamp(data)
            captured = stamp.sent_ns if stamp is not None else capture.capture_ns(packet.pts, arrived)
            self.ring.add(CodedFrame(data, packet.pts, arrived, captured), packet.is_keyframe)
        return watch.decoding
