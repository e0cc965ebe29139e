"""One RTSP stream read over TCP in its own thread: open, read until it ends or fails, reconnect with backoff.

``RtspReader`` owns the connection and its failures; what is done with the packets (decoded for analysis,
kept for evidence) is a subclass's ``_pump``. A connection is given up by raising ``GiveUp`` from it.

A refused login (RTSP 401 or 403) is not a network failure: trying again every few seconds would make the
camera's firmware lock the account (and any recorder sharing it). It is retried after
``auth_retry_initial_s``, doubling to ``auth_retry_max_s``, or at once when the password the camera's
``password_ref`` names has changed since the refusal. No text of a connection's failure carries the
credentials: FFmpeg's errors repeat the URL they opened, so only their reason is kept, and redacted.
"""

from __future__ import annotations

import logging
import threading
import time

import av
import av.container
import av.error

from pipeline.camera_credentials import CredentialsUnavailable, StreamAddress, redact
from workers.session_watch import StallLimit

log = logging.getLogger(__name__)

# Failed attempts in a row logged one by one; after them, about one line a minute (with the count), so a
# camera down for hours at one attempt every reconnect_max_s does not write thousands of lines an hour.
_LOUD_FAILURES = 3
_QUIET_LOG_S = 60.0


# While waiting out a refused login: how often the password reference is read again for a new secret.
_SECRET_RECHECK_S = 2.0
_AUTH_ERRORS = (av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError)


class GiveUp(Exception):
    """The connection delivers packets but is of no use (see session_watch); open it again."""


class LoginRefused(Exception):
    """The camera refused the credentials (or they could not be read): wait long before trying again."""


def failure_text(exc: BaseException) -> str:
    """Why an open or read failed, without the URL FFmpeg repeats in its errors (and so the password)."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return redact(str(exc.strerror))
    return redact(str(exc))


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
        address: StreamAddress,
        stop: threading.Event,
        *,
        name: str,
        open_timeout_s: float,
        reconnect_initial_s: float,
        reconnect_max_s: float,
        auth_retry_initial_s: float = 300.0,
        auth_retry_max_s: float = 3600.0,
        stop_at_end: bool = False,
    ) -> None:
        self.camera_id = camera_id
        self.address = address
        self.url = address.url  # no credentials: safe to show
        self._stop = stop
        self._open_timeout_s = open_timeout_s
        self._reconnect = (reconnect_initial_s, reconnect_max_s)
        self._auth_retry = (auth_retry_initial_s, auth_retry_max_s)
        self.logins_refused = 0  # in a row
        self._tried: str | None = None  # the password of the last login attempt
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

    def _login_refused(self, reason: str, retry_in_s: float) -> None:
        """The camera refused the login (or the password could not be read); next try in ``retry_in_s``."""

    def _login_accepted(self) -> None:
        """A connection opened after refused logins."""

    # -- the loop ------------------------------------------------------------------------------------

    def _run(self) -> None:
        initial, longest = self._reconnect
        delay = initial
        try:
            while not self._stop.is_set():
                try:
                    connected, received = self._read_once()
                except LoginRefused as exc:
                    self._wait_out_refusal(str(exc))
                    continue
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
                        self.url,
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

    def _wait_out_refusal(self, reason: str) -> None:
        """Back off for minutes after a refused login (growing with each one in a row); come back early
        if the password's reference now gives another password."""
        initial, longest = self._auth_retry
        self.logins_refused += 1
        delay = min(initial * 2 ** (self.logins_refused - 1), longest)
        log.error(
            "camera %s: login to %s refused (%s; %d in a row); next attempt in %.0fs, or as soon as its "
            "password changes",
            self.camera_id,
            self.url,
            reason,
            self.logins_refused,
            delay,
            extra={"camera_id": self.camera_id},
        )
        self._login_refused(reason, delay)
        refused_with = self._tried
        until = time.monotonic() + delay
        while not self._stop.is_set() and (left := until - time.monotonic()) > 0:
            self._stop.wait(min(left, _SECRET_RECHECK_S))
            if self.address.password_ref is not None and self._secret_now() != refused_with:
                log.info(
                    "camera %s: its password changed; logging in again",
                    self.camera_id,
                    extra={"camera_id": self.camera_id},
                )
                return

    def _secret_now(self) -> str | None:
        try:
            return self.address.current_password()
        except CredentialsUnavailable:
            return None

    def _open(self) -> av.container.InputContainer:
        """Open the stream; LoginRefused if the camera refuses the credentials or they cannot be read."""
        timeout = self._open_timeout_s
        self._tried = None
        try:
            self._tried = self.address.current_password()
        except CredentialsUnavailable as exc:
            raise LoginRefused(str(exc)) from None
        url = self.address.url_with(self._tried)
        try:
            container = av.open(url, options=open_options(), timeout=(timeout, timeout))
        except _AUTH_ERRORS as exc:
            raise LoginRefused(failure_text(exc)) from None
        if self.logins_refused:
            self.logins_refused = 0
            log.info("camera %s: login accepted", self.camera_id, extra={"camera_id": self.camera_id})
            self._login_accepted()
        return container

    def _read_once(self) -> tuple[bool, bool]:
        """One connection: read until it ends or fails. Returns (connected, anything received)."""
        try:
            container = self._open()
        except (av.error.FFmpegError, OSError) as exc:
            self._last_error = f"cannot open: {failure_text(exc)}"
            if self._failures.failures < _LOUD_FAILURES:  # later ones: the reconnect line says enough
                log.warning(
                    "camera %s: cannot open %s: %s",
                    self.camera_id,
                    self.url,
                    failure_text(exc),
                    extra={"camera_id": self.camera_id},
                )
            return False, False
        received = False
        gave_up = False
        self._last_error = ""
        try:
            stream = container.streams.video[0]
            self._connected(True)
            log.info("camera %s: connected to %s", self.camera_id, self.url)
            received = self._pump(container, stream)
        except (av.error.FFmpegError, OSError, IndexError) as exc:
            self._last_error = f"stream lost: {failure_text(exc)}"
            log.warning(
                "camera %s: stream lost: %s",
                self.camera_id,
                failure_text(exc),
                extra={"camera_id": self.camera_id},
            )
        except GiveUp as exc:
            gave_up = True
            self._last_error = redact(str(exc))
            log.warning(
                "camera %s: %s; reconnecting",
                self.camera_id,
                self._last_error,
                extra={"camera_id": self.camera_id},
            )
        finally:
            self._connected(False)
            container.close()
        if gave_up:  # not an end: even a replay (stop_at_end) opens the stream again
            return False, received
        log.info("camera %s: stream ended", self.camera_id)
        return True, received
