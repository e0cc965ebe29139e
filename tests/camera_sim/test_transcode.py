from __future__ import annotations

from pathlib import Path

import pytest

from camera_sim.clip import load_clip
from camera_sim.transcode import ensure_h264, has_b_frames, video_codec
from pipeline.settings import ConfigError


def test_h264_files_are_used_as_they_are(video_dir: Path, tmp_path: Path) -> None:
    path = video_dir / "hamilton_whitehouse_clip.mp4"
    assert ensure_h264(path, tmp_path) == path
    assert list(tmp_path.iterdir()) == []


def test_other_codecs_are_transcoded_once_and_cached(video_dir: Path, tmp_path: Path) -> None:
    source = video_dir / "six_people_group.mp4"
    assert video_codec(source) == "mpeg4"
    first = ensure_h264(source, tmp_path)
    assert video_codec(first) == "h264"
    mtime = first.stat().st_mtime_ns
    assert ensure_h264(source, tmp_path) == first
    assert first.stat().st_mtime_ns == mtime
    clip = load_clip(first)
    assert (clip.width, clip.height, len(clip.units)) == (1920, 1080, 8)
    assert clip.units[0].keyframe
    assert clip.fps == pytest.approx(8.0)


def test_h264_with_b_frames_is_made_camera_like(video_dir: Path, tmp_path: Path) -> None:
    """A dash-cam recording stores frames out of display order; a camera never sends them so."""
    source = video_dir / "car_plate_KA22P3368.mp4"
    assert video_codec(source) == "h264" and has_b_frames(source)
    target = ensure_h264(source, tmp_path)
    assert target != source and video_codec(target) == "h264" and not has_b_frames(target)
    clip = load_clip(target)
    assert (clip.width, clip.height, len(clip.units)) == (552, 530, 138)
    assert all(u.pts_ns == u.dts_ns for u in clip.units)
    # One slice per frame: the first of several slices did not survive the RTSP path to the worker.
    assert all(_slices(u.data) == 1 for u in clip.units)


def _slices(access_unit: bytes) -> int:
    """Coded slices (NAL types 1 and 5) in an Annex-B access unit."""
    parts = access_unit.split(b"\x00\x00\x01")[1:]
    return sum(1 for part in parts if part and part[0] & 0x1F in (1, 5))


def test_a_file_with_no_video_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00" * 4096)
    with pytest.raises(ConfigError, match="not a readable video"):
        ensure_h264(fake, tmp_path / "cache")
