"""Crafted OCR output for plate tests: (T, 37) probability matrices over ``PLATE_ALPHABET``."""

from __future__ import annotations

import numpy as np

from pipeline.plates.alphabet import PLATE_ALPHABET


def probs(steps: list[dict[str, float]]) -> np.ndarray:
    """A (T, 37) probability matrix from per-step {symbol: probability}; the rest goes to the blank."""
    out = np.zeros((len(steps), len(PLATE_ALPHABET)), np.float32)
    for t, step in enumerate(steps):
        for symbol, p in step.items():
            out[t, PLATE_ALPHABET.index(symbol)] = p
        out[t, 0] += 1.0 - out[t].sum()
    return out


def reading(text: str, doubts: dict[int, dict[str, float]] | None = None, sure: float = 0.99) -> np.ndarray:
    """The network reading ``text`` one character per step with a blank between; character i's step
    uses ``doubts[i]`` instead of ``sure`` certainty when given."""
    steps: list[dict[str, float]] = [{}]
    for i, char in enumerate(text):
        steps.append((doubts or {}).get(i, {char: sure}))
        steps.append({})
    return probs(steps)
