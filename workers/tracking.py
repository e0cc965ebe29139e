"""Per-camera multi-object tracking of boxes: which detection in this frame is which object.

The interface is small so the library behind it can be swapped and so the plate path (vehicle and
plate boxes) can use it unchanged: ``update(boxes, scores)`` with ``x, y, w, h`` boxes returns one
track id per box and the lifecycle events of the frame (started, updated, lost, ended).

Library: ``norfair-enough`` (BSD-3-Clause), the maintained fork of Tryolabs' Norfair, imported as
``norfair``. It was chosen over the alternatives after reading their package metadata:

* ``supervision``'s ByteTrack exists only in 0.2x releases, which require ``opencv-python``; from
  0.28 it is deprecated and 0.31 removed it. ``opencv-python`` next to our ``opencv-python-headless``
  puts two builds into one ``cv2`` package, and removing either breaks it.
* ``trackers`` (Roboflow's successor to that ByteTrack) also requires ``opencv-python`` and imports
  cv2 at package import, so it cannot be declared as a dependency without the same clash.
* ``norfair`` itself pins ``numpy<2`` and is no longer released; ``motpy`` and the ``bytetracker``
  repackagings have not been released since 2021-2023.

``norfair-enough`` needs only numpy (2.x supported), scipy and rich; OpenCV is an optional extra we do
not install. It predicts each object with a Kalman filter and matches by a pluggable distance (here
1 - IoU of boxes grown by ``box_buffer``, the "buffered IoU" of C-BIoU, which tolerates the irregular
motion of heads sampled a few times a second), with hit counters for track birth and death.

``SceneCut`` is the other half of keeping ids honest: IoU cannot see a video edit or a camera switch,
after which a new face at about the same place would inherit the previous person's track.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt
from norfair import Detection, Tracker

from pipeline.settings.tracking import TrackingSettings
from pipeline.types import Image
from workers.motion import every_nth

NO_TRACK = -1
"""The id of a box that belongs to no track yet (a new object still being confirmed)."""

MAX_TRACK_ID = 2**31 - 1
"""Track ids fit a signed 32-bit column; after this they wrap round to 1."""

_IDS_PER_SECOND = 16


def first_track_id(now_ns: int) -> int:
    """A starting id that keeps ids unique per camera across worker restarts.

    Ids start at 16 per second of wall-clock time (wrapping every 4.2 years), so a restarted worker
    starts above every id its predecessor used, unless that camera averaged more than 16 new tracks
    a second since the previous start.
    """
    return now_ns // (1_000_000_000 // _IDS_PER_SECOND) % MAX_TRACK_ID + 1


IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What one frame did to the tracks.

    ``ids[i]`` is the track of input box ``i`` (``NO_TRACK`` if none). A track is ``started`` in the
    frame it gets its id, ``updated`` when seen again, ``lost`` while alive but unseen (it may come
    back), and ``ended`` once: after that its id never returns and its state can be freed.
    """

    ids: IntArray
    started: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    lost: tuple[int, ...] = ()
    ended: tuple[int, ...] = ()


class BoxTracker(Protocol):
    def update(self, boxes: npt.ArrayLike, scores: npt.ArrayLike) -> TrackUpdate:
        """Boxes (N, 4) as ``x, y, w, h`` in pixels and their detector scores (N,)."""
        ...

    def end(self, track_id: int) -> None:
        """Close a live track now (a budget ran out); if its object is still there it gets a new id."""
        ...

    def close(self) -> tuple[int, ...]:
        """End every track (end of stream) and return their ids."""
        ...


class NorfairTracker:
    """``BoxTracker`` over ``norfair.Tracker`` with an IoU distance; one instance per camera, one thread.

    Public ids start at ``first_id`` and grow (up to ``MAX_TRACK_ID``, then from 1 again), so a caller
    can make them unique across restarts with ``first_track_id``.
    """

    def __init__(self, settings: TrackingSettings, first_id: int = 1) -> None:
        if not 1 <= first_id <= MAX_TRACK_ID:
            raise ValueError(f"first_id must be within 1..{MAX_TRACK_ID}")
        self._settings = settings
        self._tracker = self._new_tracker()
        self._next_id = first_id
        self._frame = 0
        self._public: dict[int, int] = {}  # norfair object id -> public track id

    def _new_tracker(self) -> Tracker:
        return Tracker(
            distance_function="iou",
            distance_threshold=1.0 - self._settings.min_iou,
            hit_counter_max=self._settings.max_missed_frames,
            initialization_delay=self._settings.confirm_frames,
            past_detections_length=0,
        )

    def update(self, boxes: npt.ArrayLike, scores: npt.ArrayLike) -> TrackUpdate:
        xywh = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        conf = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(conf) != len(xywh):
            raise ValueError(f"{len(xywh)} boxes but {len(conf)} scores")
        self._frame += 1
        b = self._settings.box_buffer
        # No scores: norfair would only compare them with its detection threshold (0, which every
        # detector score passes) to pick the points measured, at a quarter of its update's CPU.
        detections = [
            Detection(
                points=np.array([[x - b * w, y - b * h], [x + (1 + b) * w + 1e-3, y + (1 + b) * h + 1e-3]]),
                data=(self._frame, i),
            )
            for i, (x, y, w, h) in enumerate(xywh.tolist())
        ]
        self._tracker.update(detections=detections or None)

        ids = np.full(len(xywh), NO_TRACK, dtype=np.int64)
        started: list[int] = []
        updated: list[int] = []
        lost: list[int] = []
        alive: dict[int, int] = {}
        for obj in self._tracker.tracked_objects:
            if obj.id is None or not obj.hit_counter_is_positive:
                continue  # still being confirmed, or dead and about to be dropped by norfair
            public = self._public.get(obj.id)
            frame, index = obj.last_detection.data
            seen = frame == self._frame
            if public is None:
                if not seen:
                    continue  # ended by ``end`` and not seen since: it gets a new id when it is
                public = self._next_id
                self._next_id = self._next_id % MAX_TRACK_ID + 1
                started.append(public)
            elif seen:
                updated.append(public)
            else:
                lost.append(public)
            alive[obj.id] = public
            if seen:
                ids[index] = public
        ended = tuple(public for key, public in self._public.items() if key not in alive)
        self._public = alive
        return TrackUpdate(ids, tuple(started), tuple(updated), tuple(lost), ended)

    def end(self, track_id: int) -> None:
        self._public = {key: public for key, public in self._public.items() if public != track_id}

    def close(self) -> tuple[int, ...]:
        ended = tuple(self._public.values())
        self._public = {}
        self._tracker = self._new_tracker()
        return ended


class SceneCut:
    """Tells a scene cut from motion by the hue-saturation histogram of a small copy of the frame."""

    _SIDE = 160  # pixels across the sample: the histogram needs colours, not detail
    _BINS = [16, 8]
    _RANGES = [0, 180, 0, 256]

    def __init__(self, min_correlation: float) -> None:
        self._min_correlation = min_correlation
        self._previous: npt.NDArray[np.float32] | None = None

    def __call__(self, image: Image) -> bool:
        """True if ``image`` starts a new scene (never for the first frame, or when disabled)."""
        if self._min_correlation <= 0:
            return False
        stride = max(1, image.shape[1] // self._SIDE)
        small = every_nth(image, stride)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, self._BINS, self._RANGES)
        hist = np.asarray(cv2.normalize(hist, hist), dtype=np.float32).ravel()
        previous, self._previous = self._previous, hist
        if previous is None:
            return False
        return bool(cv2.compareHist(previous, hist, cv2.HISTCMP_CORREL) < self._min_correlation)
