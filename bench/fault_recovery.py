"""How long the worker takes to analyse frames again after each camera fault camera_sim can inject.

One simulator serves the Hamilton clip (640x360, 29.97 fps, a keyframe every ~2 s) as one camera per
fault; on each, the worker's own RtspSource and CameraRunner threads read and analyse it at the shipped
settings (5 fps analysed, 2 s read timeout, reconnects after 0.5 s doubling to 2 s). The fault is
injected ``--repeat`` times in a row per camera (the cameras side by side), each once frames are
analysed again; recovery is the time from the fault's end to the analysis of the first frame sent after
it at the camera's own size (tests/workers/fault_watch.py). Fault durations are those of the tests:
drop 2 s, stall 5 s, corrupt 2 s (1 % of slice bytes), resolution 3 s (240 lines), half_fps 2 s,
skew 2 s (+60 s).

    python bench/fault_recovery.py [--json] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camera_sim.clip import load_clip
from camera_sim.server import CameraSimulator, SimCamera
from tests.services import SHARED
from tests.workers.fault_watch import FAULTS, Recovery, WatchedCamera, measure


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=3, help="faults of each kind (default 3)")
    return parser.parse_args()


def run_camera(sim: CameraSimulator, kind: str, repeat: int, out: dict[str, list[Recovery]]) -> None:
    camera_id = f"cam-{kind.replace('_', '-')}"
    watched = WatchedCamera(sim.url(camera_id), camera_id)
    watched.start()
    try:
        out[kind] = [measure(sim, camera_id, watched, FAULTS[kind]) for _ in range(repeat)]
    finally:
        watched.close()


def main() -> int:
    args = arguments()
    clip = load_clip(SHARED / "media" / "video" / "hamilton_whitehouse_clip.mp4")
    results: dict[str, list[Recovery]] = {}
    with tempfile.TemporaryDirectory(prefix="fault-bench-") as cache:
        cameras = [SimCamera(f"cam-{kind.replace('_', '-')}", clip) for kind in FAULTS]
        with CameraSimulator(cameras, port=0, cache_dir=Path(cache)) as sim:
            threads = [
                threading.Thread(target=run_camera, args=(sim, kind, args.repeat, results)) for kind in FAULTS
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    runs = {kind: [r.seconds for r in results.get(kind, [])] for kind in FAULTS}
    report: dict[str, Any] = {
        "recovery_s": {
            kind: round(statistics.median(s), 2) if s and None not in s else None for kind, s in runs.items()
        },
        "runs_s": {kind: [None if s is None else round(s, 2) for s in r] for kind, r in runs.items()},
        "reconnects": {kind: [r.reconnects for r in results.get(kind, [])] for kind in FAULTS},
        "faults": FAULTS,
        "repeat": args.repeat,
        "clip": "hamilton_whitehouse_clip.mp4 640x360 29.97 fps, keyframe every ~2 s",
    }
    if args.json:
        print(json.dumps(report))
    else:
        for kind, median in report["recovery_s"].items():
            print(f"{kind:>10}: median {median} s back to analysed frames (runs {report['runs_s'][kind]})")
    return 0 if all(v is not None for v in report["recovery_s"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
