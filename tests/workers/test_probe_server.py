"""The worker's metrics endpoint and probes over real HTTP, and what its collector exposes."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.types import CameraId, Frame
from workers.metrics import RateMeter, WorkerMetrics, WorkerSnapshot
from workers.probe_server import Probe, ProbeServer
from workers.stats import CameraCounters


def snapshot_of(counters: CameraCounters, fps: dict[str, tuple[float, float]]) -> WorkerSnapshot:
    return WorkerSnapshot(
        cameras={counters.camera_id: counters},
        running=frozenset({counters.camera_id}),
        fps=fps,
        outbox_pending=3,
        published=10,
        outbox_dropped=0,
        nats_connected=True,
        nats_reconnects=2,
        leases_held=1,
        live_workers=2,
        lease_events={"claimed": 1, "released": 0, "contended": 0},
        leases_lost={"lapsed": 1},
    )


def get(url: str, method: str = "GET") -> tuple[int, str, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


async def test_metrics_and_probes_over_http() -> None:
    counters = CameraCounters("cam-1")
    counters.frames_decoded, counters.frames_analysed, counters.connected = 250, 50, True
    metrics = WorkerMetrics("w1", lambda: snapshot_of(counters, {"cam-1": (25.0, 5.0)}))
    frame = Frame(CameraId("cam-1"), np.zeros((4, 4, 3), np.uint8), received_ns=1, decode_ms=2.0)
    metrics.frame_received(frame)
    metrics.frame_done(frame, {"detect": 12.0, "embed": 3.0})
    metrics.published(0.004)
    readiness = {"ok": False}
    server = ProbeServer(
        metrics.registry,
        live=lambda: Probe(True, {"worker_id": "w1"}),
        ready=lambda: Probe(readiness["ok"], {"cameras": ["cam-1"]}),
        host="127.0.0.1",
        port=0,
    )
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        status, ctype, body = await asyncio.to_thread(get, f"{base}/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
        }
        assert samples[("safecity_worker_frames_analysed_total", (("camera", "cam-1"),))] == 50
        assert samples[("safecity_worker_fps", (("camera", "cam-1"), ("kind", "decoded")))] == 25.0
        assert samples[("safecity_worker_camera_connected", (("camera", "cam-1"),))] == 1
        assert samples[("safecity_worker_stage_seconds_count", (("stage", "detect"),))] == 1
        assert samples[("safecity_worker_stage_seconds_sum", (("stage", "decode"),))] == pytest.approx(0.002)
        assert samples[("safecity_worker_stage_seconds_count", (("stage", "publish"),))] == 1
        assert samples[("safecity_worker_outbox_pending", ())] == 3
        assert samples[("safecity_worker_leases_lost_total", (("reason", "lapsed"),))] == 1
        assert samples[("safecity_nats_reconnects_total", ())] == 2

        assert (await asyncio.to_thread(get, f"{base}/healthz"))[:2] == (200, "application/json")
        status, _, body = await asyncio.to_thread(get, f"{base}/readyz")
        assert status == 503 and '"unavailable"' in body and "cam-1" in body
        readiness["ok"] = True
        assert (await asyncio.to_thread(get, f"{base}/readyz"))[0] == 200
        assert (await asyncio.to_thread(get, f"{base}/nothing"))[0] == 404
        assert (await asyncio.to_thread(get, f"{base}/metrics", "POST"))[0] == 405
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"garbage\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 400 ")
        writer.close()
    finally:
        await server.close()


def test_rate_meter_measures_over_its_window() -> None:
    meter = RateMeter(window_s=5)
    c = CameraCounters("cam")
    for second in range(10):
        c.frames_decoded, c.frames_analysed = 25 * second, 5 * second
        meter.sample({"cam": c}, now=float(second))
    decoded, analysed = meter.rates()["cam"]
    assert decoded == pytest.approx(25.0) and analysed == pytest.approx(5.0)
    for second in range(10, 17):  # the stream stalls: the rate falls to 0 within the window
        meter.sample({"cam": c}, now=float(second))
    assert meter.rates()["cam"] == (0.0, 0.0)
