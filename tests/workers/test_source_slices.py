"""Frames coded in several slices reach the worker whole: real cameras send them so, and a frame that lost
a slice is a frame whose face or plate the analysis never sees."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from camera_sim.clip import AccessUnit, Clip, load_clip
from camera_sim.server import CameraSimulator, SimCamera
from camera_sim.transcode import CameraEncoding, Codec, transcoded
from pipeline.frame_stamp import H264, nal_units
from tests.workers.media import HAMILTON, video_frames
from tests.workers.source_reader import Reader

SLICES = 4


def multi_slice(codec: Codec) -> Clip:
    return load_clip(transcoded(HAMILTON, CameraEncoding(codec=codec, slices=SLICES, preset="ultrafast")))


def assert_frames_whole(clip: Clip, reader: Reader) -> None:
    """Frames taken from the stream are the file's frames, pixel for pixel, top to bottom."""
    first = reader.frames(1, timeout=15)
    assert first, "no frame within 15 s"
    frames = first + reader.frames(30, timeout=15)
    reference = video_frames(clip.path)
    for frame in frames:
        assert frame.seq is not None
        expected = reference[frame.seq % len(clip.units)]
        rows = np.abs(frame.image.astype(np.int16) - expected).mean(axis=(1, 2))
        # A lost slice shows as a band of rows that differs; each quarter of the picture must match.
        bands = [float(band.mean()) for band in np.array_split(rows, SLICES)]
        assert max(bands) < 0.5, f"frame {frame.seq}: mean difference per band {bands}"


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_frames_of_several_slices_arrive_whole(codec: Codec, reader_factory: list[Reader]) -> None:
    clip = multi_slice(codec)
    syntax = clip.syntax
    assert all(sum(t in syntax.vcl_types for _, t in nal_units(u.data, syntax)) == SLICES for u in clip.units)
    with CameraSimulator([SimCamera("cam", clip)], port=0) as sim:
        reader = Reader(sim.url("cam"), fps=30)
        reader_factory.append(reader)
        reader.source.start()
        assert_frames_whole(clip, reader)


def with_parameter_sets_before_every_keyframe_slice(clip: Clip) -> Clip:
    """The clip as a server that repeats SPS and PPS before every IDR slice sends it (GStreamer's
    rtph264pay with config-interval=-1, on which many cameras and encoders are built)."""

    def repeat(unit: AccessUnit) -> AccessUnit:
        if not unit.keyframe:
            return unit
        nals = nal_units(unit.data, H264)
        ends = [start for start, _ in nals[1:]] + [len(unit.data)]
        parts = [
            (clip.parameter_sets if nal_type == 5 else b"") + unit.data[start:end]
            for (start, nal_type), end in zip(nals, ends, strict=True)
            if nal_type not in H264.parameter_set_types
        ]
        return dataclasses.replace(unit, data=b"".join(parts))

    return dataclasses.replace(clip, units=tuple(repeat(u) for u in clip.units))


def test_parameter_sets_between_the_slices_of_a_keyframe_do_not_cut_it(reader_factory: list[Reader]) -> None:
    clip = with_parameter_sets_before_every_keyframe_slice(multi_slice("h264"))
    keyframe = next(u for u in clip.units if u.keyframe)
    assert [t for _, t in nal_units(keyframe.data, H264)].count(7) == SLICES
    with CameraSimulator([SimCamera("cam", clip)], port=0) as sim:
        reader = Reader(sim.url("cam"), fps=30)
        reader_factory.append(reader)
        reader.source.start()
        assert_frames_whole(clip, reader)
