"""Synthetic fingerprints after SFinGe (Cappelli, Maio, Maltoni): a master print per finger, grown by
iterated oriented Gabor filtering of noise along an orientation field given by the finger's singular
points in the Sherlock-Monro zero-pole model; then impressions of it, each with its own rotation,
translation, mild elastic distortion, contact area (partial crop) and noise.

The tests and the parameter choice use these, since no real fingerprints come with the package
registries; a master print's minutiae arise where the filtering bends ridges into endings and forks,
as in SFinGe.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from safecity_afis.gabor import oriented_filter

MASTER = 400
SIZE = 320


@dataclass
class Finger:
    ridges: np.ndarray  # float32 in [-1, 1], ridges positive, MASTER x MASTER
    period: float


def orientation(size: int, cores: list[complex], deltas: list[complex], theta0: float) -> np.ndarray:
    """Sherlock-Monro: theta(z) = theta0 + (sum arg(z - delta) - sum arg(z - core)) / 2."""
    y, x = np.mgrid[0:size, 0:size]
    z = x + 1j * y
    theta = np.full((size, size), theta0, np.float64)
    for d in deltas:
        theta += np.angle(z - d) / 2
    for c in cores:
        theta -= np.angle(z - c) / 2
    return np.mod(theta, np.pi)


def _singular_points(rng: np.random.Generator) -> tuple[list[complex], list[complex]]:
    c = MASTER / 2

    def j(s: float) -> complex:
        return complex(rng.normal(0, s), rng.normal(0, s))

    kind = rng.choice(["left", "right", "whorl", "tented"], p=[0.33, 0.33, 0.24, 0.10])
    if kind == "whorl":
        return [complex(c - 20, c - 20) + j(8), complex(c + 20, c + 20) + j(8)], [
            complex(c - 150, c + 130) + j(15),
            complex(c + 150, c + 130) + j(15),
        ]
    if kind == "tented":
        return [complex(c, c - 40) + j(10)], [complex(c, c + 60) + j(10)]
    side = -1 if kind == "left" else 1
    return [complex(c, c - 30) + j(20)], [complex(c + side * 110, c + 120) + j(20)]


def master(rng: np.random.Generator, iterations: int = 10) -> Finger:
    """A finger's master print: noise filtered again and again along its orientation field."""
    cores, deltas = _singular_points(rng)
    theta = orientation(MASTER, cores, deltas, rng.normal(0, 0.15))
    period = float(rng.uniform(8.5, 10.0))
    img = (rng.random((MASTER, MASTER)) < 0.01).astype(np.float32) * rng.choice([-1.0, 1.0], (MASTER, MASTER))
    for _ in range(iterations):
        img = oriented_filter(img, theta, period, period * 0.45)
        img = np.clip(img / (np.abs(img).max() + 1e-9) * 3.0, -1, 1)
    return Finger(img.astype(np.float32), period)


def impression(finger: Finger, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """One touch of the finger: a SIZE x SIZE uint8 grayscale image, dark ridges on a light ground."""
    ang = np.deg2rad(rng.uniform(-15, 15) * strength)
    shift = rng.uniform(-15, 15, 2) * strength
    c = (MASTER - 1) / 2
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    u = xx - (SIZE - 1) / 2 - shift[0]
    v = yy - (SIZE - 1) / 2 - shift[1]
    sx = np.cos(ang) * u + np.sin(ang) * v + c
    sy = -np.sin(ang) * u + np.cos(ang) * v + c
    for grid in (sx, sy):  # elastic distortion: a smooth random displacement of a few pixels
        field = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32), (0, 0), 40)
        grid += field / (np.abs(field).max() + 1e-9) * 3.0 * strength
    ridges = cv2.remap(
        finger.ridges, sx.astype(np.float32), sy.astype(np.float32), cv2.INTER_LINEAR, borderValue=0.0
    )
    contact = _contact(rng, strength)
    gray = 200 - 150 * np.clip(ridges * rng.uniform(0.7, 1.0), 0, 1) * contact
    gray += rng.normal(0, 12, gray.shape)
    gray = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 0.8)
    return np.asarray(np.clip(gray, 0, 255), np.uint8)


def _contact(rng: np.random.Generator, strength: float) -> np.ndarray:
    """The area the finger touched: an ellipse, sometimes cut by a straight edge (a partial print)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cx, cy = SIZE / 2 + rng.normal(0, 8, 2)
    ax, ay = rng.uniform(0.42, 0.5) * SIZE, rng.uniform(0.5, 0.6) * SIZE
    inside = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1
    if rng.random() < 0.5 * strength:
        a = rng.uniform(0, 2 * np.pi)
        cut = (xx - SIZE / 2) * np.cos(a) + (yy - SIZE / 2) * np.sin(a) < rng.uniform(0.25, 0.4) * SIZE
        inside &= cut
    return np.asarray(inside, np.float32)
