from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from camera_sim.clip import Clip, load_clip
from pipeline.frame_stamp import HEVC, nal_units
from pipeline.settings import ConfigError

SPS, PPS, IDR = 7, 8, 5


def nal_types(access_unit: bytes) -> list[int]:
    return [
        access_unit[i + 3] & 0x1F for i in range(len(access_unit) - 3) if access_unit[i : i + 3] == b"\0\0\1"
    ]


def test_demuxes_every_frame_with_parameter_sets_on_keyframes(hamilton: Clip) -> None:
    assert len(hamilton.units) == 275
    assert (hamilton.width, hamilton.height) == (640, 360)
    assert hamilton.fps == pytest.approx(29.97, abs=0.01)
    keyframes = [i for i, u in enumerate(hamilton.units) if u.keyframe]
    assert keyframes == [0, 60, 120, 163, 211, 271]
    for i in keyframes:
        types = nal_types(hamilton.units[i].data)
        assert {SPS, PPS, IDR} <= set(types)
    assert hamilton.units[0].dts_ns == 0
    assert all(b.dts_ns > a.dts_ns for a, b in itertools.pairwise(hamilton.units))
    assert "stream-format=byte-stream" in hamilton.caps


def test_b_frames_keep_their_presentation_order(plate: Clip) -> None:
    assert len(plate.units) == 138
    assert any(u.pts_ns != u.dts_ns for u in plate.units)
    assert all(u.pts_ns >= u.dts_ns for u in plate.units)


def test_fps_override_retimes_without_touching_frames(video_dir: Path, hamilton: Clip) -> None:
    slow = load_clip(video_dir / "hamilton_whitehouse_clip.mp4", fps=10)
    assert slow.fps == pytest.approx(10)
    assert slow.span_ns == pytest.approx(27.5e9, rel=1e-6)
    assert [u.data for u in slow.units] == [u.data for u in hamilton.units]
    assert "framerate=10/1" in slow.caps


def test_parameter_sets_go_after_the_delimiter(plate: Clip) -> None:
    patched = plate.with_parameter_sets(plate.units[5].data)
    assert nal_types(patched)[:3] == [9, SPS, PPS]


def test_hevc_is_demuxed_with_its_parameter_sets_on_keyframes(hevc_hamilton: Clip) -> None:
    assert hevc_hamilton.codec == "hevc" and hevc_hamilton.caps.startswith("video/x-h265,")
    for unit in hevc_hamilton.units:
        types = [t for _, t in nal_units(unit.data, HEVC)]
        assert ({32, 33, 34} <= set(types)) == unit.keyframe, types
    # Each parameter set once, however often the encoder and the parser repeated them.
    assert [t for _, t in nal_units(hevc_hamilton.parameter_sets, HEVC)] == [32, 33, 34]
    patched = hevc_hamilton.with_parameter_sets(hevc_hamilton.units[5].data)
    assert [t for _, t in nal_units(patched, HEVC)][:4] == [32, 33, 34, 1]  # x265 sends no delimiter


def test_rejects_video_that_is_not_h264_or_hevc(video_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"not an H\.264 or HEVC video \(found: mpeg4\)"):
        load_clip(video_dir / "six_people_group.mp4")


def test_rejects_files_that_are_not_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    with pytest.raises(ConfigError, match="not a readable video"):
        load_clip(text)
    with pytest.raises(ConfigError, match="video file not found"):
        load_clip(tmp_path / "missing.mp4")


def test_rejects_mp4_without_video(tmp_path: Path) -> None:
    path = tmp_path / "tone.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 16000
        frame.pts = 0
        frame.time_base = Fraction(1, 16000)
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(ConfigError, match=r"no video stream"):
        load_clip(path)
