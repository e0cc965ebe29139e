"""Recorded video in other codecs becomes H.264 once, so the simulator can replay it like a camera.

Real IP cameras send H.264 without B-frames (frames go out in display order, for latency); test
recordings come in whatever codec they were saved with. A file that is not H.264, or is H.264 with
B-frames (a phone or dash-cam recording: its frames are stored out of display order, which the
simulator's RTP timing cannot replay), is transcoded with PyAV's libx264 into a cache keyed by the
file's content, with no B-frames and a keyframe every second so a client that joins mid-stream starts
decoding quickly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.error
from av.video.stream import VideoStream

from pipeline.settings import ConfigError

log = logging.getLogger(__name__)


_ENCODING = "h264s1"  # names the encoder settings below: a transcode made with others is not reused


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "safecity-camera-sim"


def video_codec(path: Path) -> str:
    """Name of the first video stream's codec (``h264``, ``mpeg4``...); ConfigError if there is none."""
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


def ensure_h264(path: Path, cache_dir: Path | None = None) -> Path:
    """``path`` itself if it is H.264 as a camera sends it, else a cached camera-like transcode of it."""
    if video_codec(path) == "h264" and not has_b_frames(path):
        return path
    cache = cache_dir or default_cache_dir()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = cache / f"{path.stem}-{digest}.{_ENCODING}.mp4"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    log.info("camera_sim: transcoding %s to H.264 (%s)", path, target)
    fd, tmp_name = tempfile.mkstemp(dir=cache, suffix=".mp4")
    os.close(fd)
    try:
        _transcode(path, Path(tmp_name))
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return target


def camera_stream(dst: av.container.OutputContainer, rate: Fraction, width: int, height: int) -> VideoStream:
    """An H.264 stream in ``dst`` as a camera sends one: no B-frames, a keyframe every second."""
    out = dst.add_stream("libx264", rate=rate)
    out.width = width
    out.height = height
    out.pix_fmt = "yuv420p"
    gop = max(1, round(float(rate)))
    # One slice per frame: zerolatency alone splits each frame into a slice per encoder thread, and the
    # first slice of such frames did not survive the simulator's RTSP path (the top of every frame came
    # out grey in the worker).
    out.options = {
        "preset": "veryfast",
        "tune": "zerolatency",
        "x264-params": "sliced-threads=0",
        "g": str(gop),
        "crf": "20",
        "bf": "0",
    }
    out.codec_context.time_base = Fraction(1, 1) / rate
    return out


def _transcode(source: Path, target: Path) -> None:
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        in_stream = src.streams.video[0]
        rate = in_stream.average_rate or Fraction(25)
        out = camera_stream(dst, rate, in_stream.codec_context.width, in_stream.codec_context.height)
        for index, frame in enumerate(src.decode(in_stream)):
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = out.codec_context.time_base
            for packet in out.encode(frame):
                dst.mux(packet)
        for packet in out.encode(None):
            dst.mux(packet)
