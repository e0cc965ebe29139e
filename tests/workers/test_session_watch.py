"""A connection that decodes nothing: waiting for a long-GOP camera's keyframe (no reconnect churn), or
broken (opened again quickly)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest

from camera_sim.clip import Clip, load_clip
from camera_sim.server import CameraSimulator, SimCamera
from camera_sim.transcode import CameraEncoding, transcoded
from pipeline.frame_stamp import H264, nal_units
from tests.workers.media import HAMILTON
from tests.workers.source_reader import Reader
from workers.session_watch import SessionWatch, StallLimit

GOP_S = 15.0


@pytest.fixture(scope="module")
def long_gop() -> Clip:
    """A 'smart codec' camera: one keyframe every 15.3 s (the Hamilton clip at 18 fps, one GOP a loop)."""
    encoding = CameraEncoding(fps=18, gop_s=20, preset="ultrafast")
    clip = load_clip(transcoded(HAMILTON, encoding))
    assert [i for i, u in enumerate(clip.units) if u.keyframe] == [0]
    assert clip.span_ns / 1e9 == pytest.approx(GOP_S, abs=0.5)
    return clip


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_long_gop_camera_joined_after_its_keyframe_is_waited_for(
    long_gop: Clip, reader_factory: list[Reader]
) -> None:
    with CameraSimulator([SimCamera("cam", long_gop)], port=0) as sim:
        stats = sim.stats()["cam"]
        assert wait_for(lambda: stats.frames_sent >= 5, 5)  # its keyframe has gone out
        reader = Reader(sim.url("cam"), shipped=True)
        reader_factory.append(reader)
        reader.source.start()
        joined = time.monotonic()
        first = reader.frames(1, timeout=GOP_S + 5)
        waited = time.monotonic() - joined
        # Read while the camera still serves: its end, at the simulator's close, is a reconnection of its own.
        reconnects = reader.counters.reconnects
    assert first, f"no frame {GOP_S + 5:.0f} s after joining"
    assert waited > GOP_S - 3, f"decoded after {waited:.1f} s: the join was not between keyframes"
    assert reconnects == 0, "a camera waiting for its keyframe was reconnected"


def without_parameter_sets(clip: Clip) -> Clip:
    """The clip as a session opened without usable parameter sets sees it: keyframes that never decode."""

    def strip(data: bytes) -> bytes:
        nals = nal_units(data, H264)
        ends = [start for start, _ in nals[1:]] + [len(data)]
        return b"".join(
            data[start:end]
            for (start, t), end in zip(nals, ends, strict=True)
            if t not in H264.parameter_set_types
        )

    units = tuple(dataclasses.replace(u, data=strip(u.data)) for u in clip.units)
    return dataclasses.replace(clip, units=units, parameter_sets=b"")


def test_a_session_whose_keyframes_never_decode_is_opened_again(reader_factory: list[Reader]) -> None:
    clip = without_parameter_sets(load_clip(HAMILTON))
    with CameraSimulator([SimCamera("cam", clip)], port=0) as sim:
        reader = Reader(sim.url("cam"), shipped=True)
        reader_factory.append(reader)
        reader.source.start()
        assert wait_for(lambda: reader.counters.connected, 5)
        connected = time.monotonic()
        assert wait_for(lambda: reader.counters.reconnects >= 1, 10), "a broken session was kept"
        took = time.monotonic() - connected
    # Keyframes come every 2 s in this clip; the first limit is 3 s after one.
    assert took < 7, took
    assert reader.counters.frames_decoded == 0


@pytest.mark.parametrize(
    ("events", "broken", "overdue"),
    [
        ([("packet", 0.0, False), ("check", 20.0, None)], False, False),  # waiting for a keyframe
        ([("packet", 0.0, False), ("check", 61.0, None)], False, True),  # none for longer than allowed
        ([("packet", 10.0, True), ("check", 12.0, None)], False, False),  # a keyframe, decoding soon
        ([("packet", 10.0, True), ("check", 13.5, None)], True, False),  # it never decoded
        ([("packet", 10.0, True), ("frame", 10.1, None), ("check", 70.0, None)], False, False),
        ([("frame", 1.0, None), ("packet", 2.0, False), ("check", 62.0, None)], False, True),
    ],
)
def test_waiting_and_broken_are_told_apart(
    events: list[tuple[str, float, bool | None]], broken: bool, overdue: bool
) -> None:
    watch = SessionWatch(keyframe_wait_s=60, stall=StallLimit(first_s=3, max_s=12), now=0.0)
    for kind, at, keyframe in events:
        if kind == "packet":
            watch.packet(bool(keyframe), at)
        elif kind == "frame":
            watch.frame(at)
        else:
            assert watch.broken(at) == broken
            assert watch.keyframe_overdue(at) == overdue


def test_a_decoded_frame_resets_the_undecodable_limit() -> None:
    stall = StallLimit(first_s=3, max_s=12)
    stall.stalled()
    watch = SessionWatch(keyframe_wait_s=60, stall=stall, now=0.0)
    assert stall.seconds == 6
    watch.frame(1.0)
    assert stall.seconds == 3 and watch.decoding and watch.waiting_for_keyframe(2.0) == 0
