"""Glass-to-alert latency: a frame leaves camera_sim → the alert arrives on an operator's WebSocket.

Runs the real system (camera_sim, one worker, the command centre, NATS JetStream, SQLite or the database
in SAFECITY_BENCH_DATABASE_URL), enrols two people seen in the Hamilton clip, and makes every hit its own
alert (merge window 0) so each alert measures one frame. The send time comes from the stamp camera_sim
puts in each frame; the receive time is taken the moment the WebSocket message arrives.

    python bench/glass_to_alert.py [--loops N]
Prints p50/p99 latency and the median time of each worker stage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import websockets
import yaml
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.procs import (
    Processes,
    add_staff,
    get_json,
    outbox_of,
    sign_in,
    wait_http,
    write_system_config,
)
from tests.services import SHARED, running_nats, running_redis

PEOPLE = {
    "Barack Obama": [
        "obama/examples_obama.jpg",
        "obama/examples_obama2.jpg",
        "obama/tests_test_images_obama3.jpg",
    ],
    "Lin-Manuel Miranda": ["lin_manuel_miranda/examples_lin-manuel-miranda.png"],
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def collect(
    ws_url: str, token: str, procs: Processes, loops: int
) -> list[tuple[float, dict[str, object]]]:
    received: list[tuple[float, dict[str, object]]] = []
    offered = [Subprotocol("bearer"), Subprotocol(token)]
    async with websockets.connect(ws_url, max_size=2**24, subprotocols=offered) as ws:
        procs.start("camera-sim", "camera-sim", "--loops", str(loops))
        procs.start("worker", "worker", "--stop-at-end")
        worker = procs.procs["worker"]
        quiet_since: float | None = None
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                if worker.poll() is not None:
                    quiet_since = quiet_since or time.time()
                    if time.time() - quiet_since > 3:
                        return received
                continue
            received.append((time.time(), json.loads(raw)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=4, help="times the 9.2 s clip is played")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    models_dir = Path(os.environ.get("SAFECITY_MODELS_DIR", SHARED / "models")).resolve()
    with (
        tempfile.TemporaryDirectory(prefix="safecity-bench-") as tmp,
        running_nats() as nats_url,
        running_redis() as redis_url,
    ):
        work = Path(tmp)
        tag = uuid.uuid4().hex[:8]
        camera = f"bench-{tag}"
        db = os.environ.get("SAFECITY_BENCH_DATABASE_URL", f"sqlite:///{work / 'bench.db'}")
        config, _, port = write_system_config(
            work,
            nats_url=nats_url,
            redis_url=redis_url,
            database_url=db,
            models_dir=models_dir,
            videos={camera: "hamilton_whitehouse_clip.mp4"},
            tag=tag,
        )
        settings = yaml.safe_load(config.read_text())
        settings["command_center"]["alert_merge_window_s"] = 0
        config.write_text(yaml.safe_dump(settings))
        procs = Processes(work, config)
        try:
            for name, photos in PEOPLE.items():
                result = procs.enroll(name, [SHARED / "media/faces" / p for p in photos], "bench")
                if result.returncode != 0:
                    print(result.stderr, file=sys.stderr)
                    return 1
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/health/ready", 60, procs.start("command-center", "command-center"))
            token = sign_in(base, outbox_of(work), *add_staff(procs, "supervisor"))
            events = asyncio.run(collect(base.replace("http", "ws") + "/ws/alerts", token, procs, args.loops))
            return report(base, token, camera, events, args.json)
        finally:
            procs.stop_all()


def report(
    base: str, token: str, camera: str, events: list[tuple[float, dict[str, object]]], as_json: bool
) -> int:
    latencies: list[float] = []
    stages: dict[str, list[float]] = {}
    hops: dict[str, list[float]] = {"camera→worker": [], "worker→store": [], "store→websocket": []}
    for received_at, event in events:
        if event.get("kind") != "created" or event.get("camera_id") != camera:
            continue
        hit = get_json(f"{base}/alerts/{event['alert_id']}/hits", token)[0]
        if hit.get("frame_sent_at"):
            sent = datetime.fromisoformat(hit["frame_sent_at"]).timestamp()
            captured = datetime.fromisoformat(hit["captured_at"]).timestamp()
            stored = datetime.fromisoformat(hit["received_at"]).timestamp()
            latencies.append((received_at - sent) * 1e3)
            hops["camera→worker"].append((captured - sent) * 1e3)
            hops["worker→store"].append((stored - captured) * 1e3)
            hops["store→websocket"].append((received_at - stored) * 1e3)
        for stage, ms in hit["timings"].items():
            stages.setdefault(stage, []).append(float(ms))
    if not latencies:
        print("no alerts were received; nothing to report", file=sys.stderr)
        return 1
    if as_json:
        summary: dict[str, object] = {
            "alerts": len(latencies),
            "p50_ms": round(statistics.median(latencies), 1),
        }
        summary["p99_ms"] = round(percentile(latencies, 99), 1)
        summary["hops_p50_ms"] = {k: round(statistics.median(v), 1) for k, v in hops.items() if v}
        summary["stages_p50_ms"] = {k: round(statistics.median(v), 2) for k, v in stages.items()}
        print(json.dumps(summary))
        return 0
    print(f"glass-to-alert latency over {len(latencies)} alerts (camera_sim send → WebSocket receive):")
    print(
        f"  p50 {statistics.median(latencies):7.1f} ms   p99 {percentile(latencies, 99):7.1f} ms   "
        f"min {min(latencies):6.1f} ms   max {max(latencies):6.1f} ms"
    )
    print("median per hop (ms): " + "   ".join(f"{k} {statistics.median(v):.1f}" for k, v in hops.items()))
    print("median per worker stage (ms):")
    for stage, values in stages.items():
        print(f"  {stage:<10} {statistics.median(values):7.2f}   (p99 {percentile(values, 99):7.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
