"""One RTSP stream read over TCP in its own thread: open, read until it ends or fails, reconnect with backoff.

``RtspReader`` owns the connection and its failures; what is done with the packets (decoded for analysis,
kept for evidence) is a subclass's ``_pump``. A connection is given up by raising ``GiveUp`` from it.
"""

from __future__ import annotations

import logging
import threading
import time

import av
import av.container
import av.error

from workers.session_watch import StallLimit

log = logging.getLogger(__name__)

# Failed attempts in a row logged one by one; after them, about one line a minute (with the count), so a
# camera down for hours at one attempt every reconnect_max_s does not write thousands of lines an hour.
_LOUD_FAILURES = 3
_QUIET_LOG_S = 60.0


class GiveUp(Exception):
    """The connection delivers packets but is of no use (see session_watch); open it again."""


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


def open_options() -> dict[str, str]:
    """FFmpeg options of every camera connection.

    No stream probing: the SDP carries the codec parameters, and probing held every (re)connection back by
    ~2 s (measured against camera_sim: open 2.0-2.9 s → 0.07 s), time a camera that moves to another
    worker or comes back after a drop spends dark.
    """
    return {
        "rtsp_transport": "tcp",
        "fflags": "nobuffer",
        "flags": "low_delay",
        "analyzeduration": "0",
        "probesize": "32",
    }


class RtspReader:
    """Reads one stream in a thread named ``name`` until ``stop`` is set (or, with ``stop_at_end``, the
    stream ends); between connections it waits ``reconnect_initial_s``, doubling to ``reconnect_max_s``."""

    def __init__(
        self,
        camera_id: str,
        url: str,
        stop: threading.Event,
        *,
        name: str,
        open_timeout_s: float,
        reconnect_initial_s: float,
        reconnect_max_s: float,
        stop_at_end: bool = False,
    ) -> None:
        self.camera_id = camera_id
        self.url = url
        self._stop = stop
        self._open_timeout_s = open_timeout_s
        self._reconnect = (reconnect_initial_s, reconnect_max_s)
        self._stop_at_end = stop_at_end
        self.stall = StallLimit()
        self._failures = FailureLog()
        self._last_error = ""  # why the last attempt failed, for the once-a-minute line
        self._thread = threading.Thread(target=self._run, name=f"{name}-{camera_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def thread_id(self) -> int | None:
        return self._thread.ident

    # -- for subclasses ------------------------------------------------------------------------------

    def _pump(self, container: av.container.InputContainer, stream: av.VideoStream) -> bool:
        """Read one connection's packets; True if it gave anything (a frame). Raise GiveUp to drop it."""
        raise NotImplementedError

    def _connected(self, connected: bool) -> None:
        """The connection opened (True) or closed (False)."""

    def _reconnecting(self) -> None:
        """A connection ended or failed and another will be tried."""

    def _finished(self) -> None:
        """The reader stops for good."""

    # -- the loop ------------------------------------------------------------------------------------

    def _run(self) -> None:
        initial, longest = self._reconnect
        delay = initial
        try:
            while not self._stop.is_set():
                connected, received = self._read_once()
                if self._stop.is_set() or (self._stop_at_end and connected):
                    break  # a replay that ended is over, even if it ended before a decodable frame
                if received:
                    delay = initial
                    self._failures.recovered()
                self._reconnecting()
                if self._failures.failed(time.monotonic()):
                    log.info(
                        "camera %s: reconnecting to %s in %.1fs (attempt %d; %s)",
                        self.camera_id,
                        _public(self.url),
                        delay,
                        self._failures.failures,
                        self._last_error or "stream ended",
                        extra={"camera_id": self.camera_id},
                    )
                self._stop.wait(delay)
                delay = min(delay * 2, longest)
        finally:
            self._connected(False)
            self._finished()

    def _read_once(self) -> tuple[bool, bool]:
        """One connection: read until it ends or fails. Returns (connected, anything received)."""
        timeout = self._open_timeout_s
        try:
            container = av.open(self.url, options=open_options(), timeout=(timeout, timeout))
        except (av.error.FFmpegError, OSError) as exc:
            self._last_error = f"cannot open: {exc}"
            if self._failures.failures < _LOUD_FAILURES:  # later ones: the reconnect line says enough
                log.warning(
                    "camera %s: cannot open %s: %s",
                    self.camera_id,
                    _public(self.url),
                    exc,
                    extra={"camera_id": self.camera_id},
                )
            return False, False
        received = False
        gave_up = False
        self._last_error = ""
        try:
            stream = container.streams.video[0]
            self._connected(True)
            log.info("camera %s: connected to %s", self.camera_id, _public(self.url))
            received = self._pump(container, stream)
        except (av.error.FFmpegError, OSError, IndexError) as exc:
            self._last_error = f"stream lost: {exc}"
            log.warning(
                "camera %s: stream lost: %s", self.camera_id, exc, extra={"camera_id": self.camera_id}
            )
        except GiveUp as exc:
            gave_up = True
            self._last_error = str(exc)
            log.warning(
                "camera %s: %s; reconnecting", self.camera_id, exc, extra={"camera_id": self.camera_id}
            )
        finally:
            self._connected(False)
            container.close()
        if gave_up:  # not an end: even a replay (stop_at_end) opens the stream again
            return False, received
        log.info("camera %s: stream ended", self.camera_id)
        return True, received


def _public(url: str) -> str:
    """The URL without its credentials, for logs."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if sep else url
