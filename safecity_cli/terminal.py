"""Ctrl-C for a command started by ``make``: the command, not make, takes the terminal's interrupt.

The terminal sends SIGINT to its whole foreground process group. Under ``make demo`` that group is
make's, and make dies of the signal (status 130, "Interrupt") whatever its recipe then returns, so the
demo's clean stop could never show as status 0. A job-control shell gives each job a group of its own
and makes it the terminal's foreground group; ``own_terminal`` does the same for a command that shares
its parent's group: Ctrl-C then reaches the command and its children only, it exits 0, and make with it.
The terminal goes back to the parent's group at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator


def _terminal_to_take() -> int | None:
    """stdin's terminal if this process shares a group it leads not with that terminal's foreground."""
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd) or os.getpgrp() == os.getpid() or os.tcgetpgrp(fd) != os.getpgrp():
            return None
    except (OSError, ValueError):  # no stdin, or no terminal to ask
        return None
    return fd


def _give_terminal(fd: int, group: int) -> None:
    # A process outside the foreground group is stopped by SIGTTOU when it sets the foreground group.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, group)
    finally:
        signal.signal(signal.SIGTTOU, previous)


@contextlib.contextmanager
def own_terminal() -> Iterator[None]:
    """Within: this process leads a group of its own, the terminal's foreground one (when it shared its
    parent's group on the terminal; otherwise nothing changes)."""
    fd = _terminal_to_take()
    if fd is None:
        yield
        return
    parent_group = os.getpgrp()
    try:
        os.setpgid(0, 0)
        _give_terminal(fd, os.getpgrp())
    except OSError:
        yield  # left as it was: Ctrl-C still stops everything, make just reports it
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # the parent may be gone
            _give_terminal(fd, parent_group)
