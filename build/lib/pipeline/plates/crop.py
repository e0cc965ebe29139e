"""Plate crops for OCR: perspective-corrected from four corners, or deskewed from an axis-aligned box."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.types import Image

FloatArray = npt.NDArray[np.float32]


def expand_quad(quad: FloatArray, pad_x: float, pad_y: float) -> FloatArray:
    """Corners (TL, TR, BR, BL) moved outwards along the quad's own axes by fractions of its size."""
    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    across = ((q[1] - q[0]) + (q[2] - q[3])) / 2  # left → right
    down = ((q[3] - q[0]) + (q[2] - q[1])) / 2  # top → bottom
    dx, dy = across * pad_x, down * pad_y
    return np.stack([q[0] - dx - dy, q[1] + dx - dy, q[2] + dx + dy, q[3] - dx + dy]).astype(np.float32)


def quad_size(quad: FloatArray) -> tuple[float, float]:
    """Mean width (top and bottom edges) and height (left and right edges) of a quad."""
    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    width = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
    height = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
    return float(width), float(height)


def warp_quad(image: Image, quad: FloatArray, out_height: int, stretch: float = 1.0) -> Image:
    """The quad's content as an upright rectangle ``out_height`` high, its width from the quad's aspect
    ratio times ``stretch``; pixels outside the image repeat the border."""
    width, height = quad_size(quad)
    out_w = max(8, round(out_height * stretch * width / max(height, 1.0)))
    # Warp at (at least) the plate's own resolution, then shrink with area averaging: no aliasing.
    scale = max(1.0, height / out_height)
    native = (max(8, round(out_w * scale)), max(8, round(out_height * scale)))
    target = np.array([[0, 0], [native[0], 0], [native[0], native[1]], [0, native[1]]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(np.asarray(quad, np.float32).reshape(4, 2), target)
    warped = cv2.warpPerspective(
        image, matrix, native, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    if scale > 1.0:
        warped = cv2.resize(warped, (out_w, out_height), interpolation=cv2.INTER_AREA)
    return np.asarray(warped, dtype=np.uint8)


OCR_HEIGHT = 48
# Fractions of the plate's width / height added on each side (negative trims). Trimming a tenth at top and
# bottom drops most state names and slogans; the full-height and the stretched crops are read as well.
_BASE_PAD = (0.03, -0.1)
_TALL_PAD = (0.03, 0.0)
_STRETCH = 1.5
_GAP_RATIO = 0.35
_ROW_HEIGHT_RATIO = 0.6
VARIANTS = ("base", "tall", "stretched", "gray")
"""Crop variants read per plate, in the order ``crop_variants`` returns them."""


def crop_variants(image: Image, quad: FloatArray, count: int) -> list[Image]:
    """The first ``count`` of: base crop, full-height crop, 1.5x horizontally stretched, grey-scale.

    All are upright (perspective-corrected when ``quad`` comes from a detector's corners) and 48 px high.
    """
    base_quad = expand_quad(quad, *_BASE_PAD)
    base = warp_quad(image, base_quad, OCR_HEIGHT)
    out = [base]
    if count > 1:
        out.append(warp_quad(image, expand_quad(quad, *_TALL_PAD), OCR_HEIGHT))
    if count > 2:
        out.append(warp_quad(image, base_quad, OCR_HEIGHT, stretch=_STRETCH))
    if count > 3:
        grey = cv2.cvtColor(base, cv2.COLOR_BGR2GRAY)
        out.append(np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), dtype=np.uint8))
    return out[:count]


def two_line(image: Image, quad: FloatArray) -> Image | None:
    """A two-row plate re-laid as one line (top row left of the bottom row, both 48 px high), or None when
    the plate shows no two rows: the rows are split at the quietest pixel row between 30% and 70% of the
    height, which must carry well under half the stroke energy of the rows of text above and below it."""
    plate = warp_quad(image, expand_quad(quad, *_TALL_PAD), OCR_HEIGHT * 2)
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY).astype(np.float32)
    inner = slice(int(plate.shape[1] * 0.08), max(1, int(plate.shape[1] * 0.92)))  # not the plate's rim
    energy = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3))[:, inner].mean(axis=1)
    low, high = int(plate.shape[0] * 0.3), int(plate.shape[0] * 0.7)
    split = low + int(np.argmin(energy[low:high]))
    above, below = energy[:split], energy[split:]
    text_level = min(float(np.percentile(above, 80)), float(np.percentile(below, 80)))
    if energy[split] > _GAP_RATIO * text_level:
        return None
    # Both rows carry characters of about the same height (not a state name over the number).
    top_h = int((above > 0.5 * above.max()).sum())
    bottom_h = int((below > 0.5 * below.max()).sum())
    if min(top_h, bottom_h) < _ROW_HEIGHT_RATIO * max(top_h, bottom_h):
        return None
    rows = []
    for part in (plate[:split], plate[split:]):
        width = max(8, round(part.shape[1] * OCR_HEIGHT / max(part.shape[0], 1)))
        rows.append(cv2.resize(part, (width, OCR_HEIGHT), interpolation=cv2.INTER_AREA))
    gap = np.full((OCR_HEIGHT, OCR_HEIGHT // 3, 3), np.median(plate, axis=(0, 1)), dtype=np.uint8)
    return np.ascontiguousarray(np.hstack([rows[0], gap, rows[1]]), dtype=np.uint8)
