"""CPU cost of the worker's plate path on the dash-cam clip at 25 frames per second.

The clip (``../shared/media/video/car_plate_KA22P3368.mp4``, 552x530, 29.97 fps, 4.6 s) is decoded once
and sampled at ``--fps`` (a frame every 1/fps s of its timeline), then replayed ``--loops`` times through
the worker's own ``PlateAnalyser`` with the real reader (motion gate, detector, OCR, tracker, pass
vote; reads go to a list instead of NATS). Decoding is not counted: it is the camera source's.

The cost is this thread's CPU time (``time.thread_time``), not wall time, so other jobs on a shared
machine disturb it little: per loop, CPU milliseconds per camera-second (the loop's CPU over the
clip's duration), and the median over loops. ``--still`` replays the clip's first frame instead, a
camera watching a standing scene (what motion gating saves at most); ``--no-gate`` looks at every frame.

    python bench/plate_clip.py [--json] [--fps 25] [--loops 5] [--still] [--no-gate] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.contracts import PlateRead
from pipeline.settings import Settings, parse
from pipeline.types import CameraId, Frame, Image
from workers.plate_analysis import PlateAnalyser
from workers.stats import CameraCounters

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIP = SHARED / "media" / "video" / "car_plate_KA22P3368.mp4"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--fps", type=float, default=25.0, help="frames analysed per second of video")
    parser.add_argument("--loops", type=int, default=5, help="replays of the clip (the median is reported)")
    parser.add_argument("--still", action="store_true", help="replay the first frame: a standing scene")
    parser.add_argument("--no-gate", action="store_true", help="plates.motion.enabled false")
    parser.add_argument(
        "--threads", type=int, default=1, help="onnxruntime threads (plates.intra_op_threads)"
    )
    parser.add_argument(
        "--models-dir", type=Path, default=Path(os.environ.get("SAFECITY_MODELS_DIR", SHARED / "models"))
    )
    return parser.parse_args()


def sampled(clip: Path, fps: float) -> tuple[list[Image], float]:
    """The clip's frames at ``fps`` (by presentation time), BGR, and the clip's duration in seconds."""
    frames: list[Image] = []
    next_t = 0.0
    last_t = 0.0
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            base = stream.time_base
            t = float(frame.pts * base) if frame.pts is not None and base is not None else last_t
            last_t = t
            if t + 1e-6 >= next_t:
                frames.append(np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8))
                next_t += 1.0 / fps
    return frames, len(frames) / fps


def settings_for(args: argparse.Namespace) -> Settings:
    return parse(
        {
            "models_dir": str(args.models_dir),
            "plates": {"intra_op_threads": args.threads, "motion": {"enabled": not args.no_gate}},
        }
    )


def replay(
    settings: Settings, frames: list[Image], fps: float, loop: int
) -> tuple[float, list[PlateRead], Counter[str]]:
    """One pass of the frames through a fresh analyser: CPU seconds, reads, and the gate's decisions."""
    from pipeline.plates.reader import PlateReader

    reader = PlateReader(settings.plates, settings.models_dir)
    reader.load()
    reads: list[PlateRead] = []
    analyser = PlateAnalyser("clip", "bench", settings, reader, CameraCounters("clip"), reads.append)
    step_ns = int(1e9 / fps)
    start_ns = 1_000_000_000 + loop * 3600 * 1_000_000_000
    cpu = time.thread_time()
    for i, image in enumerate(frames):
        analyser.process(Frame(CameraId("clip"), image, received_ns=start_ns + i * step_ns, seq=i))
    analyser.finish()
    return time.thread_time() - cpu, reads, analyser.gate_counts


def main() -> int:
    args = arguments()
    frames, seconds = sampled(args.clip, args.fps)
    if args.still:
        frames = [frames[0]] * len(frames)
    settings = settings_for(args)
    per_loop: list[float] = []
    texts: list[list[str]] = []
    gates: Counter[str] = Counter()
    for loop in range(args.loops):
        cpu_s, reads, gate = replay(settings, frames, args.fps, loop)
        per_loop.append(cpu_s * 1000 / seconds)
        texts.append([r.text for r in reads])
        gates.update(gate)
    out: dict[str, Any] = {
        "clip": args.clip.name,
        "fps": args.fps,
        "frames": len(frames),
        "seconds": round(seconds, 2),
        "loops": args.loops,
        "motion_gate": not args.no_gate,
        "still": args.still,
        "threads": args.threads,
        "cpu_ms_per_camera_s": round(statistics.median(per_loop), 1),
        "cpu_ms_per_camera_s_loops": [round(v, 1) for v in per_loop],
        "cpu_ms_per_frame": round(statistics.median(per_loop) / args.fps, 2),
        "frames_looked_at": round(sum(v for k, v in gates.items() if k != "still") / args.loops, 1),
        "gate": {k: round(v / args.loops, 1) for k, v in sorted(gates.items())},
        "reads": texts[0],
        "reads_every_loop_alike": all(t == texts[0] for t in texts),
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key:>28}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
