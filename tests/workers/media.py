"""Real media for the worker tests: the shared photos and clips, decoded with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from tests.services import SHARED

FACES = SHARED / "media/faces"
LIN = FACES / "lin_manuel_miranda/examples_lin-manuel-miranda.png"
OBAMA = [
    FACES / "obama" / n for n in ("examples_obama.jpg", "examples_obama2.jpg", "tests_test_images_obama3.jpg")
]
HAMILTON = SHARED / "media/video/hamilton_whitehouse_clip.mp4"
SIX_PEOPLE = SHARED / "media/video/six_people_group.mp4"

# Frame ranges of the Hamilton clip (29.97 fps), from looking at it: a wide stage shot, Alex Lacamoire
# in profile before a defocused audience, Lin-Manuel Miranda's close-up, then the audience.
LIN_CLOSE_UP = range(84, 211)


def video_frames(path: Path, indices: set[int] | None = None) -> dict[int, np.ndarray]:
    """BGR frames by index (all of them if ``indices`` is None)."""
    with av.open(str(path)) as container:
        return {
            i: f.to_ndarray(format="bgr24")
            for i, f in enumerate(container.decode(video=0))
            if indices is None or i in indices
        }


def every(step: int, frames: range) -> set[int]:
    """Every ``step``-th frame of a range: 6 samples a 30 fps clip at the worker's default 5 fps."""
    return set(frames[::step])
