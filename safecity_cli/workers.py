"""Several worker processes of one server on one listening socket (``--workers N``).

The parent binds the socket, forks the workers (each builds its own application: its own database
pool, NATS connection and audit appender, exactly as a replica on another machine would) and watches
them: a worker that dies is started again after a pause; SIGTERM or SIGINT stops them all (each
finishes its requests, as one process does). The kernel shares the connections among the workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from pipeline.settings import Settings

log = logging.getLogger(__name__)

RESTART_PAUSE_S = 1.0
BACKLOG = 2048


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _fork(serve: Callable[[socket.socket], int], sock: socket.socket) -> int:
    pid = os.fork()
    if pid:
        return pid
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own graceful handlers
    code = 1
    try:
        code = serve(sock)
    except SystemExit as exc:
        code = int(exc.code or 0) if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("command-centre worker %d failed", os.getpid())
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_workers(settings: Settings, count: int, serve: Callable[[socket.socket], int]) -> int:
    """Serve with ``count`` forked workers until SIGTERM/SIGINT; 0 when they all stopped cleanly."""
    cc = settings.command_center
    sock = _listen(cc.host, cc.port)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    workers: dict[int, int] = {}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(count):
        workers[_fork(serve, sock)] = index
    worst = 0
    while workers:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in workers:
            continue
        index = workers.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        worst = max(worst, abs(code))
        if not stopping:
            log.warning(
                "command-centre worker %d (pid %d) exited with %d; starting it again", index, pid, code
            )
            time.sleep(RESTART_PAUSE_S)
            workers[_fork(serve, sock)] = index
    sock.close()
    return 0 if stopping else worst
