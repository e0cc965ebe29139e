"""``/metrics`` of the camera simulator: frames sent, unwatched and loops per camera, read at scrape time.

The simulator runs on GStreamer threads, not asyncio, so prometheus_client's own threaded HTTP server
serves it (on every path: any 200 also answers a liveness probe).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from camera_sim.feeder import FeederStats
from pipeline.settings import ConfigError

_COUNTERS = (
    ("frames_sent", "Frames sent to the camera's RTSP clients."),
    ("frames_unwatched", "Frames due while no client watched the camera."),
    ("loops_started", "Times the camera's clip started (again)."),
    ("callback_errors", "FrameSent events that could not be handed to the publisher."),
)


class _SimCollector(Collector):
    def __init__(self, stats: Callable[[], Mapping[str, FeederStats]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        for attr, doc in _COUNTERS:
            family = CounterMetricFamily(f"safecity_camera_sim_{attr}", doc, labels=["camera"])
            for camera_id, s in stats.items():
                family.add_metric([camera_id], getattr(s, attr))
            yield family


def serve_metrics(stats: Callable[[], Mapping[str, FeederStats]], host: str, port: int) -> WSGIServer:
    """Start serving (a daemon thread); the caller shuts the returned server down."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SimCollector(stats))
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(
            f"camera_sim.metrics_port: cannot listen on {host}:{port} ({exc.strerror})"
        ) from None
    return server
