from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_sim.clip import Clip, load_clip
from camera_sim.server import CameraSimulator, SimCamera
from camera_sim.transcode import CameraEncoding, transcoded
from tests.services import SHARED

VIDEO = SHARED / "media" / "video"


@pytest.fixture(scope="session")
def hamilton() -> Clip:
    """640x360, 29.97 fps, 275 frames, keyframes every ~2 s."""
    return load_clip(VIDEO / "hamilton_whitehouse_clip.mp4")


@pytest.fixture(scope="session")
def plate() -> Clip:
    """552x530 with B-frames and a single keyframe."""
    return load_clip(VIDEO / "car_plate_KA22P3368.mp4")


@pytest.fixture(scope="session")
def hevc_hamilton() -> Clip:
    """The hamilton clip as an HEVC camera sends it: 640x360, four slices per frame, a keyframe a second
    (transcoded once per machine into the simulator's cache)."""
    encoding = CameraEncoding(codec="hevc", slices=4, preset="ultrafast", crf=26)
    return load_clip(transcoded(VIDEO / "hamilton_whitehouse_clip.mp4", encoding))


@pytest.fixture(scope="session")
def short_clip(hamilton: Clip) -> Clip:
    """The first GOP of the hamilton clip (60 frames, 2 s), so tests cross loop points quickly."""
    units = hamilton.units[:60]
    span = units[-1].dts_ns + units[-1].duration_ns
    return dataclasses.replace(hamilton, units=units, span_ns=span)


@pytest.fixture(scope="module")
def simulator(hamilton: Clip, plate: Clip) -> Iterator[CameraSimulator]:
    """Two cameras playing forever on a free port, shared by the tests of a module."""
    cameras = [SimCamera("cam-hamilton", hamilton), SimCamera("cam-plate", plate)]
    with CameraSimulator(cameras, port=0) as sim:
        yield sim


@pytest.fixture
def video_dir() -> Path:
    return VIDEO
