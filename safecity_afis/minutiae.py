"""Minutiae of a fingerprint image: ridge endings and bifurcations with their positions and angles.

The published pipeline (Hong, Wan and Jain 1998; Maltoni et al., Handbook of Fingerprint Recognition):
normalise; segment the print from the background by local variance; the ridge orientation field from
smoothed gradient moments (doubled angles); the ridge frequency from the spectrum of the print; oriented
Gabor enhancement at that frequency; binarisation; Zhang-Suen thinning; crossing numbers on the
skeleton (1: ending, 3: bifurcation); then minutiae near the print's border and close pairs (broken
ridges, spurs, bridges) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from safecity_afis.gabor import oriented_filter

ENDING, BIFURCATION = 1, 3
BLOCK = 16
BORDER = 14  # pixels kept clear of the print's edge
SPURIOUS = 8  # minutiae closer than this are a broken ridge, a spur or a bridge


class ImageError(ValueError):
    """An image that holds no usable print."""


@dataclass
class Print:
    minutiae: np.ndarray  # (n, 4) float32: x, y, angle (radians, mod pi), kind (1 ending, 3 bifurcation)
    period: float
    area: int  # pixels of print


def decode_image(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ImageError("not a PNG or JPEG image")
    if min(img.shape) < 96:
        raise ImageError(f"the image is too small ({img.shape[1]}x{img.shape[0]}); a print needs >= 96 px")
    return img


def segment(img: np.ndarray) -> np.ndarray:
    """The print's area: blocks whose grey levels vary like ridges do, closed and shrunk from the edge."""
    f = img.astype(np.float32)
    mean = cv2.blur(f, (BLOCK, BLOCK))
    std = np.sqrt(np.maximum(cv2.blur(f * f, (BLOCK, BLOCK)) - mean * mean, 0))
    mask = (std > 0.35 * np.percentile(std, 95)).astype(np.uint8)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * BLOCK + 1, 2 * BLOCK + 1))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, disk)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, disk)
    return mask.astype(bool)


def orientation_field(norm: np.ndarray, sigma: float = 7.0) -> np.ndarray:
    """Ridge orientation per pixel (radians, mod pi) from gradient moments in doubled angles."""
    gx = cv2.Sobel(norm, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(norm, cv2.CV_32F, 0, 1, ksize=3)
    gxx = cv2.GaussianBlur(gx * gx, (0, 0), sigma)
    gyy = cv2.GaussianBlur(gy * gy, (0, 0), sigma)
    gxy = cv2.GaussianBlur(gx * gy, (0, 0), sigma)
    # the gradient runs across the ridges: the ridges run at its angle plus pi/2
    return np.asarray(np.mod(0.5 * np.arctan2(2 * gxy, gxx - gyy) + np.pi / 2, np.pi), np.float32)


def ridge_period(norm: np.ndarray, mask: np.ndarray) -> float:
    """The dominant ridge period in pixels: the peak of the print's power spectrum in 5-16 px."""
    win = np.where(mask, norm, 0).astype(np.float32)
    spec = np.abs(np.fft.fftshift(np.fft.fft2(win))) ** 2
    h, w = spec.shape
    yy, xx = np.mgrid[0:h, 0:w]
    radius = np.hypot((yy - h // 2) / h, (xx - w // 2) / w)  # cycles per pixel
    band = (radius > 1 / 16) & (radius < 1 / 5)
    if not band.any():
        return 9.0
    radii = radius[band]
    power = spec[band]
    hist, edges = np.histogram(radii, bins=40, weights=power)
    peak = 0.5 * (edges[np.argmax(hist)] + edges[np.argmax(hist) + 1])
    return float(np.clip(1 / peak, 5, 16))


def zhang_suen(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning (1984) of a boolean image, both sub-iterations vectorised."""
    img = np.pad(binary.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = _neighbours(img)
            p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
            b = sum(p)
            seq = [*p, p2]
            a = sum(((seq[i] == 0) & (seq[i + 1] == 1)).astype(np.uint8) for i in range(8))
            if step == 0:
                c1, c2 = p2 * p4 * p6, p4 * p6 * p8
            else:
                c1, c2 = p2 * p4 * p8, p2 * p6 * p8
            core = img[1:-1, 1:-1]
            kill = (core == 1) & (b >= 2) & (b <= 6) & (a == 1) & (c1 == 0) & (c2 == 0)
            if kill.any():
                core[kill] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _neighbours(img: np.ndarray) -> list[np.ndarray]:
    """P2..P9 of each inner pixel of a padded image, clockwise from north."""
    h, w = img.shape[0] - 2, img.shape[1] - 2
    offsets = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]
    return [img[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w].astype(np.int32) for dy, dx in offsets]


def enhance(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The Gabor-enhanced print (ridges positive), its mask, orientation field and ridge period."""
    f = img.astype(np.float32)
    mask = segment(img)
    if mask.sum() < 64 * 64:
        raise ImageError("no fingerprint found: too little of the image shows ridges")
    mean = cv2.GaussianBlur(f, (0, 0), 8)
    std = np.sqrt(np.maximum(cv2.GaussianBlur((f - mean) ** 2, (0, 0), 8), 1e-3))
    norm = -(f - mean) / std  # dark ridges become positive
    theta = orientation_field(norm)
    period = ridge_period(norm, mask)
    enhanced = oriented_filter(norm, theta, period, 0.5 * period)
    return enhanced, mask, theta, period


def extract(img: np.ndarray) -> Print:
    """The minutiae of a grayscale print."""
    enhanced, mask, theta, period = enhance(img)
    skeleton = zhang_suen((enhanced > 0) & mask)
    square = np.ones((2 * BORDER + 1, 2 * BORDER + 1), np.uint8)
    inner = cv2.erode(mask.astype(np.uint8), square, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    sk = np.pad(skeleton.astype(np.uint8), 1)
    p = _neighbours(sk)
    crossings = sum(np.abs(p[i] - p[(i + 1) % 8]) for i in range(8)) // 2
    found = []
    for kind in (ENDING, BIFURCATION):
        ys, xs = np.nonzero(skeleton & (crossings == kind) & inner)
        found += [(float(x), float(y), float(theta[y, x]), float(kind)) for x, y in zip(xs, ys, strict=True)]
    pts = np.array(found, np.float32).reshape(-1, 4)
    return Print(_drop_spurious(pts, max(SPURIOUS, 0.9 * period)), period, int(mask.sum()))


def _drop_spurious(pts: np.ndarray, near: float) -> np.ndarray:
    """Drop both minutiae of every pair closer than ``near``: a broken ridge (two facing endings), a
    spur (ending by a fork) or a bridge (two forks) leaves such pairs; true minutiae lie further apart."""
    if len(pts) < 2:
        return pts
    d = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
    np.fill_diagonal(d, np.inf)
    return np.asarray(pts[(d >= near).all(axis=1)], np.float32)
