"""An oriented Gabor filter bank, shared by the synthesis of prints and the enhancement before minutiae:
an image filtered at each pixel by the kernel of that pixel's ridge orientation (quantised in bins)."""

from __future__ import annotations

import cv2
import numpy as np

BINS = 16


def kernel(theta: float, period: float, sigma: float) -> np.ndarray:
    """Even-symmetric Gabor kernel for ridges running along ``theta`` (radians) with ``period`` pixels."""
    half = int(np.ceil(3 * sigma))
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    across = -x * np.sin(theta) + y * np.cos(theta)  # distance across the ridges
    k = np.exp(-(x * x + y * y) / (2 * sigma * sigma)) * np.cos(2 * np.pi * across / period)
    k -= k.mean()  # no response to a flat area
    return np.asarray(k / np.abs(k).sum(), np.float32)


def oriented_filter(image: np.ndarray, theta: np.ndarray, period: float, sigma: float) -> np.ndarray:
    """Each pixel filtered by the kernel of its own orientation (``theta`` per pixel, mod pi)."""
    bins = np.round((np.mod(theta, np.pi) / np.pi) * BINS).astype(np.int32) % BINS
    out = np.zeros(image.shape, np.float32)
    src = image.astype(np.float32)
    for b in range(BINS):
        where = bins == b
        if where.any():
            resp = cv2.filter2D(src, cv2.CV_32F, kernel(b * np.pi / BINS, period, sigma))
            out[where] = resp[where]
    return out
