from __future__ import annotations

import asyncio
import uuid

import nats
from nats.aio.msg import Msg

from camera_sim.clip import Clip
from camera_sim.publisher import FramePublisher
from camera_sim.server import CameraSimulator, SimCamera
from pipeline.contracts import FrameSent
from tests.camera_sim.client import read
from tests.names import subjects
from tests.services import free_port


async def test_frame_sent_events_match_the_stamps_in_the_stream(nats_url: str, short_clip: Clip) -> None:
    camera_id = f"cam-{uuid.uuid4().hex[:8]}"
    received: list[FrameSent] = []
    nc = await nats.connect(nats_url)

    async def collect(msg: Msg) -> None:
        received.append(FrameSent.from_bytes(msg.data))

    await nc.subscribe(subjects.sim_frames(camera_id), cb=collect)
    await nc.flush()
    publisher = FramePublisher(nats_url, subjects)
    assert await asyncio.to_thread(publisher.start)
    sim = CameraSimulator([SimCamera(camera_id, short_clip)], port=0, loops=2, on_frame_sent=publisher.offer)
    try:
        sim.start()
        reading = await asyncio.to_thread(read, sim.url(camera_id), "tcp", packets=40)
        assert await asyncio.to_thread(sim.wait, 5)
    finally:
        sim.stop()
        await asyncio.to_thread(publisher.stop)
    await nc.flush()
    await asyncio.sleep(0.2)
    await nc.drain()

    frames = 2 * len(short_clip.units)
    assert [e.seq for e in received] == list(range(frames))
    assert [e.loop for e in received] == [0] * len(short_clip.units) + [1] * len(short_clip.units)
    assert {e.camera_id for e in received} == {camera_id}
    by_seq = {e.seq: e.sent_at_ns for e in received}
    stamps = [s for s in reading.stamps if s is not None]
    assert len(stamps) >= 40
    assert all(by_seq[s.seq] == s.sent_ns for s in stamps)
    assert publisher.stats.published == frames
    assert publisher.stats.dropped == 0


def test_video_is_served_without_nats(short_clip: Clip) -> None:
    publisher = FramePublisher(f"nats://127.0.0.1:{free_port()}", subjects)
    assert not publisher.start(wait_connected_s=0.5)
    with CameraSimulator([SimCamera("cam-a", short_clip)], port=0, on_frame_sent=publisher.offer) as sim:
        reading = read(sim.url("cam-a"), "tcp", packets=10, min_decoded=0)
        assert sim.stats()["cam-a"].callback_errors == 0
    publisher.stop()
    assert len(reading.stamps) >= 10
    assert publisher.stats.published == 0
    assert publisher.stats.dropped > 0


def test_a_full_buffer_drops_the_oldest_events() -> None:
    publisher = FramePublisher("nats://127.0.0.1:1", subjects, buffer_size=3)
    for seq in range(5):
        publisher.offer("cam-a", seq, 0, seq)
    assert publisher.stats.dropped == 2
