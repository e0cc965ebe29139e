"""The face of an enrolment photo, found at the resolution the photo needs (``recognition.enrol_detect_side``
> 0, the default; 0 is the full path: full decode, YuNet at ``recognition.detect_max_side``).

An enrolment photo is a portrait: its face is large, so decoding and detecting it at full size spends
most of an enrolment's CPU on detail nobody uses. The fast path decodes the JPEG at 1/2, 1/4 or 1/8
size in the DCT domain (``recognition.enrol_decode_side``, chosen from the header), finds the face on a
copy of ``enrol_detect_side``, measures it again in its own region with the face at about
``recognition.enrol_face_px`` (YuNet's landmarks depend on the size it sees a face at), and aligns and
embeds it from the decoded image (decoded again less reduced if the face came out smaller than
``ALIGN_MIN_FACE_PX``; a face smaller than that in the photo itself is measured at its own size, as the
full path would). Several faces on the small copy are each looked for again in their own region
(``FaceAnalyzer.confirm``): a small copy can show a face that is not there (one shared photo's 320-px
copy gives a second face at score 0.79 that the full path does not find); two or more confirmed refuse
the photo as a group photo, one is the photo's face. On the shared photos this gives every multi-face
photo the full path's verdict (the count of faces may differ by one: the small copy misses tiny ones).
A photo whose small copy shows no face (a small face) takes the full path, so its embedding and any
refusal are the full path's.

The fast embeddings are not the full path's (the same photo embeds at cosine about 0.92 to it: YuNet
places landmarks differently at each scale and MobileFaceNet is sensitive to them), but neither is the
reference: what matters is how well an enrolment separates the people a camera sees. Against the
worker's faces (the shared photos shrunk to 24-60 px, blurred and compressed, and the shared videos'
faces; bench/enrol_roc.py) a fast-path gallery separates genuine from impostor pairs as well as a
full-path one (README, Enrolment speed), for half the CPU, so it is the default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.detections import FaceDetections
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from pipeline.types import Image
from watchlist.photos import decode_photo, decode_photo_at, decode_photo_reduced

ALIGN_MIN_FACE_PX = 112
"""A face at least this side (pixels of the decoded image) is warped to the 112-pixel template without
losing detail (its eyes about 45 px apart, the template's 35): a face smaller than this on a reduced
decode is decoded again at the least reduction that makes it this large (or at full size). 160 decoded
a fifth of the shared photos twice for no better gallery (bench/enrol_roc.py, README Enrolment speed)."""


@dataclass(frozen=True, slots=True)
class LocatedFaces:
    """The faces of a photo in ``image``, which is the photo shrunk by ``reduction`` (1: full size)."""

    image: Image
    detections: FaceDetections
    reduction: int
    width: int  # the photo's full size, as stored
    height: int

    @property
    def sides(self) -> list[float]:
        """Each face's shorter side in the photo's own pixels."""
        return [float(side) * self.reduction for side in self.detections.sides]


def locate_faces(analyzer: FaceAnalyzer, settings: Settings, name: str, data: bytes) -> LocatedFaces:
    """Decode ``data`` and find its faces, cheaply when the face is large. Raises PhotoError."""
    rec, limits = settings.recognition, settings.watchlist
    if rec.enrol_detect_side == 0:  # the full path
        image = decode_photo(name, data, limits.max_photo_bytes, limits.max_photo_pixels)
        return LocatedFaces(image, analyzer.detect(image), 1, int(image.shape[1]), int(image.shape[0]))
    image, reduction, (width, height) = decode_photo_reduced(
        name, data, limits.max_photo_bytes, limits.max_photo_pixels, rec.enrol_decode_side
    )

    def decoded(factor: int) -> Image:
        if factor == reduction:
            return image
        if factor == 1:
            return decode_photo(name, data, limits.max_photo_bytes, limits.max_photo_pixels)
        return decode_photo_at(name, data, limits.max_photo_pixels, factor)[0]

    return _located(analyzer, settings, decoded, reduction, (width, height))


def locate_faces_in(analyzer: FaceAnalyzer, settings: Settings, image: Image) -> LocatedFaces:
    """The faces of a photo already decoded at full size (a bulk import decodes it to store it anyway),
    found as ``locate_faces`` finds them."""
    size = (int(image.shape[1]), int(image.shape[0]))
    if settings.recognition.enrol_detect_side == 0:
        return LocatedFaces(image, analyzer.detect(image), 1, *size)
    return _located(analyzer, settings, lambda _: image, 1, size)


def _located(
    analyzer: FaceAnalyzer,
    settings: Settings,
    decoded: Callable[[int], Image],
    reduction: int,
    size: tuple[int, int],
) -> LocatedFaces:
    """The fast path on the photo as ``decoded(reduction)`` gives it (``decoded(r)``: shrunk by r)."""
    rec = settings.recognition
    image = decoded(reduction)
    detections = analyzer.detect_at(image, rec.enrol_detect_side / max(image.shape[:2]))
    if len(detections) > 1:  # only the faces found again around themselves count
        detections = analyzer.confirm(image, detections, rec.enrol_face_px)
        if len(detections) > 1:  # a group photo: refused, as the full path refuses it
            return LocatedFaces(image, detections, reduction, *size)
    if len(detections) == 1:
        side = float(detections.sides[0])
        if side < ALIGN_MIN_FACE_PX and reduction > 1:
            finer = _finer_reduction(side * reduction)
            image = decoded(finer)
            detections, reduction = detections.scaled(reduction / finer), finer
        refined = analyzer.refine(image, detections, rec.enrol_face_px)
        return LocatedFaces(image, refined, reduction, *size)
    # No face on the small copy (or none confirmed): the full path decides (full size, detect_max_side).
    image = decoded(1)
    return LocatedFaces(image, analyzer.detect(image), 1, *size)


def _finer_reduction(full_side: float) -> int:
    """The largest JPEG reduction (4, 2 or 1) keeping a face of ``full_side`` photo pixels at least
    ``ALIGN_MIN_FACE_PX``."""
    return next((r for r in (4, 2) if full_side / r >= ALIGN_MIN_FACE_PX), 1)
