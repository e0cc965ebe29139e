"""A video file demuxed once into H.264 or HEVC access units that feeders replay without re-encoding."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from camera_sim.gst import Gst, init
from camera_sim.transcode import video_codec
from pipeline.frame_stamp import NAL_SYNTAX, NalSyntax, nal_units
from pipeline.settings import ConfigError

# Demuxing a file of a few hundred frames takes well under a second; this only stops a wedged pipeline.
_DEMUX_TIMEOUT_S = 60.0
# FFmpeg's codec name → GStreamer's media type and parser.
_GST_CODEC = {"h264": ("video/x-h264", "h264parse"), "hevc": ("video/x-h265", "h265parse")}


def byte_stream_caps(codec: str) -> str:
    return f"{_GST_CODEC[codec][0]},stream-format=byte-stream,alignment=au"


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One coded frame in Annex-B form; times are relative to the clip's first decode time."""

    data: bytes
    dts_ns: int
    pts_ns: int
    duration_ns: int
    keyframe: bool


@dataclass(frozen=True, slots=True)
class Clip:
    """Access units in decode order; ``span_ns`` is the time from the first frame to the loop point."""

    path: Path
    units: tuple[AccessUnit, ...]
    span_ns: int
    width: int
    height: int
    caps: str
    parameter_sets: bytes = b""
    codec: str = "h264"

    @property
    def syntax(self) -> NalSyntax:
        return NAL_SYNTAX[self.codec]

    def with_parameter_sets(self, access_unit: bytes) -> bytes:
        """``access_unit`` with the clip's parameter sets inserted after any access unit delimiter.

        A client that joins between keyframes then learns the stream's size and codec at once, so
        it opens quickly and starts decoding at the next keyframe instead of probing for seconds.
        """
        nals = nal_units(access_unit, self.syntax)
        cut = next((start for start, nal_type in nals if nal_type != self.syntax.delimiter_type), 0)
        return access_unit[:cut] + self.parameter_sets + access_unit[cut:]

    @property
    def fps(self) -> float:
        return len(self.units) * 1e9 / self.span_ns


def load_clip(path: Path, fps: float | None = None) -> Clip:
    """Demux ``path`` into access units (parameter sets repeated on keyframes); ``fps`` retimes the clip.

    Raises ConfigError when the file cannot be read or holds no H.264 or HEVC video.
    """
    if not path.is_file():
        raise ConfigError(f"video file not found: {path}")
    # Ask FFmpeg (PyAV) what the file holds before GStreamer sees it: parsebin autoplugging a
    # stream of another codec can hang in a process that has PyAV's own FFmpeg libraries loaded.
    codec = video_codec(path)
    if codec not in _GST_CODEC:
        raise ConfigError(_not_camera_codec(path, [codec]))
    demuxed, caps = _demux(path, codec)
    if not demuxed:
        raise ConfigError(f"{path}: no {codec} frames")
    if not any(u.keyframe for u in demuxed):
        raise ConfigError(f"{path}: no keyframe; clients could never start decoding")
    units = _retimed(demuxed, fps)
    structure = caps.get_structure(0)
    width = structure.get_int("width")
    height = structure.get_int("height")
    span = units[-1].dts_ns + units[-1].duration_ns
    ok, num, den = structure.get_fraction("framerate")
    if fps:
        rate = Fraction(fps).limit_denominator(1001)
    elif ok and num > 0:
        rate = Fraction(num, den)
    else:
        rate = Fraction(len(units) * 10**9, span).limit_denominator(1001)
    caps_text = (
        f"{byte_stream_caps(codec)},width={width[1]},height={height[1]},"
        f"framerate={rate.numerator}/{rate.denominator}"
    )
    keyframe = next(u.data for u in units if u.keyframe)
    parameter_sets = _parameter_sets(keyframe, NAL_SYNTAX[codec])
    return Clip(path, units, span, width[1], height[1], caps_text, parameter_sets, codec)


def _parameter_sets(keyframe: bytes, syntax: NalSyntax) -> bytes:
    """The keyframe's parameter sets, each once (a parser that repeats them may have doubled some)."""
    nals = nal_units(keyframe, syntax)
    ends = [start for start, _ in nals[1:]] + [len(keyframe)]
    found: dict[bytes, None] = {}
    for (start, nal_type), end in zip(nals, ends, strict=True):
        if nal_type in syntax.parameter_set_types:
            unit = keyframe[start:end]
            found.setdefault(unit[unit.index(b"\x00\x00\x01") + 3 :], None)
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in found)


def _retimed(units: list[AccessUnit], fps: float | None) -> tuple[AccessUnit, ...]:
    """Shift times so the first DTS is 0 and, with ``fps``, scale them to that frame rate.

    Containers leave gaps or zero durations now and then; a frame's duration is taken as the distance
    to the next frame's DTS so the loop never drifts.
    """
    first = units[0].dts_ns
    dts = [u.dts_ns - first for u in units]
    tail = units[-1].duration_ns or (dts[-1] // max(1, len(dts) - 1) if len(dts) > 1 else 40_000_000)
    span = dts[-1] + tail
    scale = (len(units) * 1e9 / fps) / span if fps else 1.0
    out = []
    for i, u in enumerate(units):
        next_dts = dts[i + 1] if i + 1 < len(units) else span
        out.append(
            AccessUnit(
                data=u.data,
                dts_ns=round(dts[i] * scale),
                pts_ns=round((u.pts_ns - first) * scale),
                duration_ns=max(1, round((next_dts - dts[i]) * scale)),
                keyframe=u.keyframe,
            )
        )
    return tuple(out)


class _Demux:
    """``filesrc ! parsebin`` whose video pad of ``codec`` is linked to its parser and an appsink; other
    streams are ignored."""

    def __init__(self, path: Path, codec: str) -> None:
        self.path = path
        self.media_type, parser = _GST_CODEC[codec]
        self.pipeline = Gst.Pipeline.new("demux")
        self.found: list[str] = []
        self.linked = threading.Event()
        self.pads_done = threading.Event()
        src = Gst.ElementFactory.make("filesrc")
        src.set_property("location", str(path))
        parse = Gst.ElementFactory.make("parsebin")
        # Parameter sets on every keyframe, so a client that joins there can start decoding.
        self.parser = Gst.ElementFactory.make(parser)
        self.parser.set_property("config-interval", -1)
        capsfilter = Gst.ElementFactory.make("capsfilter")
        capsfilter.set_property("caps", Gst.Caps.from_string(byte_stream_caps(codec)))
        self.sink = Gst.ElementFactory.make("appsink")
        self.sink.set_property("sync", False)
        for element in (src, parse, self.parser, capsfilter, self.sink):
            self.pipeline.add(element)
        src.link(parse)
        self.parser.link(capsfilter)
        capsfilter.link(self.sink)
        parse.connect("pad-added", self._on_pad)
        parse.connect("no-more-pads", lambda _parse: self.pads_done.set())

    def _on_pad(self, _parse: Gst.Element, pad: Gst.Pad) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name()
        self.found.append(name)
        if name == self.media_type and not self.linked.is_set():
            pad.link(self.parser.get_static_pad("sink"))
            self.linked.set()


def _demux(path: Path, codec: str) -> tuple[list[AccessUnit], Gst.Caps]:
    init()
    demux = _Demux(path, codec)
    deadline = time.monotonic() + _DEMUX_TIMEOUT_S
    units: list[AccessUnit] = []
    caps: Gst.Caps | None = None
    demux.pipeline.set_state(Gst.State.PLAYING)
    bus = demux.pipeline.get_bus()
    try:
        while True:
            sample = demux.sink.emit("try-pull-sample", 100 * Gst.MSECOND)
            if sample is not None:
                caps = caps or sample.get_caps()
                units.append(_unit(sample.get_buffer(), NAL_SYNTAX[codec]))
                continue
            if demux.sink.get_property("eos"):
                break
            if demux.pads_done.is_set() and not demux.linked.is_set():
                # Every stream is known and none is the codec: no need to wait for an error or a timeout
                # (an unlinked stream does not always end the pipeline with one).
                raise ConfigError(_not_camera_codec(path, demux.found))
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            if msg is not None:
                raise ConfigError(_explain(path, demux, msg))
            if time.monotonic() > deadline:
                raise ConfigError(f"{path}: demuxing took longer than {_DEMUX_TIMEOUT_S:.0f} s")
    finally:
        demux.pipeline.set_state(Gst.State.NULL)
    if caps is None:
        raise ConfigError(_not_camera_codec(path, demux.found))
    return units, caps


def _unit(buffer: Gst.Buffer, syntax: NalSyntax) -> AccessUnit:
    ok, info = buffer.map(Gst.MapFlags.READ)
    if not ok:
        raise ConfigError("cannot map a demuxed buffer")
    try:
        data = bytes(info.data)
    finally:
        buffer.unmap(info)
    dts = buffer.dts if buffer.dts != Gst.CLOCK_TIME_NONE else buffer.pts
    return AccessUnit(
        data=data,
        dts_ns=dts,
        pts_ns=buffer.pts,
        duration_ns=buffer.duration if buffer.duration != Gst.CLOCK_TIME_NONE else 0,
        # A container's sync flag is not enough: x265 marks an I-frame that is no random-access point
        # (a TRAIL picture) as one, and a client could not start there.
        keyframe=not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT) and syntax.is_random_access(data),
    )


def _explain(path: Path, demux: _Demux, msg: Gst.Message) -> str:
    if demux.found and not demux.linked.is_set():
        return _not_camera_codec(path, demux.found)
    err, _debug = msg.parse_error()
    return f"{path}: cannot demux: {err.message}"


def _not_camera_codec(path: Path, found: list[str]) -> str:
    streams = ", ".join(found) if found else "no recognised stream"
    return (
        f"{path}: not an H.264 or HEVC video (found: {streams}); camera_sim replays these without re-encoding"
    )
