"""Camera clips made at test time from still photos: a camera slowly closing in on a parked car."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from camera_sim.transcode import camera_stream

SIZE = (1280, 720)


def zoom_frames(photo: np.ndarray, focus: tuple[float, float], frames: int, zoom: float) -> list[np.ndarray]:
    """``frames`` views of ``photo`` (BGR) at ``SIZE``, from the whole photo to ``zoom`` times closer on
    the point ``focus`` (pixels), as a camera's operator zooming in: the plate grows and moves."""
    height, width = photo.shape[:2]
    out = []
    for i in range(frames):
        scale = 1.0 + (zoom - 1.0) * i / max(1, frames - 1)
        w, h = width / scale, height / scale
        x = float(np.clip(focus[0] - w / 2, 0, width - w))
        y = float(np.clip(focus[1] - h / 2, 0, height - h))
        matrix = np.array([[SIZE[0] / w, 0, -x * SIZE[0] / w], [0, SIZE[1] / h, -y * SIZE[1] / h]])
        out.append(cv2.warpAffine(photo, matrix, SIZE, flags=cv2.INTER_AREA))
    return out


def write_clip(frames: list[np.ndarray], target: Path, fps: int, size: tuple[int, int] = SIZE) -> Path:
    """``frames`` (BGR, ``size``) as an H.264 file the camera simulator replays as it is."""
    with av.open(str(target), "w") as dst:
        out = camera_stream(dst, Fraction(fps), *size)
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
            frame.pts = index
            for packet in out.encode(frame):
                dst.mux(packet)
        for packet in out.encode(None):
            dst.mux(packet)
    return target


def plate_clip(photo: Path, box: tuple[float, float, float, float], target: Path) -> Path:
    """Ten seconds at 10 fps closing in 1.3 times on the plate in ``box`` (x, y, w, h) of ``photo``: long
    enough that a worker still starting when the clip begins reads the plate in several frames."""
    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(photo)
    x, y, w, h = box
    return write_clip(zoom_frames(image, (x + w / 2, y + h / 2), 100, 1.3), target, 10)
