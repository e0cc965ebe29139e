"""Where to detect faces on an analysed frame: the whole frame, or only around the camera's tracks.

Detection is most of a camera's CPU, and most of a frame holds no face. Every ``full_frame_every``-th
detected frame is detected whole (new faces are found there); on the frames between, only the regions
around the live tracks are: each track's last box moved on by its motion since the detection before,
widened by ``track_margin`` face sides on every side, regions that overlap much merged. The detector sees a
region's pixels at the same scale and on the same grid as in a whole-frame detection
(``YuNet.predict_regions``), so a tracked face is found, measured and embedded as it would have been,
on every analysed frame. When the regions would cover most of the frame, the frame is detected whole.
A camera with no track detects only its whole frames.

One instance per camera, used from its analysis thread only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.models.yunet import Region
from pipeline.plates.motion import merge_overlapping, union_of
from pipeline.settings.tracking import MotionSettings
from workers.tracking import NO_TRACK

_MOST_OF_THE_FRAME = 0.6  # regions covering more than this share of the frame: detect it whole


@dataclass(slots=True)
class _Seen:
    box: tuple[float, float, float, float]  # x, y, w, h at the last detection that found the track
    velocity: tuple[float, float]  # centre's motion per detected frame
    frame: int  # the detected frame it was last found in


class TrackRegions:
    """``plan`` before detecting a frame, ``detected`` after (``still`` for a frame the motion gate passed
    over), ``observe`` once the tracker has assigned the frame's faces to tracks."""

    def __init__(self, settings: MotionSettings) -> None:
        self._every = settings.full_frame_every
        self._margin = settings.track_margin
        self._since_whole: int | None = None  # detected frames since the last whole one
        self._frame = 0
        self._seen: dict[int, _Seen] = {}

    def plan(self, width: int, height: int, live: Collection[int]) -> list[Region] | None:
        """None: detect the whole frame. Otherwise the regions to detect (empty: no track to follow,
        nothing to detect until the next whole frame)."""
        for track_id in [t for t in self._seen if t not in live]:
            del self._seen[track_id]
        if self._every <= 1 or self._since_whole is None or self._since_whole + 1 >= self._every:
            return None
        regions = merge_where_smaller([self._region(s, width, height) for s in self._seen.values()])
        if sum(w * h for _, _, w, h in regions) > _MOST_OF_THE_FRAME * width * height:
            return None
        return regions

    def detected(self, whole: bool) -> None:
        """A frame was detected (whole or in regions) or passed over for want of tracks."""
        self._frame += 1
        self._since_whole = 0 if whole else (self._since_whole or 0) + 1

    def still(self) -> None:
        """An analysed frame was not detected: nothing had moved (it counts towards the next whole one)."""
        if self._since_whole is not None:
            self._since_whole += 1

    def observe(self, ids: npt.NDArray[np.int64], boxes: npt.NDArray[np.float32]) -> None:
        """The tracks the last detected frame's faces belong to, and their boxes."""
        for track_id, box in zip(ids.tolist(), boxes.tolist(), strict=True):
            if track_id == NO_TRACK:
                continue
            x, y, w, h = box
            before = self._seen.get(track_id)
            velocity = (0.0, 0.0)
            if before is not None:
                frames = max(1, self._frame - before.frame)
                bx, by, bw, bh = before.box
                velocity = ((x + w / 2 - bx - bw / 2) / frames, (y + h / 2 - by - bh / 2) / frames)
            self._seen[track_id] = _Seen((x, y, w, h), velocity, self._frame)

    def _region(self, seen: _Seen, width: int, height: int) -> Region:
        x, y, w, h = seen.box
        ahead = self._frame + 1 - seen.frame  # detected frames from its box to the coming one
        cx = x + w / 2 + seen.velocity[0] * ahead
        cy = y + h / 2 + seen.velocity[1] * ahead
        half = max(w, h) * (0.5 + self._margin)
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(width, int(np.ceil(cx + half))), min(height, int(np.ceil(cy + half)))
        return x0, y0, x1 - x0, y1 - y0


def merge_where_smaller(regions: list[Region]) -> list[Region]:
    """Non-empty regions, two of them replaced by the rectangle around both wherever that rectangle is
    smaller than the two apart (they overlap a lot), until no such pair is left: each pixel detected
    about once, without detecting the empty space between faces."""
    return merge_overlapping([r for r in regions if r[2] > 0 and r[3] > 0], _union_is_smaller)


def _union_is_smaller(a: Region, b: Region) -> bool:
    union = union_of(a, b)
    return union[2] * union[3] <= a[2] * a[3] + b[2] * b[3]
