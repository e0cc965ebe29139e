"""Safe decoding of uploaded photos: size limits first, pixel limits from the header, then decode.

Only JPEG and PNG are accepted. Their dimensions are read from the file header without decoding, so a
small file claiming a huge image (a decompression bomb) is refused before any pixel memory is allocated.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from pipeline.types import Image

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers that carry the image size (not DHT 0xC4, JPG 0xC8, DAC 0xCC).
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_REDUCTIONS = (8, 4, 2)
_REDUCED_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


class PhotoError(ValueError):
    """A photo that cannot be used: ``photo`` names it (None: the whole request), ``reason`` says why."""

    def __init__(self, photo: str | None, reason: str) -> None:
        super().__init__(f"photo {photo!r}: {reason}" if photo else reason)
        self.photo = photo
        self.reason = reason


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        if length < 2:
            return None
        pos += 2 + length
    return None


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) read from a JPEG or PNG header, or None if it is neither or is malformed."""
    if data.startswith(_PNG_SIGNATURE):
        size = _png_size(data)
        return ("png", *size) if size else None
    if data.startswith(b"\xff\xd8"):
        size = _jpeg_size(data)
        return ("jpeg", *size) if size else None
    return None


def _checked_header(name: str, data: bytes, max_bytes: int, max_pixels: int) -> tuple[str, int, int]:
    """(format, width, height) of an acceptable photo, or PhotoError saying what is wrong with it."""
    if not data:
        raise PhotoError(name, "the file is empty")
    if len(data) > max_bytes:
        raise PhotoError(name, f"the file is {len(data)} bytes; at most {max_bytes} are accepted")
    header = image_size(data)
    if header is None:
        raise PhotoError(name, "not a readable JPEG or PNG image")
    kind, width, height = header
    if width <= 0 or height <= 0:
        raise PhotoError(name, f"the {kind} header gives an empty size {width}x{height}")
    if width * height > max_pixels:
        raise PhotoError(
            name, f"the image is {width}x{height} pixels; at most {max_pixels} pixels are accepted"
        )
    return kind, width, height


def _decoded(name: str, kind: str, data: bytes, flag: int, max_pixels: int) -> Image:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    if image is None or image.size == 0:
        raise PhotoError(name, f"the {kind} data is corrupt and cannot be decoded")
    if image.shape[0] * image.shape[1] > max_pixels:  # guard again after decode (EXIF rotation etc.)
        raise PhotoError(name, f"the decoded image is too large ({image.shape[1]}x{image.shape[0]})")
    return np.ascontiguousarray(image, dtype=np.uint8)


def decode_photo(name: str, data: bytes, max_bytes: int, max_pixels: int) -> Image:
    """A BGR image from JPEG/PNG bytes, or PhotoError saying what is wrong with it."""
    kind, _, _ = _checked_header(name, data, max_bytes, max_pixels)
    return _decoded(name, kind, data, cv2.IMREAD_COLOR, max_pixels)


def jpeg_reduction(kind: str, width: int, height: int, min_side: int) -> int:
    """The largest factor (1, 2, 4 or 8) a JPEG can be decoded smaller by, in the DCT domain (libjpeg
    skips the work for the dropped detail), keeping its longest side at least ``min_side``; 1 for PNG."""
    if kind != "jpeg":
        return 1
    return next((r for r in _REDUCTIONS if max(width, height) >= min_side * r), 1)


def decode_photo_reduced(
    name: str, data: bytes, max_bytes: int, max_pixels: int, min_side: int
) -> tuple[Image, int, tuple[int, int]]:
    """The photo decoded as small as ``jpeg_reduction`` allows for ``min_side``, the factor it was shrunk
    by (1: full size) and the full-size (width, height) as decoded (EXIF rotation applied). The limits
    are checked on the full size, as by ``decode_photo``."""
    kind, width, height = _checked_header(name, data, max_bytes, max_pixels)
    return decode_photo_at(name, data, max_pixels, jpeg_reduction(kind, width, height, min_side))


def decode_photo_at(
    name: str, data: bytes, max_pixels: int, reduction: int
) -> tuple[Image, int, tuple[int, int]]:
    """As ``decode_photo_reduced``, shrunk by ``reduction`` (1, 2, 4 or 8; a JPEG's, else 1)."""
    kind, width, height = _checked_header(name, data, len(data), max_pixels)
    reduction = reduction if kind == "jpeg" else 1
    image = _decoded(name, kind, data, _REDUCED_FLAGS[reduction], max_pixels)
    if reduction == 1:
        return image, 1, (int(image.shape[1]), int(image.shape[0]))
    rotated = (image.shape[1] > image.shape[0]) != (width > height)  # EXIF orientation 5-8
    return image, reduction, ((height, width) if rotated else (width, height))


def encode_jpeg(image: Image, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


def crop_with_margin(image: Image, box: tuple[float, float, float, float], margin: float) -> Image:
    """The box widened by ``margin`` (fraction of its size) on every side, clipped to the image."""
    x, y, w, h = box
    height, width = image.shape[:2]
    x0 = max(0, round(x - w * margin))
    y0 = max(0, round(y - h * margin))
    x1 = min(width, round(x + w * (1 + margin)))
    y1 = min(height, round(y + h * (1 + margin)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {box} lies outside the {width}x{height} image")
    return np.ascontiguousarray(image[y0:y1, x0:x1])
