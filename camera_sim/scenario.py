"""Scenario files: which video each simulated camera replays.

```yaml
cameras:
  - id: cam-hamilton
    file: ../videos/hamilton.mp4   # relative to this file's folder
    fps: 10                        # optional: replay at another frame rate
    loop: true                     # false: play once, then end the stream
    stamps: true                   # false: no frame stamps, as a real camera sends
    encode: {codec: hevc, height: 2160}  # optional: serve the file encoded so (transcoded once, cached)
    substream: {height: 360, fps: 6}  # optional: the same frames, smaller (and fewer), at .../<id>/sub
    auth:                          # optional: the camera asks for a login (401 without it)
      method: digest               # or basic
      username: admin
      password_env: CAM_HAMILTON_PASSWORD   # or password: ... (a test's throwaway)
    start: on_first_viewer         # optional: hold the clip until a client first connects (default: at_once)
    faults:                        # optional (faults.py): at_s counts from when the camera starts playing
      - {kind: stall, at_s: 5, duration_s: 4}
      - {kind: resolution, at_s: 12, duration_s: 5, height: 240}
```
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from camera_sim.auth import AuthMethod, SimAuth
from camera_sim.faults import SKEW_NEEDS_STAMPS, FaultSpec
from camera_sim.transcode import CameraEncoding, Codec
from pipeline.settings import CAMERA_ID_PATTERN, ConfigError, describe_validation_error, read_yaml_mapping

_CAMERA_ID_RE = re.compile(CAMERA_ID_PATTERN)


class StreamEncoding(BaseModel):
    """How a simulated camera encodes a stream (transcode.CameraEncoding); its frame rate is the camera's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    codec: Codec = Field("h264", description="h264 or hevc.")
    height: int | None = Field(
        None,
        ge=16,
        le=4320,
        description="Picture height (the width keeps the file's aspect); default: the file's.",
    )
    gop_s: float = Field(1.0, gt=0, le=60, description="Seconds between keyframes.")
    slices: int = Field(1, ge=1, le=16, description="Slices per frame.")
    fps: float | None = Field(
        None,
        gt=0,
        le=120,
        description="A sub-stream's frame rate, as a whole fraction of the camera's (25 fps and fps 6: every "
        "4th frame, 6.25 fps); default: the camera's. Not for encode (the camera's fps sets that).",
    )

    def encoding(self) -> CameraEncoding:
        return CameraEncoding(codec=self.codec, height=self.height, gop_s=self.gop_s, slices=self.slices)

    def frame_step(self, camera_fps: float) -> int:
        """Every how many of the camera's frames this stream sends one (1: all of them)."""
        if self.fps is None:
            return 1
        return max(1, round(camera_fps / self.fps))


class CameraLogin(BaseModel):
    """The login a simulated camera requires."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    method: AuthMethod = Field("digest", description="digest or basic (what the camera offers).")
    username: str = Field(min_length=1, max_length=256)
    password: SecretStr | None = Field(None, description="The password itself.")
    password_env: str | None = Field(None, description="An environment variable holding the password.")

    @model_validator(mode="after")
    def _one_password(self) -> CameraLogin:
        if (self.password is None) == (self.password_env is None):
            raise ValueError("auth: give password or password_env (one of them)")
        return self

    def sim_auth(self) -> SimAuth:
        if self.password is not None:
            secret = self.password.get_secret_value()
        else:
            assert self.password_env is not None
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"auth: environment variable {self.password_env} is not set")
            secret = value
        return SimAuth(self.username, secret, self.method)


class ScenarioCamera(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Camera id and RTSP mount name: letters, digits, '-' and '_'.")
    file: Path = Field(
        description="Video file (H.264 or HEVC is replayed as it is, others are transcoded to H.264 once); "
        "a relative path is relative to the scenario file."
    )
    fps: float | None = Field(None, gt=0, le=120, description="Replay frame rate; default: the file's.")
    loop: bool = Field(True, description="Replay the file forever; false plays it once, then ends.")
    stamps: bool = Field(
        True,
        description="Stamp each frame with its send time (an SEI message, and FrameSent on NATS); false "
        "sends the stream as a real camera does, whose latency the worker takes from RTCP sender reports.",
    )
    encode: StreamEncoding | None = Field(
        None,
        description="Serve the file encoded so (a 4K HEVC camera from any recording); default: as it is.",
    )
    substream: StreamEncoding | None = Field(
        None,
        description="Also serve the same frames encoded so (a smaller height, say) at <camera url>/sub, on "
        "the main stream's clock and with its frame stamps, as a camera's sub-stream.",
    )
    auth: CameraLogin | None = Field(None, description="A login the camera requires; default: none.")

    start: Literal["at_once", "on_first_viewer"] = Field(
        "at_once",
        description="at_once: the clip plays from the simulator's start, watched or not; on_first_viewer: "
        "its clock starts when a client first connects, so a late client still sees a short clip whole.",
    )
    faults: list[FaultSpec] = Field(
        default_factory=list,
        description="Faults to show, each at_s after the camera starts playing (camera_sim/faults.py).",
    )

    @model_validator(mode="after")
    def _encode_keeps_rate(self) -> ScenarioCamera:
        if self.encode is not None and self.encode.fps is not None:
            raise ValueError(
                "encode.fps: the camera's fps sets its main stream's rate (fps is for a substream)"
            )
        return self

    @model_validator(mode="after")
    def _skew_needs_stamps(self) -> ScenarioCamera:
        if not self.stamps and any(f.kind == "skew" for f in self.faults):
            raise ValueError(SKEW_NEEDS_STAMPS)
        return self

    @field_validator("id")
    @classmethod
    def _id_is_token(cls, value: str) -> str:
        if not _CAMERA_ID_RE.match(value):
            raise ValueError(f"camera id {value!r} must match {CAMERA_ID_PATTERN}")
        return value


class Scenario(BaseModel):
    """A set of simulated cameras; ``load_scenario`` resolves and checks every file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras: list[ScenarioCamera] = Field(min_length=1, description="Cameras to serve, one mount each.")

    @model_validator(mode="after")
    def _unique_ids(self) -> Scenario:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera ids: {', '.join(dupes)}")
        return self


def parse_scenario(data: dict[str, Any], base_dir: Path) -> Scenario:
    """Validate a scenario mapping; relative files resolve against ``base_dir`` and must exist."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, "scenario")) from None
    cameras = [c.model_copy(update={"file": (base_dir / c.file).resolve()}) for c in scenario.cameras]
    missing = [f"{c.id}: {c.file}" for c in cameras if not c.file.is_file()]
    if missing:
        raise ConfigError("video file not found:\n  " + "\n  ".join(missing))
    return Scenario(cameras=cameras)


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario YAML file; raise ConfigError saying what is wrong and where."""
    data = read_yaml_mapping(path, "scenario")
    try:
        return parse_scenario(data, path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"scenario {path}: {exc}") from None
