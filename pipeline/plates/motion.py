"""Motion gating before plate detection: look for plates only where the picture changed.

A plate camera at 25 frames per second mostly watches an empty or standing road. ``MotionGate.decide``
compares a small grey copy of each frame with the copy of the frame last looked at: where nothing changed
the detector is skipped (what it found last still stands, and the tracker keeps its tracks as they are);
where something did, it looks only in the changed areas, grown by a margin so that a plate on a moving
vehicle is inside; the whole frame is looked at again at least every ``keepalive_s`` (a vehicle that
crept in below the threshold, a plate the last look missed) and when the changes cover most of it.
Comparing with the frame last looked at, not the previous one, lets slow motion add up.

Pure: no I/O, one instance per camera thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.settings.plates import PlateMotionSettings
from pipeline.types import Image

Region = tuple[int, int, int, int]  # x, y, w, h in frame pixels
_GRID = 160  # samples across the small copy: enough to outline a vehicle, ~0.1 ms to take at 1080p


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether to detect on this frame, and where: ``regions`` None is the whole frame."""

    detect: bool
    regions: list[Region] | None = None
    reason: str = "motion"  # first | keepalive | motion | still | widespread | disabled


SKIP = GateDecision(False, None, "still")


class MotionGate:
    def __init__(self, settings: PlateMotionSettings) -> None:
        self._settings = settings
        self._reference: npt.NDArray[np.int16] | None = None
        self._stride = 1
        self._last_look_ns: int | None = None

    def decide(self, image: Image, now_ns: int) -> GateDecision:
        opts = self._settings
        if not opts.enabled:
            return GateDecision(True, None, "disabled")
        small = self._sample(image)
        if self._reference is None or self._reference.shape != small.shape or self._last_look_ns is None:
            return self._look(small, now_ns, GateDecision(True, None, "first"))
        if now_ns - self._last_look_ns >= opts.keepalive_s * 1e9:
            return self._look(small, now_ns, GateDecision(True, None, "keepalive"))
        changed = np.abs(small - self._reference) > opts.pixel_threshold
        if changed.mean() < opts.min_changed:
            return SKIP  # the reference stays: slow changes add up until they count
        regions = self._regions(changed, image.shape[1], image.shape[0])
        covered = sum(w * h for _, _, w, h in regions) / float(image.shape[0] * image.shape[1])
        if covered >= opts.whole_frame_above:
            return self._look(small, now_ns, GateDecision(True, None, "widespread"))
        return self._look(small, now_ns, GateDecision(True, regions, "motion"))

    def _look(self, small: npt.NDArray[np.int16], now_ns: int, decision: GateDecision) -> GateDecision:
        self._reference, self._last_look_ns = small, now_ns
        return decision

    def _sample(self, image: Image) -> npt.NDArray[np.int16]:
        """A small, lightly smoothed grey copy (strided: a resize of a 1080p frame costs 50 times more)."""
        self._stride = max(1, image.shape[1] // _GRID)
        small = np.ascontiguousarray(image[:: self._stride, :: self._stride])
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return np.asarray(cv2.blur(grey, (3, 3)), dtype=np.int16)

    def _regions(self, changed: npt.NDArray[np.bool_], width: int, height: int) -> list[Region]:
        """Bounding boxes of the changed areas in frame pixels, each grown by the margin (a fraction of
        the frame's width), overlapping ones merged."""
        grow = max(1, round(self._settings.margin * changed.shape[1]))
        kernel = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
        mask = np.asarray(cv2.dilate(changed.astype(np.uint8), kernel), dtype=np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        s = self._stride
        boxes = []
        for x, y, w, h, _ in stats[1:count].tolist():
            x0, y0 = x * s, y * s
            boxes.append((x0, y0, min(width, (x + w) * s) - x0, min(height, (y + h) * s) - y0))
        return merge_overlapping(boxes)


def merge_overlapping(
    boxes: list[Region], joins: Callable[[Region, Region], bool] | None = None
) -> list[Region]:
    """Boxes with any overlap (or any pair ``joins`` says) replaced by their union, until none is left."""
    should_join = joins or _overlap
    out = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                if should_join(out[i], out[j]):
                    out[i] = union_of(out[i], out[j])
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return out


def _overlap(a: Region, b: Region) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def union_of(a: Region, b: Region) -> Region:
    """The smallest box holding both."""
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return x0, y0, x1 - x0, y1 - y0
