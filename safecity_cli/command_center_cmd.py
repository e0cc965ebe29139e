"""``safecity command-center``: the operator API, live alert feed and console."""

from __future__ import annotations

import argparse
import logging
import socket
from typing import Any

import uvicorn

from command_center.app import create_app
from pipeline.settings import Settings
from safecity_cli.main import CommandError
from safecity_cli.workers import run_workers


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "command-center",
        parents=[parent],
        help="run the command centre (alerts API, live feed, watchlist enrolment, console)",
        description="Consume face hits from NATS into alerts and serve the operator console.",
    )
    parser.add_argument("--host", help="listen address (default: command_center.host)")
    parser.add_argument("--port", type=int, help="listen port (default: command_center.port)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port (replicas on one machine, each with its own pools and "
        "audit appender; a worker that dies is started again). Default 1",
    )
    parser.set_defaults(func=run)


def with_overrides(settings: Settings, host: str | None, port: int | None) -> Settings:
    updates: dict[str, Any] = {}
    if host:
        updates["host"] = host
    if port is not None:
        if not 1 <= port <= 65535:
            raise CommandError(f"--port {port}: must be between 1 and 65535", code=2)
        updates["port"] = port
    if not updates:
        return settings
    command_center = settings.command_center.model_copy(update=updates)
    return settings.model_copy(update={"command_center": command_center})


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = with_overrides(settings, args.host, args.port)
    if not 1 <= args.workers <= 64:
        raise CommandError(f"--workers {args.workers}: must be between 1 and 64", code=2)
    if args.workers > 1:
        return run_workers(settings, args.workers, lambda sock: _serve(settings, [sock]))
    return _serve(settings, None)


class _QuietCheckins(logging.Filter):
    """Leaves answered hotel check-ins out of the access log: at a thousand a second the log line costs
    a tenth of a check-in's CPU, and each one is in the audit trail already (``checkins.post``: the
    hotel's key, its address, the booking). Refused ones and every other request are logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and args[1] == "POST" and args[2] == "/checkins":
            return not (isinstance(args[4], int) and 200 <= args[4] < 300)
        return True


def _serve(settings: Settings, sockets: list[socket.socket] | None) -> int:
    logging.getLogger("uvicorn.access").addFilter(_QuietCheckins())
    cc = settings.command_center
    server = _Server(server_config(settings), f"http://{cc.host}:{cc.port}/")
    server.run(sockets=sockets)
    if not server.started:
        raise CommandError("command-center did not start (see the log above)")
    return 0


def server_config(settings: Settings) -> uvicorn.Config:
    """The HTTP server: X-Forwarded-* believed only from command_center.trusted_proxies."""
    cc = settings.command_center
    return uvicorn.Config(
        create_app(settings),
        host=cc.host,
        port=cc.port,
        log_config=None,  # keep the JSON logging set up by main
        proxy_headers=bool(cc.trusted_proxies),
        forwarded_allow_ips=cc.trusted_proxies or None,
        ws="websockets-sansio",
        ws_max_size=64 * 1024,
    )


class _Server(uvicorn.Server):
    """Announces the console URL once the socket listens and the app has started."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self._url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            print(f"command-center: console at {self._url}", flush=True)
