"""Domain vocabulary shared by the stages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NewType

import numpy as np
import numpy.typing as npt

CameraId = NewType("CameraId", str)
ProfileId = NewType("ProfileId", int)

Image = npt.NDArray[np.uint8]
"""A BGR uint8 image, HxWx3, as OpenCV holds it."""

Embedding = npt.NDArray[np.float32]
"""An L2-normalised face embedding (1-D float32)."""


@dataclass(slots=True)
class Frame:
    """A decoded frame and what is known of when it was made."""

    camera_id: CameraId
    image: Image
    received_ns: int
    decode_ms: float = 0.0
    seq: int | None = None
    sent_ns: int | None = None
    enqueued_ns: int = field(default=0)


def fields_of(record: object) -> dict[str, object]:
    """A stored record's fields by name (a dataclass): a view built from it takes those it declares and
    ignores the rest, so fields are never copied one by one."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}  # type: ignore[arg-type]
