"""What one 720p camera costs the worker, measured offline: the worker's own camera source and face stage
on the capacity bench's clip, as fast as the machine allows, counted in CPU time.

``bench/camera_capacity.py`` runs the whole system in real time: on a shared machine whose other jobs
take the cores, the worker falls behind, drops frames, and then spends less than a camera needs (its
figure is then a floor, not the cost). This bench does the same work with no clock to keep up with: the
Hamilton clip scaled to 1280x720 at 25 fps (H.264, no B-frames, a keyframe every 2 s, as camera_sim
plays it) is read by the worker's ``RtspSource`` (demux, decode, skipped frames, colour conversion of
the frames chosen at ``worker.analysis_fps``) on a clock that follows the clip's frames, and every chosen
frame is analysed by the worker's ``CameraRunner`` and face stage (``CameraAnalyser``: motion gate,
detection at the camera's size, quality, tracking, embedding, matching against Lin-Manuel Miranda and
Barack Obama, voting). Nothing is dropped (the queue holds a whole loop).

The cost is the process's CPU time (user + system, every thread) per second of video, the median over
``--loops`` passes; the stages from the worker's own ``safecity_worker_cpu_seconds_total`` split
(``decode`` is the rest: the source thread). ``faces_found`` counts the faces detected in a pass,
``faces_embedded`` those embedded and ``tracks`` the tracks they made, so a cheaper version can be
checked to find the same faces. For a stream analysed on its sub-stream (``--stream ...+sub6``), the
main stream's cost is added (``main_stream``): its reader thread receiving it from camera_sim into the
evidence ring (10 s in real time), and decoding each hit's frame from the keyframe before it.

    python bench/camera_cost.py [--json] [--loops 5] [--min-face-px 24] [--full-frame-every 2] \\
        [--track-margin 0.5] [--stream hevc-4k+sub]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camera_capacity import FPS, make_720p
from capacity_streams import SOURCE, STREAMS, Mode, evidence_decode_ms, measure, stream_files, sub_step
from track_vote import enrolled

from camera_sim.clip import load_clip
from camera_sim.transcode import transcoded
from pipeline.camera_credentials import StreamAddress
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
from pipeline.types import CameraId, Frame
from tests.services import SHARED
from watchlist.matcher import WatchlistMatcher
from workers.analysis import CameraAnalyser
from workers.frame_queue import DropOldestQueue
from workers.runner import CameraRunner
from workers.source import RtspSource, SourceOptions
from workers.stats import CameraCounters

CAMERA = CameraId("cost")
MAIN_SECONDS = 10.0


def frame_ns(clip: Path) -> int:
    """The clip's frame period (the capacity clip: 40 ms; a 6.25 fps sub-stream: 160 ms)."""
    with av.open(str(clip)) as container:
        rate = container.streams.video[0].average_rate
    return round(1e9 / float(rate)) if rate else 1_000_000_000 // FPS


def one_pass(
    clip: Path, settings: Settings, analyzer: FaceAnalyzer, matcher: WatchlistMatcher, min_face_px: int
) -> dict[str, Any]:
    """The clip once through a fresh source and face stage: CPU seconds, stages, faces, frames."""
    counters = CameraCounters(CAMERA)
    queue: DropOldestQueue[Frame] = DropOldestQueue(10_000)
    stop = threading.Event()
    options = SourceOptions(
        address=StreamAddress(str(clip)),
        analysis_fps=settings.worker.analysis_fps,
        open_timeout_s=10,
        reconnect_initial_s=1,
        reconnect_max_s=1,
        stop_at_end=True,
        keyframe_wait_s=settings.worker.streams.keyframe_wait_s,
        skip_nonref=settings.worker.streams.skip_nonref,
        skip_loop_filter=settings.worker.streams.skip_loop_filter,
    )
    # The camera's clock follows its frames: frame n is read at n / fps s, whatever the machine's pace.
    period = frame_ns(clip)
    source = RtspSource(
        CAMERA, options, queue, counters, stop, clock=lambda: counters.frames_decoded * period
    )
    face = CameraAnalyser(
        CAMERA, "bench", settings, analyzer, matcher, counters, lambda hit: None, min_face_px=min_face_px
    )
    runner = CameraRunner(CAMERA, {"face": face}, queue, stop, counters)
    cpu = time.process_time()
    runner.start()
    source.start()
    source.join()
    runner.join()
    spent = time.process_time() - cpu
    return {
        "cpu_s": spent,
        "frames": counters.frames_decoded,
        "seconds": counters.frames_decoded * period / 1e9,
        "analysed": counters.frames_analysed,
        "dropped": counters.frames_dropped,
        "stages": dict(counters.cpu_seconds),
        "faces_found": counters.faces_detected,
        "tracks_only": counters.frames_tracks_only,
        "tracks": counters.tracks_started,
        "faces_embedded": counters.faces_embedded,
        "hits": counters.hits_published,
        "hit_updates": counters.hit_updates_published,
    }


def summary(passes: list[dict[str, Any]], min_face_px: int, camera: str) -> dict[str, Any]:
    seconds = passes[0]["seconds"]
    per_pass = [p["cpu_s"] * 1e3 / seconds for p in passes]
    median = statistics.median(per_pass)
    stages: dict[str, float] = {}
    for p in passes:
        for stage, s in p["stages"].items():
            stages[stage] = stages.get(stage, 0.0) + s * 1e3 / seconds / len(passes)
    analysed = sum(stages.values())
    stages["decode"] = statistics.mean(per_pass) - analysed  # the source thread and the rest
    return {
        "camera": camera,
        "seconds_of_video": round(seconds, 2),
        "passes": len(passes),
        "min_face_px": min_face_px,
        "worker_cpu_ms_per_camera_s": round(median, 1),
        "worker_cpu_ms_per_camera_s_passes": [round(v, 1) for v in per_pass],
        "cpu_ms_per_camera_s_by_stage": {k: round(v, 1) for k, v in sorted(stages.items())},
        "analysed_fps_per_camera": round(passes[0]["analysed"] / seconds, 2),
        "dropped": sum(p["dropped"] for p in passes),
        "faces_found": passes[0]["faces_found"],
        "frames_tracks_only": passes[0]["tracks_only"],
        "tracks": passes[0]["tracks"],
        "faces_embedded": passes[0]["faces_embedded"],
        "hits": passes[0]["hits"],
        "hit_updates": passes[0]["hit_updates"],
        "cameras_per_2_cores": int(2000 // median),
    }


def analysed_clip(stream: str | None) -> Path:
    """The file the camera's analysis reads: the capacity clip, or stream ``stream``'s analysed one (a
    '+sub' stream's sub-stream; its main stream, only demuxed and kept, is not measured here)."""
    cache = Path(tempfile.gettempdir()) / "safecity-bench-media"
    if stream is None:
        return make_720p(cache)
    chosen = STREAMS[stream]
    return transcoded(SOURCE, chosen.substream or chosen.encoding, cache)


def main_stream_cost(stream: str, hits_per_s: float) -> dict[str, float]:
    """A sub-stream camera's main stream, kept for evidence: CPU ms per camera-second of the worker's
    MainStreamReader thread receiving it over RTSP from camera_sim and keeping it in the packet ring (the
    one part measured in real time: ``--main-seconds``, once), and of decoding a hit's frame from the
    keyframe before it (median over two GOPs' frames) at ``hits_per_s``."""
    main, sub = stream_files(stream)
    assert sub is not None
    read = measure((load_clip(main), load_clip(sub)), Mode(), MAIN_SECONDS, sub_step(stream))
    per_hit = evidence_decode_ms(main)["cpu_median"]
    return {
        "reader_cpu_ms_per_s": round(read["main_stream_cpu_ms_per_s"], 1),
        "evidence_cpu_ms_per_hit": per_hit,
        "evidence_cpu_ms_per_s": round(per_hit * hits_per_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--loops", type=int, default=5, help="passes over the clip (the median is reported)")
    parser.add_argument(
        "--min-face-px", type=int, help="the camera's smallest face (recognition.min_face_px)"
    )
    parser.add_argument(
        "--full-frame-every",
        type=int,
        help="motion.full_frame_every: analysed frames per whole-frame detection (1: every frame whole)",
    )
    parser.add_argument(
        "--stream", choices=sorted(STREAMS), help="another stream (capacity_streams); '+sub': its sub-stream"
    )
    parser.add_argument("--track-margin", type=float, help="motion.track_margin (face sides)")
    args = parser.parse_args()
    clip = analysed_clip(args.stream)
    raw: dict[str, Any] = {"models_dir": str(SHARED / "models")}
    motion = {"full_frame_every": args.full_frame_every, "track_margin": args.track_margin}
    raw["motion"] = {k: v for k, v in motion.items() if v is not None}
    settings = parse(raw)
    min_face_px = args.min_face_px or int(settings.recognition.min_face_px)
    analyzer = FaceAnalyzer(settings)
    analyzer.load()
    workdir = Path(tempfile.mkdtemp(prefix="camera-cost-"))
    matcher = enrolled(settings, analyzer, workdir)  # Lin-Manuel Miranda and Barack Obama
    passes = [one_pass(clip, settings, analyzer, matcher, min_face_px) for _ in range(args.loops)]
    out = summary(passes, min_face_px, args.stream or "h264-720p (the capacity clip)")
    if args.stream is not None and STREAMS[args.stream].substream is not None:
        hits = (out["hits"] + out["hit_updates"]) / out["seconds_of_video"]
        out["main_stream"] = main_stream_cost(args.stream, hits)
        extra = out["main_stream"]["reader_cpu_ms_per_s"] + out["main_stream"]["evidence_cpu_ms_per_s"]
        out["worker_cpu_ms_per_camera_s_with_main_stream"] = round(
            out["worker_cpu_ms_per_camera_s"] + extra, 1
        )
        out["cameras_per_2_cores"] = int(2000 // out["worker_cpu_ms_per_camera_s_with_main_stream"])
    print(json.dumps(out, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
