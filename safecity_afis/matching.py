"""Minutia matching: align two prints by a Hough transform over rotation and translation (every pair of
minutiae votes for the rotation of their angles and the shift that then brings one onto the other), then
pair minutiae within distance and angle tolerances under the best alignments; the score grows with the
pairs, normalised by both prints' minutiae: 100 * pairs^2 / (n_probe * n_gallery).
"""

from __future__ import annotations

import numpy as np

MAX_ROTATION = np.deg2rad(45)
ROT_BIN = np.deg2rad(6)
SHIFT_BIN = 12.0
PEAKS = 6
PAIR_DISTANCE = 12.0
PAIR_ANGLE = np.deg2rad(20)


def _wrap(a: np.ndarray) -> np.ndarray:
    """Angles mod pi into (-pi/2, pi/2]."""
    return (a + np.pi / 2) % np.pi - np.pi / 2


def _peaks(probe: np.ndarray, gallery: np.ndarray) -> list[tuple[float, float, float]]:
    """The most voted (rotation, dx, dy) of the Hough accumulator."""
    rot = _wrap(gallery[None, :, 2] - probe[:, None, 2])
    cos, sin = np.cos(rot), np.sin(rot)
    px, py = probe[:, None, 0], probe[:, None, 1]
    dx = gallery[None, :, 0] - (cos * px - sin * py)
    dy = gallery[None, :, 1] - (sin * px + cos * py)
    keep = np.abs(rot) <= MAX_ROTATION
    r, x, y = rot[keep], dx[keep], dy[keep]
    if r.size == 0:
        return []
    keys = np.stack([np.round(r / ROT_BIN), np.round(x / SHIFT_BIN), np.round(y / SHIFT_BIN)], axis=1)
    _cells, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    best = np.argsort(-counts)[:PEAKS]
    out = []
    for b in best:
        sel = inverse.ravel() == b  # the cell's mean alignment, finer than its bin
        out.append((float(r[sel].mean()), float(x[sel].mean()), float(y[sel].mean())))
    return out


def _pairs(probe: np.ndarray, gallery: np.ndarray, rot: float, dx: float, dy: float) -> int:
    """Minutiae paired one-to-one (nearest first) once the probe is moved onto the gallery print."""
    c, s = np.cos(rot), np.sin(rot)
    x = c * probe[:, 0] - s * probe[:, 1] + dx
    y = s * probe[:, 0] + c * probe[:, 1] + dy
    d = np.hypot(x[:, None] - gallery[None, :, 0], y[:, None] - gallery[None, :, 1])
    da = np.abs(_wrap(probe[:, None, 2] + rot - gallery[None, :, 2]))
    d[(d > PAIR_DISTANCE) | (da > PAIR_ANGLE)] = np.inf
    paired = 0
    while np.isfinite(d).any():
        i, j = np.unravel_index(np.argmin(d), d.shape)
        d[i, :] = np.inf
        d[:, j] = np.inf
        paired += 1
    return paired


def score(probe: np.ndarray, gallery: np.ndarray) -> float:
    """Similarity of two minutia sets ((n, >=3): x, y, angle): 0 (nothing in common) to 100."""
    if len(probe) < 3 or len(gallery) < 3:
        return 0.0
    best = max((_pairs(probe, gallery, *p) for p in _peaks(probe, gallery)), default=0)
    return 100.0 * best * best / (len(probe) * len(gallery))


# Chosen on a separate seed set of synthetic fingers (seed 1000, 15 fingers: genuine scores 45-85,
# impostor scores at most 25), never on the test fingers.
THRESHOLD = 35.0
