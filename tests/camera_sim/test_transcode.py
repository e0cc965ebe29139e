from __future__ import annotations

from pathlib import Path

import pytest

from camera_sim.clip import Clip, load_clip
from camera_sim.transcode import CameraEncoding, ensure_camera_like, has_b_frames, transcoded, video_codec
from pipeline.frame_stamp import HEVC, nal_units
from pipeline.settings import ConfigError


def test_h264_and_hevc_files_are_used_as_they_are(
    video_dir: Path, tmp_path: Path, hevc_hamilton: Clip
) -> None:
    path = video_dir / "hamilton_whitehouse_clip.mp4"
    assert ensure_camera_like(path, tmp_path) == path
    assert ensure_camera_like(hevc_hamilton.path, tmp_path) == hevc_hamilton.path
    assert list(tmp_path.iterdir()) == []


def test_a_camera_encoding_sets_codec_size_keyframes_and_slices(hevc_hamilton: Clip) -> None:
    assert video_codec(hevc_hamilton.path) == "hevc" and not has_b_frames(hevc_hamilton.path)
    assert (hevc_hamilton.width, hevc_hamilton.height, len(hevc_hamilton.units)) == (640, 360, 275)
    keyframes = [i for i, u in enumerate(hevc_hamilton.units) if u.keyframe]
    assert keyframes == list(range(0, 275, 30))  # a keyframe a second at 29.97 fps
    slices = [sum(1 for _, t in nal_units(u.data, HEVC) if t in HEVC.vcl_types) for u in hevc_hamilton.units]
    assert set(slices) == {4}


def test_a_camera_encoding_scales_to_its_height_and_rate(video_dir: Path, tmp_path: Path) -> None:
    encoding = CameraEncoding(height=180, fps=10, gop_s=2, preset="ultrafast")
    target = transcoded(video_dir / "hamilton_whitehouse_clip.mp4", encoding, tmp_path)
    assert encoding.tag in target.name
    clip = load_clip(target)
    assert (clip.width, clip.height, clip.codec, len(clip.units)) == (320, 180, "h264", 275)
    assert clip.fps == pytest.approx(10)
    assert [i for i, u in enumerate(clip.units) if u.keyframe] == list(range(0, 275, 20))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"codec": "vp9"}, "codec"),
        ({"height": 8}, "height"),
        ({"slices": 0}, "slices"),
        ({"gop_s": 0}, "gop"),
    ],
)
def test_a_camera_encoding_refuses_what_no_camera_sends(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CameraEncoding(**fields)  # type: ignore[arg-type]


def test_other_codecs_are_transcoded_once_and_cached(video_dir: Path, tmp_path: Path) -> None:
    source = video_dir / "six_people_group.mp4"
    assert video_codec(source) == "mpeg4"
    first = ensure_camera_like(source, tmp_path)
    assert video_codec(first) == "h264"
    mtime = first.stat().st_mtime_ns
    assert ensure_camera_like(source, tmp_path) == first
    assert first.stat().st_mtime_ns == mtime
    clip = load_clip(first)
    assert (clip.width, clip.height, len(clip.units)) == (1920, 1080, 8)
    assert clip.units[0].keyframe
    assert clip.fps == pytest.approx(8.0)


def test_h264_with_b_frames_is_made_camera_like(video_dir: Path, tmp_path: Path) -> None:
    """A dash-cam recording stores frames out of display order; a camera never sends them so."""
    source = video_dir / "car_plate_KA22P3368.mp4"
    assert video_codec(source) == "h264" and has_b_frames(source)
    target = ensure_camera_like(source, tmp_path)
    assert target != source and video_codec(target) == "h264" and not has_b_frames(target)
    clip = load_clip(target)
    assert (clip.width, clip.height, len(clip.units)) == (552, 530, 138)
    assert all(u.pts_ns == u.dts_ns for u in clip.units)
    # One slice per frame, whatever the machine's cores (with zerolatency x264 would cut a slice per thread).
    assert all(_slices(u.data) == 1 for u in clip.units)


def _slices(access_unit: bytes) -> int:
    """Coded slices (NAL types 1 and 5) in an Annex-B access unit."""
    parts = access_unit.split(b"\x00\x00\x01")[1:]
    return sum(1 for part in parts if part and part[0] & 0x1F in (1, 5))


def test_a_file_with_no_video_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00" * 4096)
    with pytest.raises(ConfigError, match="not a readable video"):
        ensure_camera_like(fake, tmp_path / "cache")
