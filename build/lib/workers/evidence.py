"""Evidence images for a hit: the face crop and a downscaled scene, as JPEG."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.types import Image


def encode_jpeg(image: Image, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf)


def face_crop(image: Image, box: tuple[float, float, float, float], margin: float) -> Image:
    """The face box grown by ``margin`` on each side, clipped to the frame."""
    x, y, w, h = box
    height, width = image.shape[:2]
    x0 = int(max(0, np.floor(x - w * margin)))
    y0 = int(max(0, np.floor(y - h * margin)))
    x1 = int(min(width, np.ceil(x + w * (1 + margin))))
    y1 = int(min(height, np.ceil(y + h * (1 + margin))))
    if x1 <= x0 or y1 <= y0:
        raise ValueError("face box lies outside the frame")
    return image[y0:y1, x0:x1]


def downscale(image: Image, max_side: int) -> Image:
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized: Image = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.uint8, copy=False)
    return resized
