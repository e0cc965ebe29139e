"""Video files made camera-like once, so the simulator can replay them as a camera sends them.

Real IP cameras send H.264 or H.265 (HEVC) without B-frames (frames go out in display order, for
latency); test recordings come in whatever codec they were saved with. A file that is H.264 or HEVC
without B-frames is replayed as it is. Any other (MPEG-4, or a phone or dash-cam recording with
B-frames, whose frames are stored out of display order, which the simulator's RTP timing cannot
replay) is transcoded with PyAV into a cache keyed by the file's content and the encoding.

``CameraEncoding`` describes how a camera encodes (codec, picture height, keyframe interval, slices
per frame); ``transcoded`` makes any file into such a stream, which is how a scenario serves a 4K HEVC
camera or a camera's low-resolution sub-stream from one recording.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.container
import av.error
from av.video.frame import PictureType
from av.video.stream import VideoStream

from pipeline.settings import ConfigError

log = logging.getLogger(__name__)

Codec = Literal["h264", "hevc"]
CAMERA_CODECS: tuple[Codec, ...] = ("h264", "hevc")
_ENCODERS: dict[Codec, str] = {"h264": "libx264", "hevc": "libx265"}


@dataclass(frozen=True, slots=True)
class CameraEncoding:
    """How a camera encodes its stream. ``height`` None keeps the source's size (else the width follows
    the source's aspect ratio, rounded to even); ``fps`` None keeps the source's frame rate.
    ``frame_step`` n > 1 keeps every n-th frame at 1/n of that rate (a camera's low-rate sub-stream of
    the same instants: its frame j is the main stream's frame j * n)."""

    codec: Codec = "h264"
    height: int | None = None
    fps: float | None = None
    gop_s: float = 1.0
    slices: int = 1
    crf: int = 20
    preset: str = "veryfast"
    b_frames: int = 0  # a few cameras send them (frames out of display order, for bitrate)
    frame_step: int = 1

    def __post_init__(self) -> None:
        if self.codec not in CAMERA_CODECS:
            raise ValueError(f"codec must be one of {CAMERA_CODECS}, not {self.codec!r}")
        if self.height is not None and not 16 <= self.height <= 4320:
            raise ValueError("height must be within 16-4320 pixels")
        if not 1 <= self.slices <= 16:
            raise ValueError("slices must be within 1-16")
        if self.gop_s <= 0:
            raise ValueError("gop_s must be positive")
        if not 0 <= self.b_frames <= 4:
            raise ValueError("b_frames must be within 0-4")
        if not 1 <= self.frame_step <= 30:
            raise ValueError("frame_step must be within 1-30")

    @property
    def tag(self) -> str:
        """Names the settings in cache files, so a transcode made with others is never reused."""
        size = f"{self.height}p" if self.height else "src"
        rate = f"{self.fps:g}fps" if self.fps else "srcfps"
        b_frames = f"-b{self.b_frames}" if self.b_frames else ""
        step = f"-every{self.frame_step}" if self.frame_step > 1 else ""
        return (
            f"{self.codec}-{size}-{rate}-g{self.gop_s:g}-s{self.slices}-q{self.crf}-{self.preset}"
            f"{b_frames}{step}"
        )

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        if self.height is None:
            return width, height
        out_w = round(width * self.height / height / 2) * 2
        return max(2, out_w), self.height - self.height % 2


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "safecity-camera-sim"


def video_codec(path: Path) -> str:
    """Name of the first video stream's codec (``h264``, ``hevc``, ``mpeg4``...); ConfigError if none."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ConfigError(f"{path}: no video stream")
            return str(container.streams.video[0].codec_context.name)
    except av.error.FFmpegError as exc:
        raise ConfigError(f"{path}: not a readable video: {exc}") from None


def has_b_frames(path: Path) -> bool:
    """True if the first video stream may reorder frames (B-frames), as camera streams never do."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video and container.streams.video[0].codec_context.has_b_frames)
    except av.error.FFmpegError as exc:
        raise ConfigError(f"{path}: not a readable video: {exc}") from None


def ensure_camera_like(path: Path, cache_dir: Path | None = None) -> Path:
    """``path`` itself if it is H.264 or HEVC as a camera sends it, else a cached H.264 transcode."""
    if video_codec(path) in CAMERA_CODECS and not has_b_frames(path):
        return path
    return transcoded(path, CameraEncoding(), cache_dir)


def transcoded(path: Path, encoding: CameraEncoding, cache_dir: Path | None = None) -> Path:
    """``path`` encoded as ``encoding`` says, made once into ``cache_dir`` (kept across runs)."""
    if not path.is_file():
        raise ConfigError(f"video file not found: {path}")
    cache = cache_dir or default_cache_dir()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = cache / f"{path.stem}-{digest}.{encoding.tag}.mp4"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    log.info("camera_sim: transcoding %s to %s (%s)", path, encoding.tag, target)
    fd, tmp_name = tempfile.mkstemp(dir=cache, suffix=".mp4")
    os.close(fd)
    try:
        encode_file(path, Path(tmp_name), encoding)
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return target


def camera_stream(
    dst: av.container.OutputContainer,
    rate: Fraction,
    width: int,
    height: int,
    encoding: CameraEncoding | None = None,
) -> VideoStream:
    """A video stream in ``dst`` as a camera sends one: no B-frames (unless asked), a keyframe every
    ``gop_s`` exactly (no extra keyframe at a scene cut, as cameras keep a fixed GOP).

    One slice per frame unless asked otherwise: with tune=zerolatency the encoders would otherwise cut
    each frame into a slice per encoder thread, and the stream would depend on the machine's cores.
    """
    enc = encoding or CameraEncoding()
    out = dst.add_stream(_ENCODERS[enc.codec], rate=rate)
    if not isinstance(out, VideoStream):
        raise TypeError(f"{_ENCODERS[enc.codec]} made no video stream")
    out.width = width
    out.height = height
    out.pix_fmt = "yuv420p"
    gop = max(1, round(float(rate) * enc.gop_s))
    # zerolatency turns B-frames off; x264-params and x265-params, applied after it, turn them on again.
    if enc.codec == "h264":
        params = f"sliced-threads=0:scenecut=0:bframes={enc.b_frames}"
        out.options = {
            "preset": enc.preset,
            "tune": "zerolatency",
            "x264-params": params + (f":slices={enc.slices}" if enc.slices > 1 else ""),
            "g": str(gop),
            "crf": str(enc.crf),
        }
    else:
        out.options = {
            "preset": enc.preset,
            "tune": "zerolatency",
            "crf": str(enc.crf),
            "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={enc.b_frames}"
            f":slices={enc.slices}:log-level=error",
        }
    out.codec_context.time_base = Fraction(1, 1) / rate
    return out


def encode_file(source: Path, target: Path, encoding: CameraEncoding) -> None:
    """Every frame of ``source`` re-encoded into ``target`` (MP4) as ``encoding`` says."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        in_stream = src.streams.video[0]
        rate = (
            Fraction(encoding.fps).limit_denominator(1001)
            if encoding.fps
            else in_stream.average_rate or Fraction(25)
        ) / encoding.frame_step
        width, height = encoding.size_for(in_stream.codec_context.width, in_stream.codec_context.height)
        out = camera_stream(dst, rate, width, height, encoding)
        for index, frame in enumerate(src.decode(in_stream)):
            if index % encoding.frame_step:
                continue  # a low-rate sub-stream: only the frames of its instants
            frame = frame.reformat(width=width, height=height, format="yuv420p")
            # The source's I-frames would otherwise be forced on the encoder: keyframes at its places.
            frame.pict_type = PictureType.NONE
            frame.pts = index // encoding.frame_step
            frame.time_base = out.codec_context.time_base
            for packet in out.encode(frame):
                dst.mux(packet)
        for packet in out.encode(None):
            dst.mux(packet)
