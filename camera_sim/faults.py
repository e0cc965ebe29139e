"""Faults a simulated camera can be told to show, from its scenario or at run time (the HTTP API).

``drop``        every client of the camera is disconnected and new ones refused (RTSP 503) for the duration
``stall``       connections stay open but no packet is sent
``corrupt``     a ``fraction`` (default 0.01) of the coded-slice bytes of each frame (RTP payload) has a bit
                flipped
``resolution``  the main stream is served at ``height`` (same frames, re-encoded once, switched at keyframes)
``half_fps``    frames leave at half the rate (each lasts twice as long; the clip plays at half speed)
``skew``        the camera's send clock runs ``skew_s`` off: the frame stamps and FrameSent times it sends

A fault's ``at_s`` counts from when the camera starts playing (scenario) or from the request (HTTP).
``FaultBoard`` holds one camera's faults; times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.frame_stamp import NalSyntax, nal_units

FaultKind = Literal["drop", "stall", "corrupt", "resolution", "half_fps", "skew"]
FAULT_KINDS: tuple[FaultKind, ...] = ("drop", "stall", "corrupt", "resolution", "half_fps", "skew")
# Which parameter each kind takes beyond timing; a parameter given to another kind is an error.
SKEW_NEEDS_STAMPS = (
    "a skew fault offsets the camera's frame stamps, and this camera sends none (stamps: false); its RTCP "
    "sender reports keep the true time"
)
_PARAMETERS: dict[str, str | None] = {
    "drop": None,
    "stall": None,
    "corrupt": "fraction",
    "resolution": "height",
    "half_fps": None,
    "skew": "skew_s",
}


class FaultSpec(BaseModel):
    """One fault: what, when (``at_s`` after the camera starts, or after the request) and for how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind = Field(description="drop, stall, corrupt, resolution, half_fps or skew.")
    at_s: float = Field(0.0, ge=0, le=86400, description="Start this long after the camera starts playing.")
    duration_s: float = Field(gt=0, le=86400, description="How long the fault lasts.")
    fraction: float | None = Field(None, gt=0, le=1, description="corrupt: share of payload bytes flipped.")
    height: int | None = Field(None, ge=16, le=4320, description="resolution: picture height meanwhile.")
    skew_s: float | None = Field(None, ge=-86400, le=86400, description="skew: send clock offset, seconds.")

    @model_validator(mode="after")
    def _parameters_of_its_kind(self) -> FaultSpec:
        wanted = _PARAMETERS[self.kind]
        for name in ("fraction", "height", "skew_s"):
            given = getattr(self, name) is not None
            if given and name != wanted:
                raise ValueError(f"{name} is not a parameter of a {self.kind} fault")
        if self.kind == "resolution" and self.height is None:
            raise ValueError("a resolution fault needs height")
        if self.kind == "skew" and not self.skew_s:
            raise ValueError("a skew fault needs a non-zero skew_s")
        return self

    @property
    def corrupt_fraction(self) -> float:
        return self.fraction if self.fraction is not None else 0.01


class FaultError(ValueError):
    """A fault request that cannot be honoured; ``status`` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def parse_fault(data: object) -> FaultSpec:
    """A fault from a JSON or YAML mapping; FaultError saying what is wrong."""
    if not isinstance(data, dict):
        raise FaultError('a fault is a JSON object such as {"kind": "stall", "duration_s": 5}')
    try:
        return FaultSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'fault'}: {err['msg']}" for err in exc.errors()
        )
        raise FaultError(problems, 422) from None


_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class ActiveFault:
    id: int
    camera_id: str
    spec: FaultSpec
    starts_at: float  # monotonic seconds
    ends_at: float

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def view(self, now: float) -> dict[str, object]:
        """What the HTTP API lists: the spec, its state and the seconds until it starts and ends."""
        state = "active" if self.active(now) else ("scheduled" if now < self.starts_at else "over")
        return {
            "id": self.id,
            "camera": self.camera_id,
            **self.spec.model_dump(exclude_none=True),
            "state": state,
            "starts_in_s": round(max(0.0, self.starts_at - now), 3),
            "ends_in_s": round(max(0.0, self.ends_at - now), 3),
        }


class FaultBoard:
    """One camera's faults, read by its feeder on every frame and by the RTSP server on every request."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self._lock = threading.Lock()
        self._faults: list[ActiveFault] = []
        self.rng = random.Random(camera_id)  # corrupt: reproducible per camera

    def add(self, spec: FaultSpec, origin: float) -> ActiveFault:
        """Schedule ``spec`` to start ``spec.at_s`` after ``origin`` (monotonic seconds)."""
        starts = origin + spec.at_s
        fault = ActiveFault(next(_ids), self.camera_id, spec, starts, starts + spec.duration_s)
        with self._lock:
            self._faults.append(fault)
        return fault

    def listed(self, now: float) -> list[ActiveFault]:
        """Faults not yet over (those over are forgotten here)."""
        with self._lock:
            self._faults = [f for f in self._faults if now < f.ends_at]
            return list(self._faults)

    def clear(self, fault_id: int | None = None) -> int:
        """Remove one fault (by id) or all; how many were removed."""
        with self._lock:
            keep = [f for f in self._faults if fault_id is not None and f.id != fault_id]
            removed = len(self._faults) - len(keep)
            self._faults = keep
        return removed

    def active(self, kind: FaultKind, now: float) -> ActiveFault | None:
        """The latest-started fault of ``kind`` in effect at ``now``."""
        with self._lock:
            found = [f for f in self._faults if f.spec.kind == kind and f.active(now)]
        return max(found, key=lambda f: f.starts_at) if found else None

    def heights(self) -> set[int]:
        with self._lock:
            return {f.spec.height for f in self._faults if f.spec.height is not None}


def corrupted(data: bytes, syntax: NalSyntax, fraction: float, rng: random.Random) -> bytes:
    """``data`` (an Annex-B access unit) with one bit flipped in ``fraction`` of the bytes of its coded
    slices. Start codes, NAL headers, parameter sets and SEI (the frame stamp) stay intact, as when a
    network garbles the slice data of RTP packets whose headers and parameter sets got through."""
    out = bytearray(data)
    nals = nal_units(data, syntax)
    ends = [start for start, _ in nals[1:]] + [len(data)]
    header = 2 if syntax.shift else 1  # HEVC's NAL header is two bytes, H.264's one
    candidates: list[int] = []
    for (start, nal_type), end in zip(nals, ends, strict=True):
        if nal_type in syntax.vcl_types:
            body = data.index(b"\x00\x00\x01", start) + 3 + header
            candidates.extend(range(body, end))
    if not candidates:
        return data
    for i in rng.sample(candidates, max(1, round(len(candidates) * fraction))):
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)
