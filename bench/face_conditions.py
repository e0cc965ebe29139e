"""The faces bench/face_roc.py scores: the shared photos clean, the same photos as a camera would see them
(small, blurred, JPEG-compressed), and the faces YuNet finds in the shared videos.

Every probe face passes the worker's quality gates (workers/quality.py, default settings) unless a
condition says it is ungated: a refused face is never embedded, so it never reaches a threshold. Each probe
carries the gallery identities it must not be compared with (people who are or may be in a video) and a
cluster id, the independent unit for the bootstrap: the person of a photo, or a face tracked through a clip.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pipeline.detections import FaceDetections, box_iou
from pipeline.face import FaceAnalyzer
from pipeline.types import Image
from workers.quality import QualityGate

_MATCH_IOU = 0.3  # a detection on a degraded copy is the original face when its box overlaps this much


@dataclass(frozen=True)
class Photo:
    identity: str
    path: Path
    image: Image
    face: FaceDetections  # the subject: the largest face


@dataclass(frozen=True)
class Probe:
    image: Image
    face: FaceDetections  # one face
    identity: str  # "" when unknown
    cluster: str
    excluded: frozenset[str] = frozenset()  # gallery identities not compared with this probe
    source: int = -1  # gallery row of the photo this probe was made from, never paired with it


@dataclass
class Condition:
    name: str
    description: str
    pooled: bool  # counts towards the conservative calibration figure
    probes: list[Probe] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)  # quality-gate rejections, by gate

    def add(self, gate: QualityGate | None, probe: Probe) -> None:
        if gate is not None:
            (verdict,) = gate.assess(probe.image, probe.face)
            if verdict.rejection is not None:
                self.refused[verdict.rejection.value] += 1
                return
        self.probes.append(probe)


@dataclass(frozen=True)
class Clip:
    """A shared video, what is known of who is in it (../shared/media/MANIFEST.md), and how to label it."""

    file: str
    present: frozenset[str]  # gallery identities who are or may be in the clip: never impostor pairs
    genuine: tuple[str, int, int] | None = None  # the largest face in frames [first, last] is this identity


CLIPS = (
    # Frames ~87-210 are a Lin-Manuel Miranda close-up (a narrower 100-200 is labelled); Alex Lacamoire
    # (~35-85) and Barack Obama (audience, ~213-273) are there too, Joe Biden may be in the audience.
    Clip(
        "video/hamilton_whitehouse_clip.mp4",
        frozenset({"lin_manuel_miranda", "alex_lacamoire", "obama", "biden"}),
        ("lin_manuel_miranda", 100, 200),
    ),
    Clip("video/six_people_group.mp4", frozenset()),  # six strangers to every photo identity
)


def load_photos(media_dir: Path, analyzer: FaceAnalyzer) -> list[Photo]:
    """The distinct single-person photos (resolution copies of one photo left out), subject detected."""
    photos = []
    with (media_dir / "faces" / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["file"].startswith("faces/_multi/") or "SAME PHOTO" in row["note"]:
                continue
            raw = cv2.imread(str(media_dir / row["file"]), cv2.IMREAD_COLOR)
            if raw is None:
                raise FileNotFoundError(media_dir / row["file"])
            image = np.asarray(raw, dtype=np.uint8)
            face = analyzer.detect(image).largest()
            if len(face) == 0:
                raise RuntimeError(f"no face found in {row['file']}")
            photos.append(Photo(row["identity"], media_dir / row["file"], image, face))
    return photos


def degrade(image: Image, scale: float, blur_sigma: float, jpeg_quality: int | None) -> Image:
    """Downscaled (area), then Gaussian-blurred, then JPEG-compressed: a far, soft, streamed face."""
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    out = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    if blur_sigma > 0:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), blur_sigma), dtype=np.uint8)
    if jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        out = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)
    return out


def degraded_condition(
    photos: list[Photo],
    analyzer: FaceAnalyzer,
    gate: QualityGate,
    face_px: int,
    blur_sigma: float = 0.0,
    jpeg_quality: int | None = None,
) -> tuple[Condition, int]:
    """Each photo shrunk so its subject's face is ``face_px`` wide, degraded, and detected again as a
    camera frame would be. Returns the condition and how many degraded faces YuNet no longer found."""
    name = f"photo_{face_px}px" + (f"_blur{blur_sigma:g}" if blur_sigma else "")
    name += f"_jpeg{jpeg_quality}" if jpeg_quality is not None else ""
    condition = Condition(
        name,
        f"the photos downscaled so the face is {face_px} px"
        + (f", Gaussian blur sigma {blur_sigma:g} px" if blur_sigma else "")
        + (f", JPEG quality {jpeg_quality}" if jpeg_quality is not None else "")
        + "; against the other clean photos",
        pooled=True,
    )
    lost = 0
    for row, photo in enumerate(photos):
        scale = face_px / float(photo.face.sides[0])
        if scale >= 1.0:
            continue  # never upscale: the face is already that small
        image = degrade(photo.image, scale, blur_sigma, jpeg_quality)
        found = analyzer.detect(image)
        overlap = box_iou(found.boxes, photo.face.boxes[0] * scale) if len(found) else np.zeros(0)
        if len(found) == 0 or overlap.max() < _MATCH_IOU:
            lost += 1
            continue
        face = found.filter(np.array([int(overlap.argmax())], dtype=np.intp))
        condition.add(gate, Probe(image, face, photo.identity, f"person:{photo.identity}", source=row))
    return condition, lost


def clip_conditions(
    media_dir: Path, clip: Clip, analyzer: FaceAnalyzer, gate: QualityGate, frame_step: int
) -> tuple[Condition, Condition]:
    """Every face YuNet finds in the clip, linked into tracks: (gated, ungated)."""
    stem = Path(clip.file).stem
    gated = Condition(f"video_{stem}", f"faces the worker would embed in {clip.file}", pooled=True)
    ungated = Condition(
        f"video_{stem}_ungated", f"every face YuNet finds in {clip.file}, quality gates off", pooled=False
    )
    tracks = _TrackLinker()
    for index, frame in _frames(media_dir / clip.file, frame_step):
        found = analyzer.detect(frame)
        ids = tracks.link(found)
        largest = found.largest_index() if len(found) else -1
        for i in range(len(found)):
            identity = ""
            if clip.genuine and i == largest and clip.genuine[1] <= index <= clip.genuine[2]:
                identity = clip.genuine[0]
            probe = Probe(
                frame,
                found.filter(np.array([i], dtype=np.intp)),
                identity,
                f"{stem}:track{ids[i]}",
                excluded=clip.present - {identity},
            )
            gated.add(gate, probe)
            ungated.add(None, probe)
    return gated, ungated


def _frames(path: Path, step: int) -> Iterator[tuple[int, Image]]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(path)
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if index % step == 0:
                yield index, np.asarray(frame, dtype=np.uint8)
            index += 1
    finally:
        capture.release()


class _TrackLinker:
    """Greedy IoU linking of detections from one sampled frame to the next: enough to tell which faces
    of a clip are the same person for the bootstrap, not a tracker for production."""

    def __init__(self, min_iou: float = 0.3) -> None:
        self._min_iou = min_iou
        self._boxes = np.zeros((0, 4), np.float32)
        self._ids: list[int] = []
        self._next = 0

    def link(self, found: FaceDetections) -> list[int]:
        ids: list[int] = []
        taken: set[int] = set()
        for box in found.boxes:
            overlap = box_iou(self._boxes, box) if len(self._boxes) else np.zeros(0)
            best = int(overlap.argmax()) if len(overlap) else -1
            if best >= 0 and overlap[best] >= self._min_iou and best not in taken:
                taken.add(best)
                ids.append(self._ids[best])
            else:
                ids.append(self._next)
                self._next += 1
        self._boxes, self._ids = found.boxes.copy(), ids
        return ids
