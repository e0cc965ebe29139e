"""Camera streams one worker sustains on this machine, and what a camera costs: 720p at 25 fps, faces
analysed at 5 fps.

Runs the real system for each camera count asked for (camera_sim, the worker process(es) holding every
camera, the command centre, NATS JetStream, SQLite) on the Hamilton clip scaled to 1280x720 and replayed at
25 fps, with Lin-Manuel Miranda and Barack Obama enrolled and every decided track its own alert (merge
window 0). Per count, after a warm-up, it reads the workers' heartbeats, their /metrics and their CPU time:

* the workers' own CPU milliseconds per camera-second (user + system of the worker processes, from /proc:
  camera_sim, NATS and the command centre share the machine, and their CPU is not counted),
* decoded and analysed frames per second per camera (sustained: ≥ 97 % of 25 decoded, ≥ 95 % of 5 analysed),
* frames dropped by the drop-oldest queue (the worker sheds load rather than build a backlog),
* faces detected in the window,
* glass-to-analysed latency p50/p99 (camera_sim's send stamp → end of analysis), first and second half of
  the window: a backlog shows as the second half being slower,
* glass-to-alert latency p50/p99 over the alerts of the run (camera send → operator WebSocket).

    python bench/camera_capacity.py [--counts 1,2,4,6] [--seconds 60] [--warmup 15] [--processes P]
    python bench/camera_capacity.py --cameras 8 --seconds 60 --json      # one count, one JSON object
    python bench/camera_capacity.py ... [--full-frame-every 1] [--min-face-px 48] [--stream hevc-4k+sub]
    python bench/camera_capacity.py --cameras 8 --json --stream h264-1080p+sub6 [--evidence-wait 0]

``--stream h264-1080p+sub6`` is a camera set up as deployments set one up: analysed on a 640x360 H.264
sub-stream at 6.25 fps, its 1080p main stream kept for the hits' evidence images, which follow each hit
(``evidence_update_ms``: how long after the hit, from the worker's log).

``--processes P`` splits the cameras over P worker processes (pinned with --camera, no leases), to see
whether several processes per machine cost less than one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import nats
import websockets
import yaml
from prometheus_client.parser import text_string_to_metric_families
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from live_system import percentile, process_cpu_s

from bench.alert_latency import decisions, evidence_waits, glass_to_alert, moment
from bench.capacity_streams import add_stream_option, apply_stream
from pipeline.contracts import WorkerHeartbeat
from pipeline.subjects import Subjects
from tests.e2e.procs import Processes, add_staff, outbox_of, sign_in, wait_http, write_system_config
from tests.services import SHARED, free_port, running_nats, running_redis

FPS = 25
HEADER_END = "   glass→alert ms     sustained"
ANALYSIS_FPS = 5.0
PEOPLE = {
    "Barack Obama": [
        "obama/examples_obama.jpg",
        "obama/examples_obama2.jpg",
        "obama/tests_test_images_obama3.jpg",
    ],
    "Lin-Manuel Miranda": ["lin_manuel_miranda/examples_lin-manuel-miranda.png"],
}


def make_720p(cache: Path) -> Path:
    """The Hamilton clip scaled to 1280x720 (H.264, no B-frames, a keyframe every 2 s), made once."""
    target = cache / "hamilton_720p.mp4"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    source = SHARED / "media/video/hamilton_whitehouse_clip.mp4"
    partial = target.with_suffix(".part.mp4")
    with av.open(str(source)) as src, av.open(str(partial), "w") as dst:
        out = dst.add_stream("libx264", rate=FPS)
        out.width, out.height, out.pix_fmt = 1280, 720, "yuv420p"
        out.options = {"preset": "veryfast", "g": str(2 * FPS), "bf": "0", "crf": "23"}
        out.codec_context.time_base = Fraction(1, FPS)
        for index, frame in enumerate(src.decode(video=0)):
            scaled = frame.reformat(width=1280, height=720, format="yuv420p")
            scaled.pts, scaled.time_base = index, Fraction(1, FPS)
            for packet in out.encode(scaled):
                dst.mux(packet)
        for packet in out.encode(None):
            dst.mux(packet)
    partial.rename(target)
    return target


@dataclass
class Scrape:
    """What the workers' /metrics say at one moment, summed over workers and cameras."""

    buckets: dict[float, float]  # glass-to-analysed histogram: {upper bound: cumulative count}
    cpu_s: dict[str, float]  # safecity_worker_cpu_seconds_total by stage


def scrape(ports: list[int]) -> Scrape:
    found = Scrape({}, {})
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name == "safecity_worker_glass_to_analysed_seconds":
                for sample in family.samples:
                    if sample.name.endswith("_bucket"):
                        bound = float(sample.labels["le"])
                        found.buckets[bound] = found.buckets.get(bound, 0.0) + sample.value
            elif family.name == "safecity_worker_cpu_seconds":
                for sample in family.samples:
                    stage = sample.labels["stage"]
                    found.cpu_s[stage] = found.cpu_s.get(stage, 0.0) + sample.value
    return found


def histogram_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """Quantile (seconds) of the observations made between two scrapes, interpolated within a bucket."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            share = (rank - below) / max(cumulative - below, 1e-9)
            return lower + (bound - lower) * share
        lower, below = bound, cumulative
    return lower


@dataclass
class Workers:
    """The worker processes of a run, the cameras each holds and their metrics ports."""

    procs: list[subprocess.Popen[bytes]]
    ports: list[int]

    def cpu_s(self) -> float:
        return sum(process_cpu_s(p.pid) for p in self.procs)


def start_workers(procs: Processes, cameras: list[str], processes: int) -> Workers:
    started, ports = [], []
    for i in range(processes):
        mine = cameras[i::processes]
        if not mine:
            continue
        port = free_port()
        procs.env["SAFECITY_WORKER__METRICS_PORT"] = str(port)  # the rest of the config is shared
        started.append(
            procs.start(f"worker-{i}", "worker", "--stop-at-end", *[a for c in mine for a in ("--camera", c)])
        )
        ports.append(port)
    procs.env.pop("SAFECITY_WORKER__METRICS_PORT", None)
    return Workers(started, ports)


async def measure(
    nats_url: str, ws_url: str, token: str, procs: Processes, cameras: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    beats: list[tuple[float, WorkerHeartbeat]] = []
    alerts: list[tuple[float, dict[str, Any]]] = []
    nc = await nats.connect(nats_url)

    async def on_beat(msg: Any) -> None:
        beats.append((time.monotonic(), WorkerHeartbeat.from_bytes(msg.data)))

    await nc.subscribe(Subjects().worker_heartbeat_all(), cb=on_beat)  # its workers: default prefix
    published: dict[str, tuple[float, float]] = {}  # hit id -> (on NATS, emitted by the worker), Unix s

    async def on_hit(msg: Any) -> None:
        with contextlib.suppress(ValueError):  # not a hit: a hit's later images
            if Subjects().parse_hit(msg.subject)[0] == "face":
                hit = json.loads(msg.data)
                published[hit["event_id"]] = (time.time(), moment(hit["emitted_at"]))

    await nc.subscribe(Subjects().hits_all(), cb=on_hit)
    offered = [Subprotocol("bearer"), Subprotocol(token)]
    async with websockets.connect(ws_url, max_size=2**24, subprotocols=offered) as ws:

        async def listen() -> None:
            async for raw in ws:
                alerts.append((time.time(), json.loads(raw)))

        listener = asyncio.create_task(listen())
        procs.start("camera-sim", "camera-sim", "--seconds", str(args.seconds + args.warmup + 60))
        workers = start_workers(procs, cameras, args.processes)
        for port, proc in zip(workers.ports, workers.procs, strict=True):
            await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/healthz", 120, proc)
        await asyncio.sleep(args.warmup)
        start, first, cpu0 = time.monotonic(), await asyncio.to_thread(scrape, workers.ports), workers.cpu_s()
        await asyncio.sleep(args.seconds / 2)
        middle = await asyncio.to_thread(scrape, workers.ports)
        await asyncio.sleep(args.seconds / 2)
        end, last, cpu1 = time.monotonic(), await asyncio.to_thread(scrape, workers.ports), workers.cpu_s()
        listener.cancel()
    await nc.close()
    result: dict[str, Any] = {"halves": [], "alerts": alerts, "cpu_s": cpu1 - cpu0, "window_s": end - start}
    result["published"] = published
    result["stages_cpu_s"] = {k: v - first.cpu_s.get(k, 0.0) for k, v in last.cpu_s.items()}
    result.update(rates([(t, b) for t, b in beats if start - 1 <= t <= end + 1 and b.cameras]))
    for a, b in ((first, middle), (middle, last)):
        result["halves"].append(
            (histogram_quantile(a.buckets, b.buckets, 0.5), histogram_quantile(a.buckets, b.buckets, 0.99))
        )
    return result


def rates(window: list[tuple[float, WorkerHeartbeat]]) -> dict[str, Any]:
    """Per camera decoded and analysed frames per second, and the drops and faces detected per second,
    between each worker's first and last heartbeat of the window."""
    by_worker: dict[str, list[WorkerHeartbeat]] = {}
    for _, beat in window:
        by_worker.setdefault(beat.worker_id, []).append(beat)
    decoded, analysed, dropped, faces = [], [], 0.0, 0.0
    for worker_beats in by_worker.values():
        first_beat, last_beat = worker_beats[0], worker_beats[-1]
        dt = (last_beat.emitted_at - first_beat.emitted_at).total_seconds()
        if dt <= 0:
            continue
        per = {c.camera_id: c for c in first_beat.cameras}
        for cam in last_beat.cameras:
            before = per.get(cam.camera_id)
            if before is None:
                continue
            decoded.append((cam.frames_decoded - before.frames_decoded) / dt)
            analysed.append((cam.frames_analysed - before.frames_analysed) / dt)
            dropped += (cam.frames_dropped - before.frames_dropped) / dt
            faces += (cam.faces_detected - before.faces_detected) / dt
    return {"decoded": decoded, "analysed": analysed, "dropped_per_s": dropped, "faces_per_s": faces}


def run_count(
    count: int, clip: Path, nats_url: str, redis_url: str, args: argparse.Namespace
) -> dict[str, Any] | None:
    """One run of ``count`` cameras: its figures (None if no heartbeat fell in the window)."""
    models_dir = Path(os.environ.get("SAFECITY_MODELS_DIR", SHARED / "models")).resolve()
    with tempfile.TemporaryDirectory(prefix="safecity-capacity-") as tmp:
        work, tag = Path(tmp), uuid.uuid4().hex[:8]
        cameras = [f"cap-{tag}-{i}" for i in range(count)]
        config, scenario, port = write_system_config(
            work,
            nats_url=nats_url,
            redis_url=redis_url,
            database_url=f"sqlite:///{work / 'bench.db'}",
            models_dir=models_dir,
            videos=dict.fromkeys(cameras, "hamilton_whitehouse_clip.mp4"),
            tag=tag,
        )
        scenario.write_text(
            yaml.safe_dump({"cameras": [{"id": c, "file": str(clip), "fps": FPS} for c in cameras]})
        )
        settings = yaml.safe_load(config.read_text())
        settings["command_center"]["alert_merge_window_s"] = 0
        settings["worker"].update(analysis_fps=ANALYSIS_FPS, heartbeat_s=2)
        apply_stream(args.stream, scenario, settings)  # --stream: HEVC, 4K, sub-stream (capacity_streams)
        if args.min_face_px is not None:
            for camera in settings["cameras"]:
                camera["min_face_px"] = args.min_face_px
        if args.evidence_wait is not None:
            settings["worker"].setdefault("streams", {})["evidence_wait_s"] = args.evidence_wait
        if args.full_frame_every is not None:
            settings.setdefault("motion", {})["full_frame_every"] = args.full_frame_every
        config.write_text(yaml.safe_dump(settings))
        procs = Processes(work, config)
        try:
            for name, photos in PEOPLE.items():
                enrolled = procs.enroll(name, [SHARED / "media/faces" / p for p in photos], "bench")
                if enrolled.returncode != 0:
                    raise SystemExit(enrolled.stderr)
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/health/ready", 60, procs.start("command-center", "command-center"))
            token = sign_in(base, outbox_of(work), *add_staff(procs, "supervisor"))
            ws_url = base.replace("http", "ws") + "/ws/alerts"
            try:
                result = asyncio.run(measure(nats_url, ws_url, token, procs, cameras, args))
            except Exception:
                print(procs.logs(), file=sys.stderr)
                raise
            latencies, result["parts"] = glass_to_alert(
                base, token, set(cameras), result["alerts"], result["published"]
            )
            logs = [procs.log(f"worker-{i}") for i in range(args.processes)]
            result["evidence_waits"], result["decisions"] = evidence_waits(logs), decisions(logs)
            if not result["decoded"] or min(result["decoded"]) == 0:
                print(f"a camera decoded nothing; the processes' logs:\n{procs.logs()}", file=sys.stderr)
        finally:
            procs.stop_all()
    if not result["decoded"]:
        return None
    return {**result, "latencies": latencies, "count": count}


def summary(run: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The figures of a run as the JSON object the capacity goal is stated in: the workers' CPU per
    camera-second, the slowest camera's analysed frames per second, drops per second, glass-to-alert
    p50/p99 over the run's decided tracks and the faces detected in the window."""
    latencies, waits = run["latencies"], run.get("evidence_waits", [])
    count = run["count"]
    return {
        "cameras": count,
        "seconds": seconds,
        "worker_cpu_ms_per_camera_s": round(run["cpu_s"] / run["window_s"] / count * 1e3, 1),
        "analysed_fps_per_camera": round(min(run["analysed"]), 2),
        "dropped_per_s": round(run["dropped_per_s"], 2),
        "glass_to_alert_ms": {
            "p50": round(statistics.median(latencies)) if latencies else None,
            "p99": round(percentile(latencies, 99)) if latencies else None,
        },
        "glass_to_analysed_ms": [
            {"p50": round(p50 * 1e3), "p99": round(p99 * 1e3)}
            if p50 is not None and p99 is not None
            else None
            for p50, p99 in run["halves"]
        ],
        "faces_found": round(run["faces_per_s"] * seconds),
        "decided_tracks": len(latencies),
        "decisions": run.get("decisions"),
        "evidence_update_ms": {
            "hits": len(waits),
            "p50": round(statistics.median(waits)) if waits else None,
            "p99": round(percentile(waits, 99)) if waits else None,
        },
        "glass_to_alert_parts_ms_p50": {
            name: round(statistics.median(values)) for name, values in sorted(run.get("parts", {}).items())
        },
        "cpu_ms_per_camera_s_by_stage": {
            stage: round(spent / run["window_s"] / count * 1e3, 1)
            for stage, spent in sorted(run["stages_cpu_s"].items())
        },
    }


def table_row(run: dict[str, Any]) -> str:
    decoded, analysed, latencies = run["decoded"], run["analysed"], run["latencies"]
    halves = [
        f"{p50 * 1e3:5.0f}/{p99 * 1e3:5.0f}" if p50 is not None and p99 is not None else "   -/-"
        for p50, p99 in run["halves"]
    ]
    sustained = min(decoded) >= 0.97 * FPS and min(analysed) >= 0.95 * ANALYSIS_FPS
    g2a = (
        f"{statistics.median(latencies):5.0f}/{percentile(latencies, 99):5.0f} ({len(latencies)})"
        if latencies
        else "-"
    )
    cpu = run["cpu_s"] / run["window_s"] / run["count"] * 1e3
    return (
        f"{run['count']:>7}   {cpu:6.1f}   {min(decoded):5.1f}-{max(decoded):4.1f}"
        f"   {min(analysed):4.2f}-{max(analysed):4.2f}   {run['dropped_per_s']:6.2f}   {halves[0]:>11}"
        f"   {halves[1]:>11}   {g2a:>17}   {'yes' if sustained else 'NO'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,2,4,6", help="camera counts to try, comma-separated")
    parser.add_argument("--cameras", type=int, help="one camera count (instead of --counts)")
    parser.add_argument("--seconds", type=float, default=60, help="measurement window per count")
    parser.add_argument(
        "--warmup", type=float, default=15, help="seconds before measuring (model load, connect)"
    )
    add_stream_option(parser)
    parser.add_argument("--processes", type=int, default=1, help="worker processes sharing the cameras")
    parser.add_argument(
        "--min-face-px",
        type=int,
        help="every camera's smallest face to find (default: recognition.min_face_px); the clip is the "
        "360p original enlarged twice, so its faces are all at least twice as large as there",
    )
    parser.add_argument(
        "--full-frame-every",
        type=int,
        help="motion.full_frame_every: analysed frames per whole-frame detection (1: every frame whole)",
    )
    parser.add_argument(
        "--evidence-wait",
        type=float,
        help="worker.streams.evidence_wait_s: how long after a sub-stream camera's hit its main stream's "
        "images may be sent (0: never)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per count instead of a table")
    args = parser.parse_args()
    counts = [args.cameras] if args.cameras else [int(c) for c in args.counts.split(",")]
    clip = make_720p(Path(tempfile.gettempdir()) / "safecity-bench-media")
    if not args.json:
        print(
            f"camera capacity: {args.processes} worker process(es), 1280x720 at {FPS} fps per camera, "
            f"faces analysed at {ANALYSIS_FPS:g} fps"
        )
        print(f"machine: {os.cpu_count()} CPUs; window {args.seconds:g} s after {args.warmup:g} s warm-up")
        print(
            "cameras   cpu ms/cam-s   decoded fps   analysed fps   drop/s   g→analysed ms   g→analysed ms"
            + HEADER_END
        )
        print(" " * 64 + "p50/p99 1st half  p50/p99 2nd half  p50/p99 (tracks)")
    with running_nats() as nats_url, running_redis() as redis_url:
        for count in counts:
            run = run_count(count, clip, nats_url, redis_url, args)
            if run is None:
                print(
                    f"{count:>7}   no heartbeats in the window", file=sys.stderr if args.json else sys.stdout
                )
            elif args.json:
                print(json.dumps(summary(run, args.seconds)), flush=True)
            else:
                print(table_row(run), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
