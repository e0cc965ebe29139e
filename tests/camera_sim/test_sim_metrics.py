"""The simulator's /metrics endpoint, served over real HTTP from its per-camera stats."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from camera_sim.feeder import FeederStats
from pipeline.settings import ConfigError
from safecity_cli.camera_sim_metrics import serve_metrics
from tests.services import free_port


def test_counts_per_camera_and_a_clear_error_on_a_busy_port() -> None:
    stats = {"gate": FeederStats(frames_sent=120, frames_unwatched=3, loops_started=2)}
    port = free_port()
    server = serve_metrics(lambda: stats, "127.0.0.1", port)
    try:
        stats["gate"].frames_sent = 150  # read at scrape time
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        assert 'safecity_camera_sim_frames_sent_total{camera="gate"} 150.0' in body
        assert 'safecity_camera_sim_loops_started_total{camera="gate"} 2.0' in body
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            with pytest.raises(ConfigError, match=r"camera_sim\.metrics_port"):
                serve_metrics(lambda: stats, "127.0.0.1", busy.getsockname()[1])
    finally:
        server.shutdown()
        server.server_close()
