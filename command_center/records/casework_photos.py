"""Photos of casework (arrests, missing persons, unidentified bodies, crime scenes): checked, re-encoded,
scaled down for bulletins, and their faces compared by embedding (a "faceprint": 128 float32, L2-normed).

Faceprints of stored photos are compared by brute force (one matrix product): the casework tables hold
thousands of faces, not the millions a FAISS index is for, and the rows are read fresh each time so a
photo added a moment ago counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.settings import Settings
from watchlist.photos import PhotoError, decode_photo, encode_jpeg
from watchlist.store import vector_from_bytes, vector_to_bytes

EMBEDDING_DIM = 128


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    """A photo as stored: re-encoded JPEG (no metadata or trailing payload kept)."""

    jpeg: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.jpeg).hexdigest()


def clean_photo(what: str, data: bytes, settings: Settings) -> CleanPhoto:
    """Decode (raises PhotoError with the reason) and re-encode as JPEG."""
    limits = settings.records
    image = decode_photo(what, data, limits.max_photo_bytes, limits.max_photo_pixels)
    return CleanPhoto(encode_jpeg(image), int(image.shape[1]), int(image.shape[0]))


def thumbnail(jpeg: bytes, max_side: int) -> bytes:
    """The photo scaled down to ``max_side`` on its longer side (for a bulletin to every officer)."""
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise PhotoError("photo", "not a readable image")
    image: npt.NDArray[np.uint8] = np.asarray(decoded, dtype=np.uint8)
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return encode_jpeg(image, quality=80)


def faceprint_bytes(vector: npt.NDArray[np.float32] | None) -> bytes | None:
    return vector_to_bytes(vector) if vector is not None else None


def faceprint(data: bytes | None) -> npt.NDArray[np.float32] | None:
    if data is None:
        return None
    vector = vector_from_bytes(bytes(data))
    return vector if vector.shape == (EMBEDDING_DIM,) else None


def best_matches(
    probe: npt.NDArray[np.float32], stored: Iterable[tuple[int, bytes | None]], threshold: float
) -> dict[int, float]:
    """Owner id -> best cosine similarity of its faceprints to ``probe``, for those at or above
    ``threshold`` (an owner may have several photos)."""
    owners: list[int] = []
    vectors: list[npt.NDArray[np.float32]] = []
    for owner, data in stored:
        vector = faceprint(data)
        if vector is not None:
            owners.append(owner)
            vectors.append(vector)
    if not vectors:
        return {}
    sims = np.stack(vectors) @ probe.astype(np.float32)
    best: dict[int, float] = {}
    for owner, sim in zip(owners, sims.tolist(), strict=True):
        if sim >= threshold and sim > best.get(owner, -2.0):
            best[owner] = float(sim)
    return best
