"""``/metrics``, ``/healthz`` and ``/readyz`` of the camera simulator, like the other services.

The simulator runs on GStreamer threads, not asyncio, so a small threaded WSGI server serves it.
``/metrics`` (frames sent, unwatched and loops per camera; logins to password-protected cameras, accepted
and refused) is read at scrape time; ``/healthz`` answers
while the process does; ``/readyz`` is 503 unless the RTSP server listens and at least one mount plays.
Any other path is 404 and any other method 405, so a mistyped probe fails instead of passing.
Under ``/faults`` it takes fault injections (camera_sim_faults.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from camera_sim.feeder import FeederStats
from camera_sim.server import SimReadiness
from pipeline.settings import ConfigError
from safecity_cli.camera_sim_faults import PREFIX, FaultControl, handle

_COUNTERS = (
    ("frames_sent", "Frames sent to the camera's RTSP clients."),
    ("frames_unwatched", "Frames due while no client watched the camera."),
    ("loops_started", "Times the camera's clip started (again)."),
    ("callback_errors", "FrameSent events that could not be handed to the publisher."),
    ("frames_withheld", "Frames not sent during a stall or drop fault."),
    ("connections_dropped", "Clients disconnected by a drop fault."),
    ("connections_refused", "RTSP requests answered 503 during a drop fault."),
)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Simulated(FaultControl, Protocol):
    """What the endpoint reads of a CameraSimulator (and the fault API drives)."""

    def stats(self) -> Mapping[str, FeederStats]: ...

    def readiness(self) -> SimReadiness: ...

    def logins(self, camera_id: str) -> tuple[int, int]: ...


class _SimCollector(Collector):
    def __init__(self, simulator: Simulated) -> None:
        self._simulator = simulator

    def collect(self) -> Iterator[Metric]:
        stats = self._simulator.stats()
        for attr, doc in _COUNTERS:
            family = CounterMetricFamily(f"safecity_camera_sim_{attr}", doc, labels=["camera"])
            for camera_id, s in stats.items():
                family.add_metric([camera_id], getattr(s, attr))
            yield family
        logins = CounterMetricFamily(
            "safecity_camera_sim_logins",
            "Logins (requests with credentials) to a password-protected camera, by result.",
            labels=["camera", "result"],
        )
        for camera_id in stats:
            attempts, refused = self._simulator.logins(camera_id)
            logins.add_metric([camera_id, "accepted"], attempts - refused)
            logins.add_metric([camera_id, "refused"], refused)
        yield logins


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds the simulator's exit


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would flood stderr; requests are not worth a line each."""


def probe_app(simulator: Simulated, registry: CollectorRegistry) -> WsgiApp:
    """The WSGI application: routes by path, so only the three known paths answer 200."""
    metrics = make_wsgi_app(registry)

    def json_reply(start: StartResponse, status: str, body: dict[str, object]) -> list[bytes]:
        data = json.dumps(body).encode() + b"\n"
        start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def text_reply(start: StartResponse, status: str, text: str) -> list[bytes]:
        data = text.encode()
        start(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
        return [data]

    def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == PREFIX or path.startswith(PREFIX + "/"):
            status, reply = handle(simulator, environ)
            return json_reply(start, status, reply)
        if path not in ("/metrics", "/healthz", "/readyz"):
            return text_reply(start, "404 Not Found", "not found\n")
        if environ.get("REQUEST_METHOD") != "GET":
            return text_reply(start, "405 Method Not Allowed", "only GET\n")
        if path == "/metrics":
            exposition: Iterable[bytes] = metrics(environ, start)
            return exposition
        if path == "/healthz":
            return json_reply(start, "200 OK", {"status": "ok", "service": "camera_sim"})
        r = simulator.readiness()
        body: dict[str, object] = {
            "status": "ok" if r.ready else "unavailable",
            "listening": r.listening,
            "cameras_playing": r.cameras_playing,
        }
        return json_reply(start, "200 OK" if r.ready else "503 Service Unavailable", body)

    return app


def serve_metrics(simulator: Simulated, host: str, port: int) -> WSGIServer:
    """Start serving (a daemon thread); the caller shuts the returned server down."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SimCollector(simulator))
    try:
        server = make_server(
            host,
            port,
            probe_app(simulator, registry),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
    except OSError as exc:
        raise ConfigError(
            f"camera_sim.metrics_port: cannot listen on {host}:{port} ({exc.strerror})"
        ) from None
    threading.Thread(target=server.serve_forever, name="camera-sim-metrics", daemon=True).start()
    return server
