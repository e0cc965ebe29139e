from __future__ import annotations

import itertools
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from camera_sim.clip import Clip, load_clip
from camera_sim.feeder import SUB
from camera_sim.server import CameraSimulator, SimCamera
from camera_sim.transcode import CameraEncoding, Codec, transcoded
from pipeline.frame_stamp import nal_units
from tests.camera_sim.client import Reading, read


def assert_stamped_in_order(reading: Reading, *, lossless: bool = True) -> None:
    assert reading.stamps, "no packets"
    # A client joins the live stream at any RTP packet, possibly inside a frame's fragments, so its
    # first packet can be the tail of an access unit whose stamp it never saw.
    assert None not in reading.stamps[1:], "every packet carries a frame stamp"
    seqs = reading.seqs
    if lossless:
        assert all(b == a + 1 for a, b in itertools.pairwise(seqs)), seqs
    else:  # UDP may lose a packet, even on loopback
        assert all(b > a for a, b in itertools.pairwise(seqs)), seqs


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_client_decodes_stamped_frames(simulator: CameraSimulator, transport: str) -> None:
    reading = read(simulator.url("cam-hamilton"), transport, packets=30)
    assert_stamped_in_order(reading, lossless=transport == "tcp")
    assert reading.frame_sizes == {(640, 360)}
    sent_ns = [s.sent_ns for s in reading.stamps if s is not None]
    assert abs(sent_ns[-1] / 1e9 - time.time()) < 2


def test_concurrent_clients_share_each_camera(simulator: CameraSimulator) -> None:
    jobs = [("cam-hamilton", "tcp"), ("cam-hamilton", "udp"), ("cam-plate", "tcp")]
    with ThreadPoolExecutor(len(jobs)) as pool:
        readings = list(pool.map(lambda job: read(simulator.url(job[0]), job[1], packets=40), jobs))
    for reading, (_, transport) in zip(readings, jobs, strict=True):
        assert_stamped_in_order(reading, lossless=transport == "tcp")
    first, second, plate = readings
    assert first.frame_sizes == second.frame_sizes == {(640, 360)}
    assert plate.frame_sizes == {(552, 530)}
    # One live stream per camera: both viewers of a mount see the same frame numbers at the same time.
    assert set(first.seqs) & set(second.seqs)


def test_an_hevc_camera_is_served_as_hevc_with_stamps(hevc_hamilton: Clip) -> None:
    with CameraSimulator([SimCamera("cam-hevc", hevc_hamilton)], port=0) as sim:
        reading = read(sim.url("cam-hevc"), "tcp", packets=40, min_decoded=30)
    assert reading.codec == "hevc"
    assert_stamped_in_order(reading)
    assert reading.frame_sizes == {(640, 360)}


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_a_frame_of_several_slices_reaches_a_client_as_one_access_unit(video_dir: Path, codec: Codec) -> None:
    """Parameter sets only at the head of a keyframe: between its slices they would begin a new access
    unit, and FFmpeg's parser cut the keyframe into one picture per slice (the top of the frame grey)."""
    encoding = CameraEncoding(codec=codec, slices=4, preset="ultrafast")
    clip = load_clip(transcoded(video_dir / "hamilton_whitehouse_clip.mp4", encoding))
    syntax = clip.syntax
    per_packet: list[int] = []
    with (
        CameraSimulator([SimCamera("cam-slices", clip)], port=0) as sim,
        av.open(sim.url("cam-slices"), options={"rtsp_transport": "tcp"}, timeout=5.0) as container,
    ):
        for packet in container.demux(container.streams.video[0]):
            slices = sum(t in syntax.vcl_types for _, t in nal_units(bytes(packet), syntax))
            per_packet.append(slices)
            if len(per_packet) >= 70 or packet.size == 0:
                break
    assert set(per_packet[1:]) == {4}, per_packet  # the first may be the tail of a frame joined late


def test_a_sub_stream_sends_the_same_frames_smaller_with_the_same_stamps(
    hamilton: Clip, hevc_hamilton: Clip
) -> None:
    """A camera's two streams, as a worker reading its sub-stream and taking evidence from its main one
    sees them: one clock, one frame numbering."""
    camera = SimCamera("cam-two", hevc_hamilton, substream=hamilton)
    with CameraSimulator([camera], port=0) as sim, ThreadPoolExecutor(2) as pool:
        urls = [sim.url("cam-two"), sim.url("cam-two", SUB)]
        main, sub = pool.map(lambda url: read(url, "tcp", packets=60, min_decoded=40), urls)
        assert urls[1].endswith("/cam-two/sub")
        with pytest.raises(KeyError, match="no evidence stream"):
            sim.url("cam-two", "evidence")
    assert (main.codec, sub.codec) == ("hevc", "h264")
    assert_stamped_in_order(main)
    assert_stamped_in_order(sub)
    sent = {s.seq: s.sent_ns for s in main.stamps if s is not None}
    shared = [s for s in sub.stamps if s is not None and s.seq in sent]
    assert len(shared) > 30
    assert all(sent[s.seq] == s.sent_ns for s in shared)


def test_a_sub_stream_must_hold_the_main_streams_frames(hamilton: Clip, short_clip: Clip) -> None:
    with pytest.raises(ValueError, match="sub-stream has 60 frames, the main stream 275"):
        CameraSimulator([SimCamera("cam", hamilton, substream=short_clip)], port=0)


def test_unknown_mount_is_refused(simulator: CameraSimulator) -> None:
    with pytest.raises(av.error.HTTPNotFoundError):
        av.open(f"rtsp://127.0.0.1:{simulator.port}/cam-nope", options={"rtsp_transport": "tcp"}, timeout=5)


def test_camera_runs_on_its_own_clock_without_viewers(simulator: CameraSimulator) -> None:
    stats = simulator.stats()["cam-plate"]
    before = stats.frames_sent
    time.sleep(0.5)
    assert stats.frames_sent - before == pytest.approx(15, abs=3)
    assert stats.clock_resets == 0


def test_playback_continues_across_loop_points(short_clip: Clip) -> None:
    with CameraSimulator([SimCamera("cam-short", short_clip)], port=0) as sim:
        reading = read(sim.url("cam-short"), "tcp", packets=100, min_decoded=80, timeout_s=12)
        loops = sim.stats()["cam-short"].loops_started
    assert_stamped_in_order(reading)
    assert max(reading.seqs) > 2 * len(short_clip.units)
    assert loops >= 3
    # Frames after each loop point decode too: the stream restarts at a keyframe, seq keeps counting.
    assert any(seq >= 2 * len(short_clip.units) for seq in reading.decoded_seqs)


def test_finite_mode_ends_by_itself(short_clip: Clip) -> None:
    sim = CameraSimulator([SimCamera("cam-once", short_clip)], port=0, loops=2)
    start = time.monotonic()
    sim.start()
    try:
        reading = read(sim.url("cam-once"), "tcp", packets=10_000, min_decoded=10_000, timeout_s=10)
        assert sim.wait(timeout=5)
        elapsed = time.monotonic() - start
    finally:
        sim.stop()
    span_s = 2 * short_clip.span_ns / 1e9
    assert span_s <= elapsed < span_s + 2
    assert reading.ended
    assert reading.seqs[-1] == 2 * len(short_clip.units) - 1
    assert sim.stats()["cam-once"].frames_sent == 2 * len(short_clip.units)


def test_non_looping_camera_plays_once(short_clip: Clip, hamilton: Clip) -> None:
    cameras = [SimCamera("cam-once", short_clip, loop=False), SimCamera("cam-forever", hamilton)]
    with CameraSimulator(cameras, port=0) as sim:
        assert not sim.wait(timeout=short_clip.span_ns / 1e9 + 0.5)
        stats = sim.stats()
    assert stats["cam-once"].frames_sent == len(short_clip.units)
    assert stats["cam-forever"].frames_sent > len(short_clip.units)


def test_seconds_play_every_looping_camera_in_whole_loops_for_that_long(
    short_clip: Clip, hamilton: Clip
) -> None:
    """60 s of a 2 s clip and of a 9.2 s clip: 30 and 7 loops; a camera that does not loop plays once."""
    cameras = [
        SimCamera("short", short_clip),
        SimCamera("long", hamilton),
        SimCamera("once", hamilton, False),
    ]
    sim = CameraSimulator(cameras, port=0, seconds=60)
    assert sim.planned_loops() == {
        "short": math.ceil(60e9 / short_clip.span_ns),
        "long": math.ceil(60e9 / hamilton.span_ns),
        "once": 1,
    }
    assert sim.planned_loops()["long"] == 7
    sim = CameraSimulator(cameras[:1], port=0, seconds=short_clip.span_ns / 1e9 * 1.5)
    sim.start()
    try:
        assert sim.wait(timeout=2 * short_clip.span_ns / 1e9 + 3)
    finally:
        sim.stop()
    assert sim.stats()["short"].frames_sent == 2 * len(short_clip.units)
    with pytest.raises(ValueError, match="seconds"):
        CameraSimulator(cameras[:1], loops=2, seconds=10)


def test_port_in_use_is_a_clear_error(simulator: CameraSimulator, short_clip: Clip) -> None:
    other = CameraSimulator([SimCamera("cam-a", short_clip)], port=simulator.port)
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{simulator.port}"):
        other.start()
    other.stop()


def test_invalid_arguments(short_clip: Clip) -> None:
    with pytest.raises(ValueError, match="at least one camera"):
        CameraSimulator([])
    with pytest.raises(ValueError, match="unique"):
        CameraSimulator([SimCamera("a", short_clip), SimCamera("a", short_clip)])
    with pytest.raises(ValueError, match="loops"):
        CameraSimulator([SimCamera("a", short_clip)], loops=-1)


def test_a_low_rate_sub_stream_sends_every_nth_frame_with_its_stamp(hamilton: Clip) -> None:
    """A sub-stream at a fifth of the camera's rate (as cameras' analysis streams run at 5-6 fps): each
    of its frames is the main stream's frame of that instant, with the same stamp."""
    encoding = CameraEncoding(height=120, preset="ultrafast", frame_step=5)
    sub = load_clip(transcoded(hamilton.path, encoding))
    assert len(sub.units) == 55 and sub.fps == pytest.approx(hamilton.fps / 5, rel=0.01)
    camera = SimCamera("cam-low", hamilton, substream=sub, substream_step=5)
    with CameraSimulator([camera], port=0) as sim, ThreadPoolExecutor(2) as pool:
        main_read = pool.submit(read, sim.url("cam-low"), "tcp", packets=80, min_decoded=60)
        sub_reading = read(sim.url("cam-low", SUB), "tcp", packets=12, min_decoded=8)
        main_reading = main_read.result()
    seqs = sub_reading.seqs
    assert all(b - a == 5 for a, b in itertools.pairwise(seqs)), seqs
    sent = {s.seq: s.sent_ns for s in main_reading.stamps if s is not None}
    shared = [s for s in sub_reading.stamps if s is not None and s.seq in sent]
    assert len(shared) >= 8 and all(sent[s.seq] == s.sent_ns for s in shared)
    with pytest.raises(ValueError, match="every 4th in the"):
        CameraSimulator([SimCamera("cam", hamilton, substream=sub, substream_step=4)], port=0)
