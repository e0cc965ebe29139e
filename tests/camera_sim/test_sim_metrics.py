"""The simulator's /metrics, /healthz and /readyz, served over real HTTP from a real simulator."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from camera_sim.clip import Clip
from camera_sim.server import CameraSimulator, SimCamera
from pipeline.settings import ConfigError
from safecity_cli.camera_sim_metrics import serve_metrics
from tests.services import free_port


def get(url: str, method: str = "GET") -> tuple[int, str, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_counts_per_camera_probes_and_a_clear_error_on_a_busy_port(hamilton: Clip) -> None:
    sim = CameraSimulator([SimCamera("gate", hamilton)], port=0)
    port = free_port()
    server = serve_metrics(sim, "127.0.0.1", port)
    base = f"http://127.0.0.1:{port}"
    try:
        # Not started yet: alive, not ready.
        assert get(f"{base}/healthz")[:2] == (200, "application/json")
        status, _, body = get(f"{base}/readyz")
        assert status == 503 and json.loads(body)["listening"] is False

        sim.start()
        status, ctype, body = get(f"{base}/readyz")
        assert (status, ctype) == (200, "application/json"), body
        assert json.loads(body) == {"status": "ok", "listening": True, "cameras_playing": ["gate"]}
        sim.stats()["gate"].frames_sent = 10_000  # read at scrape time
        status, ctype, body = get(f"{base}/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        assert 'safecity_camera_sim_frames_sent_total{camera="gate"}' in body
        assert 'safecity_camera_sim_loops_started_total{camera="gate"} 1.0' in body
        assert "safecity_camera_sim_frames_sent_total" in body and "10000" in body

        # Only the three paths answer; a mistyped probe fails instead of passing.
        for path in ("/", "/nothing", "/metrics/extra", "/health"):
            assert get(f"{base}{path}")[0] == 404, path
        assert get(f"{base}/metrics", "POST")[0] == 405

        sim.stop()
        status, _, body = get(f"{base}/readyz")
        assert status == 503 and json.loads(body) == {
            "status": "unavailable",
            "listening": False,
            "cameras_playing": [],
        }
        assert get(f"{base}/healthz")[0] == 200

        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            with pytest.raises(ConfigError, match=r"camera_sim\.metrics_port"):
                serve_metrics(sim, "127.0.0.1", busy.getsockname()[1])
    finally:
        sim.stop()
        server.shutdown()
        server.server_close()


def test_not_ready_once_every_finite_camera_has_ended(short_clip: Clip) -> None:
    with CameraSimulator([SimCamera("once", short_clip, loop=False)], port=0) as sim:
        port = free_port()
        server = serve_metrics(sim, "127.0.0.1", port)
        try:
            assert get(f"http://127.0.0.1:{port}/readyz")[0] == 200
            assert sim.wait(10), "the 2 s replay did not end"
            status, _, body = get(f"http://127.0.0.1:{port}/readyz")
            # Still listening, but no mount has a stream to give.
            assert status == 503 and json.loads(body)["cameras_playing"] == []
        finally:
            server.shutdown()
            server.server_close()
