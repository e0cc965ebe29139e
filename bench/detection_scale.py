"""Faces found per track when a camera's frames are detected at the size its smallest face needs,
against the old fixed size (longest side 1280 px).

For each shared clip, frames sampled at the worker's analysis rate are detected twice with the real
detector: at the reference size (``detect_max_side`` 1280, frames never enlarged) and at the size a
camera's ``min_face_px`` asks for (default ``recognition.min_face_px``). The reference faces are tracked
with the worker's tracker; a reference face is *found* at the new size when a face there overlaps it
(IoU >= 0.5). Counted per track and per clip, as JSON: the faces of at least ``recognition.min_face_px``
(the only ones the quality gates let through to recognition), those smaller, the faces passing every
quality gate at each size, the faces found only at the new size, and the detection CPU per frame.

    python bench/detection_scale.py [--min-face-px 24 ...] [--fps 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.detections import FaceDetections, box_iou
from pipeline.face import FaceAnalyzer
from pipeline.models.yunet import detection_scale
from pipeline.settings import Settings, parse
from tests.services import SHARED
from workers.quality import QualityGate
from workers.tracking import NO_TRACK, NorfairTracker

VIDEO = SHARED / "media/video"
REFERENCE_SIDE = 1280
MIN_IOU = 0.5


def clips(fps: float) -> dict[str, list[np.ndarray]]:
    """The shared face clips at ``fps``, and the Hamilton clip at 1280x720 as the capacity bench plays it."""
    out: dict[str, list[np.ndarray]] = {}
    for name in ("hamilton_whitehouse_clip.mp4", "six_people_group.mp4"):
        with av.open(str(VIDEO / name)) as container:
            rate = float(container.streams.video[0].average_rate or 30)
            step = max(1, round(rate / fps))
            out[name] = [
                f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(video=0)) if i % step == 0
            ]
    out["hamilton_720p (upscaled)"] = [
        cv2.resize(f, (1280, 720)) for f in out["hamilton_whitehouse_clip.mp4"]
    ]
    return out


def timed_detect(
    analyzer: FaceAnalyzer, image: np.ndarray, min_face_px: int | None
) -> tuple[FaceDetections, float]:
    """Faces as a camera finds them (``min_face_px``) or at the reference size (None: detect_max_side)."""
    started = time.thread_time()
    found = analyzer.detect(image, min_face_px)
    return found, (time.thread_time() - started) * 1e3


def compare(
    settings: Settings, analyzer: FaceAnalyzer, frames: list[np.ndarray], min_face_px: int
) -> dict[str, Any]:
    gate = QualityGate(settings.quality, settings.recognition.min_face_px)
    smallest = settings.recognition.min_face_px
    tracker = NorfairTracker(settings.tracking)
    tracks: dict[int, dict[str, int]] = {}
    cost = {"reference": 0.0, "new": 0.0}
    gained = 0  # faces of at least the smallest size found at the new size and not at the reference
    height, width = frames[0].shape[:2]
    ref_scale = min(1.0, REFERENCE_SIDE / max(height, width))
    new_scale = detection_scale(width, height, min_face_px, settings.recognition.detect_max_side)
    for image in frames:
        reference, ms = timed_detect(analyzer, image, None)
        cost["reference"] += ms
        new, ms = timed_detect(analyzer, image, min_face_px)
        cost["new"] += ms
        ids = tracker.update(reference.boxes, reference.scores).ids
        gained += sum(
            1
            for box in new.boxes[new.sides >= smallest]
            if not len(reference) or box_iou(reference.boxes, box).max() < MIN_IOU
        )
        analysable_new = {i for i, q in enumerate(gate.assess(image, new)) if q.accepted}
        for i, quality in enumerate(gate.assess(image, reference)):
            track = int(ids[i]) if ids[i] != NO_TRACK else -1
            row = tracks.setdefault(track, dict.fromkeys(
                ("faces", "found", "small_faces", "small_found", "analysable", "analysable_found"), 0
            ))  # fmt: skip
            overlap = box_iou(new.boxes, reference.boxes[i]) if len(new) else np.zeros(0, np.float32)
            match = int(np.argmax(overlap)) if len(overlap) and overlap.max() >= MIN_IOU else None
            size = "faces" if reference.sides[i] >= smallest else "small_faces"
            row[size] += 1
            row["found" if size == "faces" else "small_found"] += match is not None
            if quality.accepted:
                row["analysable"] += 1
                row["analysable_found"] += match in analysable_new
    totals = {key: sum(row[key] for row in tracks.values()) for key in next(iter(tracks.values()), {})}
    return {
        "frames": len(frames),
        "size": [width, height],
        "detected_at": {
            "reference": [round(width * ref_scale), round(height * ref_scale)],
            "new": [round(width * new_scale), round(height * new_scale)],
        },
        "detect_cpu_ms_per_frame": {k: round(v / len(frames), 2) for k, v in cost.items()},
        "totals": totals,
        "faces_lost": totals.get("faces", 0) - totals.get("found", 0),
        "faces_gained": gained,
        "tracks_losing_a_face": sum(1 for row in tracks.values() if row["found"] < row["faces"]),
        "tracks_lost": sum(1 for row in tracks.values() if row["faces"] and not row["found"]),
        "analysable_faces_lost": totals.get("analysable", 0) - totals.get("analysable_found", 0),
        "tracks": {str(track): row for track, row in sorted(tracks.items())},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-face-px", type=int, nargs="+", default=[parse({}).recognition.min_face_px])
    parser.add_argument("--fps", type=float, default=5.0, help="frames sampled per second of video")
    args = parser.parse_args()
    settings = parse({"recognition": {"detect_max_side": REFERENCE_SIDE}})
    analyzer = FaceAnalyzer(settings)
    analyzer.load()
    videos = clips(args.fps)
    report = {
        str(min_face_px): {
            name: compare(settings, analyzer, frames, min_face_px) for name, frames in videos.items()
        }
        for min_face_px in args.min_face_px
    }
    print(json.dumps({"reference_side": REFERENCE_SIDE, "min_face_px": report}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
