"""Whether a connection that decodes nothing is waiting for a keyframe or broken.

A client that joins a camera between keyframes receives frames that refer to pictures it never got:
nothing decodes until the camera's next keyframe. A long-GOP ("smart codec") camera sends one every 10 to
20 s, so a connection may rightly decode nothing for that long; reconnecting would only join another GOP
midway, and churn for ever. That is waiting, bounded by ``keyframe_wait_s`` (a camera that sends no
keyframe at all is broken too).

A connection that received a keyframe and still decodes nothing is broken (seen once in ~20 benchmark
connections: a session opened without usable parameter sets), and is opened again. Its limit is short
so a camera restored into such a session is back within seconds, and doubles with each broken session
in a row, since a real keyframe can take a moment to decode after a slow start.
"""

from __future__ import annotations

# A session whose keyframe decodes to nothing within this long is broken; doubled on each in a row.
UNDECODABLE_FIRST_S = 3.0
UNDECODABLE_MAX_S = 12.0


class StallLimit:
    """How long after a keyframe a connection may go without a decoded frame: short first, doubling."""

    def __init__(self, first_s: float = UNDECODABLE_FIRST_S, max_s: float = UNDECODABLE_MAX_S) -> None:
        self._first_s = first_s
        self._max_s = max_s
        self.seconds = first_s

    def stalled(self) -> None:
        self.seconds = min(self.seconds * 2, self._max_s)

    def decoded(self) -> None:
        self.seconds = self._first_s


class SessionWatch:
    """One connection's progress. Call ``packet`` and ``frame`` as they come; ``problem`` says whether to
    give the connection up, and why. Times are monotonic seconds."""

    def __init__(self, keyframe_wait_s: float, stall: StallLimit, now: float) -> None:
        self._keyframe_wait_s = keyframe_wait_s
        self._stall = stall
        self._quiet_since = now  # connected, or the last decoded frame
        self._keyframe_at: float | None = None  # the first keyframe since then
        self.decoding = False

    def packet(self, keyframe: bool, now: float) -> None:
        if keyframe and self._keyframe_at is None:
            self._keyframe_at = now

    def frame(self, now: float) -> None:
        if not self.decoding:
            self._stall.decoded()
        self.decoding = True
        self._quiet_since = now
        self._keyframe_at = None

    def waiting_for_keyframe(self, now: float) -> float:
        """Seconds this connection has been waiting for its first keyframe (0 once it has one)."""
        if self.decoding or self._keyframe_at is not None:
            return 0.0
        return now - self._quiet_since

    def broken(self, now: float) -> bool:
        """A keyframe arrived longer ago than the undecodable limit and nothing has decoded since."""
        return self._keyframe_at is not None and now - self._keyframe_at > self._stall.seconds

    def keyframe_overdue(self, now: float) -> bool:
        """Nothing decoded and no keyframe for longer than a camera may take to send one."""
        return self._keyframe_at is None and now - self._quiet_since > self._keyframe_wait_s
