"""When a camera captured each frame, by its own clock, from the RTCP sender reports it sends.

An RTSP camera sends RTCP sender reports (SR) beside its RTP stream: each pairs an NTP wall-clock time
with an RTP timestamp, so every frame's capture time follows from its RTP timestamp. FFmpeg keeps the
latest report and attaches to each demuxed packet its wall-clock time as PRFT side data (producer
reference time, microseconds since 1970), over RTP/UDP and over RTSP/TCP interleaved alike (checked
against GStreamer's RTSP server, which sends a report every few seconds, the first within about 1.5 s).

The PRFT of a demuxed frame is not always its own: FFmpeg's parser closes an access unit when the next
one's first packet arrives and hands that packet's side data over, so the first report's time came one
frame late (33 ms at 30 fps). The clock therefore keeps the offset between the camera's wall clock and
the stream's pts from the last few packets and uses their median, which also follows a new report.

A camera whose clock is not synchronised with ours (no NTP server set, a wrong time zone) reports times
seconds or hours away: those are refused (``None``) rather than counted as latency, and said once.
"""

from __future__ import annotations

import logging
import statistics
import struct
from collections import deque
from fractions import Fraction
from typing import Any

import av

log = logging.getLogger(__name__)

_WINDOW = 9
# A frame is analysed well within a few seconds of its capture; further off is the camera's clock.
_MAX_AHEAD_NS = 500_000_000  # a capture time this far after our reception is a clock ahead of ours
_MAX_BEHIND_NS = 30_000_000_000


class CaptureClock:
    """Maps a stream's pts to the camera's wall clock once its sender reports arrive (None before)."""

    def __init__(self, camera_id: str, time_base: Fraction | None, window: int = _WINDOW) -> None:
        self.camera_id = camera_id
        self._tb_ns = (time_base or Fraction(1, 90_000)) * 1_000_000_000
        self._offsets: deque[int] = deque(maxlen=window)
        self._refused = False

    def observe(self, packet: av.Packet[Any]) -> None:
        """Take the packet's producer reference time, if FFmpeg attached one."""
        if packet.pts is None or not packet.has_sidedata("prft"):
            return
        (wallclock_us,) = struct.unpack_from("<q", bytes(packet.get_sidedata("prft")))
        self.offer(packet.pts, wallclock_us)

    def offer(self, pts: int, wallclock_us: int) -> None:
        """The camera's wall clock (Unix microseconds) at the frame of ``pts``."""
        self._offsets.append(wallclock_us * 1000 - self._pts_ns(pts))

    @property
    def synchronised(self) -> bool:
        """A sender report has arrived on this connection."""
        return bool(self._offsets)

    def capture_ns(self, pts: int | None, received_ns: int) -> int | None:
        """When the frame of ``pts`` was captured (Unix ns), if the camera said and its clock is ours."""
        if pts is None or not self._offsets:
            return None
        return self.checked(self._pts_ns(pts) + int(statistics.median(self._offsets)), received_ns)

    def checked(self, captured: int, received_ns: int) -> int | None:
        """``captured`` (a capture or send time by the camera's clock, from a sender report or a frame
        stamp) if that clock keeps ours, else None, said once a connection."""
        skew = received_ns - captured
        if -_MAX_AHEAD_NS <= skew <= _MAX_BEHIND_NS:
            return captured
        if not self._refused:
            self._refused = True
            log.warning(
                "camera %s: its clock is %.1f s %s this worker's (its RTCP sender reports or frame stamps); "
                "glass-to-analysed latency is not measured for it until it keeps time (set its NTP server)",
                self.camera_id,
                abs(skew) / 1e9,
                "behind" if skew > 0 else "ahead of",
                extra={"camera_id": self.camera_id},
            )
        return None

    def _pts_ns(self, pts: int) -> int:
        return int(pts * self._tb_ns)
