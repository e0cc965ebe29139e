"""A camera analysed on its sub-stream: its hit goes at once with the sub-stream's images, and the main
stream's frame of the same instant, decoded on demand from the packets kept, follows it as a FaceEvidence
of that hit; nothing follows when that frame cannot be had in time or right."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from camera_sim.clip import Clip, load_clip
from camera_sim.feeder import SUB
from camera_sim.server import CameraSimulator, SimCamera
from camera_sim.transcode import CameraEncoding, transcoded
from pipeline.camera_credentials import StreamAddress
from pipeline.contracts import Box, FaceEvidence, FaceHit
from pipeline.face import FaceAnalyzer
from pipeline.types import Frame
from tests.workers.media import HAMILTON, LIN_CLOSE_UP, video_frames
from tests.workers.source_reader import Reader
from workers.evidence import encode_jpeg, face_crop
from workers.evidence_upgrade import EvidenceOptions, EvidenceUpgrade
from workers.main_stream import CodedFrame, Decoder, MainStreamReader, PacketRing
from workers.publisher import Outgoing

MARGIN = 0.25


@pytest.fixture(scope="module")
def main_and_sub() -> tuple[Clip, Clip]:
    """The Hamilton clip (640x360) as the main stream, and at 320x180 as its sub-stream."""
    sub = transcoded(HAMILTON, CameraEncoding(height=180, preset="ultrafast"))
    return load_clip(HAMILTON), load_clip(sub)


class Camera:
    """camera_sim serving both streams; the worker's source on the sub-stream, the evidence reader on
    the main stream."""

    def __init__(self, main: Clip, sub: Clip, readers: list[Reader]) -> None:
        self.sim = CameraSimulator([SimCamera("cam", main, substream=sub)], port=0)
        self.sim.start()
        self.stop = threading.Event()
        self.ring = PacketRing(buffer_s=10)
        self.main = MainStreamReader(
            "cam",
            StreamAddress(self.sim.url("cam")),
            self.ring,
            self.stop,
            open_timeout_s=2,
            reconnect_initial_s=0.2,
            reconnect_max_s=1,
            keyframe_wait_s=60,
        )
        self.main.start()
        self.analysed = Reader(self.sim.url("cam", SUB), fps=5)
        readers.append(self.analysed)
        self.analysed.source.start()

    def close(self) -> None:
        self.stop.set()
        self.main.join(5)
        self.sim.stop()

    def close_up_frame(self) -> Frame:
        """An analysed frame of Lin-Manuel Miranda's close-up."""
        for _ in range(200):
            frame = self.analysed.frames(1, timeout=15)[0]
            assert frame.seq is not None
            if frame.seq % 275 in LIN_CLOSE_UP[10:-10]:
                return frame
        raise AssertionError("no frame of the close-up")

    def upgrade(self, hit: FaceHit, wait_s: float) -> FaceEvidence | None:
        """The main stream's images that followed the hit, if any."""
        published: list[Outgoing] = []
        options = EvidenceOptions(wait_s=wait_s, crop_margin=MARGIN, scene_max_side=640, jpeg_quality=95)
        upgrade = EvidenceUpgrade(
            "cam", self.ring, options, lambda: self.analysed.source.analysed_size, published.append
        )
        upgrade.start()
        upgrade.submit(hit)
        assert published == [hit]  # the hit went on at once, as it was
        upgrade.close(10)
        if len(published) == 1:
            return None
        (update,) = published[1:]
        assert isinstance(update, FaceEvidence)
        return update


@pytest.fixture
def camera(main_and_sub: tuple[Clip, Clip], reader_factory: list[Reader]) -> Iterator[Camera]:
    cam = Camera(*main_and_sub, reader_factory)
    yield cam
    cam.close()


def face_hit(frame: Frame, analyzer: FaceAnalyzer) -> FaceHit:
    detections = analyzer.detect(frame.image)
    assert len(detections) > 0, "no face in a close-up frame"
    i = int(np.argmax(detections.boxes[:, 2] * detections.boxes[:, 3]))
    x, y, w, h = (float(v) for v in detections.boxes[i])
    assert frame.sent_ns is not None
    return FaceHit(
        camera_id="cam",
        worker_id="test",
        frame_seq=frame.seq,
        frame_sent_at=datetime.fromtimestamp(frame.sent_ns / 1e9, UTC),
        captured_at=datetime.fromtimestamp(frame.received_ns / 1e9, UTC),
        box=Box(x=x, y=y, w=w, h=h),
        landmarks=[(float(px), float(py)) for px, py in detections.landmarks[i]],
        detector_score=float(detections.scores[i]),
        similarity=0.6,
        threshold=0.5,
        profile_id=1,
        profile_name="Lin-Manuel Miranda",
        category="wanted",
        embedder_model="mobilefacenet",
        crop_jpeg=encode_jpeg(face_crop(frame.image, (x, y, w, h), MARGIN), 95),
        scene_jpeg=encode_jpeg(frame.image, 95),
    )


def image(jpeg: bytes) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    return decoded


def test_the_evidence_is_the_main_streams_frame_of_the_same_instant(
    camera: Camera, analyzer: FaceAnalyzer
) -> None:
    frame = camera.close_up_frame()
    hit = face_hit(frame, analyzer)
    out = camera.upgrade(hit, wait_s=2)
    assert out is not None and out.hit_id == hit.event_id and out.camera_id == hit.camera_id
    crop = image(out.crop_jpeg)
    analysed_crop = image(hit.crop_jpeg)
    assert crop.shape[0] == pytest.approx(2 * analysed_crop.shape[0], abs=2)  # twice the pixels a side
    assert image(out.scene_jpeg).shape == (360, 640, 3)
    assert out.evidence.stream == "main" and out.evidence.correlation >= 0.6  # the alert says so
    assert FaceEvidence.from_bytes(out.to_bytes()) == out
    # The very frame the sub-stream's was made from: the file's frame of that number, cropped alike.
    b = hit.box
    originals = video_frames(HAMILTON, {(frame.seq or 0) % 275 + d for d in (-3, 0, 3)})
    differences = {
        d - (frame.seq or 0) % 275: float(
            np.abs(
                face_crop(original, (2 * b.x, 2 * b.y, 2 * b.w, 2 * b.h), MARGIN).astype(int) - crop
            ).mean()
        )
        for d, original in originals.items()
    }
    assert differences[0] < 2.5, differences  # JPEG at quality 95
    assert differences[0] < min(differences[-3], differences[3]), differences


def test_without_time_to_decode_the_hit_keeps_the_analysed_streams_images(
    camera: Camera, analyzer: FaceAnalyzer
) -> None:
    hit = face_hit(camera.close_up_frame(), analyzer)
    assert camera.upgrade(hit, wait_s=0.001) is None


def test_a_hit_from_before_the_packets_kept_keeps_its_images(camera: Camera, analyzer: FaceAnalyzer) -> None:
    frame = camera.close_up_frame()
    hit = face_hit(frame, analyzer)
    old = hit.model_copy(
        update={
            "frame_sent_at": datetime.fromtimestamp(frame.received_ns / 1e9 - 60, UTC),
            "captured_at": datetime.fromtimestamp(frame.received_ns / 1e9 - 60, UTC),
        }
    )
    assert camera.upgrade(old, wait_s=2) is None


def coded(pts: int, at_ms: int, data: bytes = b"x") -> CodedFrame:
    return CodedFrame(data, pts, at_ms * 1_000_000, captured_ns=None)


def test_the_ring_keeps_whole_gops_for_its_span_and_joins_a_picture_cut_in_two() -> None:
    ring = PacketRing(buffer_s=1)
    ring.reset(Decoder("h264", None))
    ring.add(coded(0, 100), keyframe=False)  # before any keyframe: undecodable, dropped
    for i in range(30):  # a keyframe every 10 frames, 100 ms apart
        ring.add(coded(i, 1000 + 100 * i), keyframe=i % 10 == 0)
    ring.add(coded(29, 3905, b"y"), keyframe=False)  # the rest of frame 29
    found = ring.find(None, 3_900_000_000)
    assert found is not None and not found.early
    assert [f.pts for f in found.frames] == list(range(20, 30))
    assert found.frames[-1].data == b"xy"
    assert ring.find(None, 1_000_000_000) is not None and ring.find(None, 1_000_000_000).frames[0].pts == 10  # type: ignore[union-attr]
    late = ring.find(None, 4_000_000_000)
    assert late is not None and late.early and late.distance_ns == 100_000_000
    ring.reset(None)
    assert ring.find(None, 3_900_000_000) is None


def test_no_decoding_is_started_when_its_frame_would_take_longer_than_the_time_given(
    camera: Camera, analyzer: FaceAnalyzer, caplog: pytest.LogCaptureFixture
) -> None:
    published: list[Outgoing] = []
    options = EvidenceOptions(wait_s=2, crop_margin=MARGIN, scene_max_side=640, jpeg_quality=95)
    upgrade = EvidenceUpgrade(
        "cam", camera.ring, options, lambda: camera.analysed.source.analysed_size, published.append
    )
    upgrade.start()
    upgrade.submit(face_hit(camera.close_up_frame(), analyzer))  # learns how fast this stream decodes
    deadline = time.monotonic() + 10
    while upgrade.upgraded == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    upgrade._opt = replace(options, wait_s=1e-4)
    hurried = face_hit(camera.close_up_frame(), analyzer)
    with caplog.at_level("INFO", logger="workers.evidence_upgrade"):
        upgrade.submit(hurried)
        upgrade.close(10)
    assert (upgrade.upgraded, upgrade.kept) == (1, 1)
    assert len(published) == 3 and isinstance(published[1], FaceEvidence) and published[2] == hurried
    assert "frames to decode would take" in caplog.text
    # How long after the hit it was seen to is logged (the capacity bench reads it): under a second.
    [record] = [r for r in caplog.records if "evidence_update_ms" in r.__dict__]
    assert 0 <= record.__dict__["evidence_update_ms"] < 1000
