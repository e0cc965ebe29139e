"""A hit's evidence from the camera's main stream: its face crop and scene at the main stream's resolution.

A camera analysed on its sub-stream (360p, say) matches faces of 30-60 pixels; an operator verifying the
alert against the enrolment photo needs more. The main stream's frame of the same instant (4K: six times
the pixels a side) is decoded on demand from the packets ``MainStreamReader`` keeps, in this camera's
evidence thread, and its crop of the hit's box is sent after the hit as a ``FaceEvidence`` of that hit.

What a control room needs decides the rules. The alert must not wait for its sharper picture: the hit is
published at once with the sub-stream's images (decoding from the keyframe before the frame took a median
0.10 s for 1080p H.264, 0.41 s for 4K HEVC with a 2 s GOP, and that was most of what an alert waited
beyond its analysis), and the command centre puts the main stream's images on the alert when they come,
in place. The worker tries for them at most ``wait_s`` after the hit, and not at all when the frames to
decode would take longer than that at the rate this stream has decoded so far. The evidence must show
what the matcher saw: the main stream's crop is sent only when it is of the same instant (the nearest
frame within ``MAX_DISTANCE_NS``) and looks like the analysed crop (normalised correlation of the two, at
the sub-stream's size). Otherwise the alert keeps the sub-stream's images. Plate reads pass straight
through.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
import cv2
import numpy as np
from av.codec.context import Flags2
from av.video.codeccontext import VideoCodecContext

from pipeline.contracts import EvidenceSource, FaceEvidence, FaceHit
from pipeline.settings import CameraConfig, WorkerSettings
from pipeline.types import Image
from workers.evidence import downscale, encode_jpeg, face_crop
from workers.main_stream import Found, MainStreamReader, PacketRing
from workers.publisher import Outgoing
from workers.source import bgr_of

log = logging.getLogger(__name__)

Submit = Callable[[Outgoing], None]
MAX_DISTANCE_NS = 100_000_000  # a frame further from the analysed one is another instant
MIN_CORRELATION = 0.6  # the same face at two resolutions correlates at 0.9 and more
_DECODE_THREADS = 2  # throughput, not latency: the frames are flushed at the end
_POLL_S = 0.01


@dataclass(frozen=True)
class EvidenceOptions:
    wait_s: float
    crop_margin: float
    scene_max_side: int
    jpeg_quality: int


class EvidenceUpgrade:
    """Wraps a camera's ``submit``: a face hit goes on at once, and its main-stream images follow it (tried
    for at most ``wait_s``) as a ``FaceEvidence`` of the same hit.

    ``analysed_size`` gives the analysed stream's frame size (width, height), to scale a hit's box.
    """

    def __init__(
        self,
        camera_id: str,
        ring: PacketRing,
        options: EvidenceOptions,
        analysed_size: Callable[[], tuple[int, int] | None],
        submit: Submit,
    ) -> None:
        self.camera_id = camera_id
        self._ring = ring
        self._opt = options
        self._analysed_size = analysed_size
        self._submit = submit
        self._closed = False
        self._lock = threading.Lock()  # a hit is queued only while the thread will still take it
        self._waiting: queue.Queue[tuple[FaceHit, float] | None] = queue.Queue()
        self.upgraded = 0
        self.kept = 0
        self._s_per_frame: float | None = None  # decoding cost of this main stream, learnt as hits come
        self._thread = threading.Thread(target=self._run, name=f"evidence-hits-{camera_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float | None = None) -> None:
        """No more main-stream images: hits queued are still seen to (each within its deadline), later ones
        go with their own images only. Call once the analysis that submits has stopped."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._waiting.put(None)
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, hit: Outgoing) -> None:
        """Called from the camera's analysis thread; never blocks. The hit is handed on first, so its
        evidence (published after it, on the same stream) never overtakes it."""
        self._submit(hit)
        with self._lock:
            if isinstance(hit, FaceHit) and not self._closed:
                self._waiting.put((hit, time.monotonic() + self._opt.wait_s))

    def _run(self) -> None:
        while (item := self._waiting.get()) is not None:  # None: closed, and nothing queued after it
            hit, deadline = item
            update = self._main_stream_images(hit, deadline)
            if update is not None:
                self._submit(update)

    def _main_stream_images(self, hit: FaceHit, deadline: float) -> FaceEvidence | None:
        started = time.perf_counter()
        try:
            update, why = self._upgrade(hit, deadline)
        except Exception:
            log.exception("camera %s: evidence from the main stream failed", self.camera_id)
            update, why = None, "failed"
        # From the hit's publication to its sharper images: queued behind others, found, decoded.
        after_ms = round((time.monotonic() - deadline + self._opt.wait_s) * 1e3, 1)
        extra = {"camera_id": self.camera_id, "event_id": str(hit.event_id), "evidence_update_ms": after_ms}
        if update is None:
            self.kept += 1
            log.info(
                "camera %s: hit evidence from the analysed stream only (main stream: %s)",
                self.camera_id,
                why,
                extra=extra,
            )
            return None
        self.upgraded += 1
        log.info(
            "camera %s: hit evidence from the main stream follows the hit (%s, %.0f ms)",
            self.camera_id,
            why,
            (time.perf_counter() - started) * 1e3,
            extra=extra,
        )
        return update

    def _find(self, hit: FaceHit, deadline: float) -> Found | None:
        """The main stream's frame of the hit's instant, waiting (to the deadline) if it is still coming."""
        captured = int(hit.frame_sent_at.timestamp() * 1e9) if hit.frame_sent_at is not None else None
        arrived = int(hit.captured_at.timestamp() * 1e9)
        found = self._ring.find(captured, arrived)
        while found is not None and found.early and time.monotonic() < deadline:
            time.sleep(_POLL_S)
            found = self._ring.find(captured, arrived)
        return found

    def _upgrade(self, hit: FaceHit, deadline: float) -> tuple[FaceEvidence | None, str]:
        size = self._analysed_size()
        if size is None:
            return None, "analysed frame size unknown"
        found = self._find(hit, deadline)
        if found is None or found.distance_ns > MAX_DISTANCE_NS:
            return None, "no frame of that instant kept"
        frames = len(found.frames)
        left_s = deadline - time.monotonic()
        if self._s_per_frame is not None and frames * self._s_per_frame > left_s:
            # Not worth starting: it could not be done within the time given.
            return None, f"{frames} frames to decode would take ~{frames * self._s_per_frame:.2f} s"
        started = time.perf_counter()
        image = decode_last(found, deadline)
        if image is None:
            return None, f"not decoded within {self._opt.wait_s:.2f} s"
        took = (time.perf_counter() - started) / frames
        self._s_per_frame = took if self._s_per_frame is None else 0.7 * self._s_per_frame + 0.3 * took
        sx, sy = image.shape[1] / size[0], image.shape[0] / size[1]
        box = hit.box
        crop = face_crop(image, (box.x * sx, box.y * sy, box.w * sx, box.h * sy), self._opt.crop_margin)
        likeness = correlation(hit.crop_jpeg, crop)
        if likeness < MIN_CORRELATION:
            return None, f"its crop does not look like the analysed one (correlation {likeness:.2f})"
        quality = self._opt.jpeg_quality
        update = FaceEvidence(
            camera_id=hit.camera_id,
            worker_id=hit.worker_id,
            hit_id=hit.event_id,
            crop_jpeg=encode_jpeg(crop, quality),
            scene_jpeg=encode_jpeg(downscale(image, self._opt.scene_max_side), quality),
            evidence=EvidenceSource(
                stream="main",
                width=image.shape[1],
                height=image.shape[0],
                offset_ms=round(found.distance_ns / 1e6, 1),
                correlation=round(likeness, 3),
            ),
        )
        summary = (
            f"{image.shape[1]}x{image.shape[0]}, {len(found.frames)} frames decoded, "
            f"{found.distance_ns / 1e6:.0f} ms apart, correlation {likeness:.2f}"
        )
        return update, summary


def decode_last(found: Found, deadline: float) -> Image | None:
    """The last of ``found.frames`` decoded (from the keyframe that starts them), BGR; None past deadline.

    Frames between are decoded only if others refer to them (NONREF skipped), on a couple of threads.
    """
    ctx = av.CodecContext.create(found.decoder.codec, "r")
    if not isinstance(ctx, VideoCodecContext):
        raise TypeError(f"{found.decoder.codec} is not a video codec")
    if found.decoder.extradata:
        ctx.extradata = found.decoder.extradata
    ctx.thread_count = _DECODE_THREADS
    ctx.flags2 |= Flags2.chunks
    target = found.frames[-1]
    last: av.VideoFrame | None = None

    def keep(frames: list[av.VideoFrame]) -> av.VideoFrame | None:
        mine = [f for f in frames if target.pts is None or f.pts == target.pts]
        return mine[-1] if mine else last

    for coded in found.frames:
        if time.monotonic() > deadline:
            return None
        ctx.skip_frame = "DEFAULT" if coded is target else "NONREF"
        packet = av.Packet(coded.data)
        packet.pts = coded.pts
        try:
            last = keep(ctx.decode(packet))
        except av.error.InvalidDataError:
            continue
    last = keep(ctx.decode(None))
    if last is None:
        return None
    return bgr_of(last)


def correlation(analysed_jpeg: bytes, crop: Image) -> float:
    """Normalised correlation of two crops of one box, compared in grey at the analysed crop's size."""
    analysed = cv2.imdecode(np.frombuffer(analysed_jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    if analysed is None or analysed.size == 0 or crop.size == 0:
        return -1.0
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    resized = cv2.resize(grey, (analysed.shape[1], analysed.shape[0]), interpolation=cv2.INTER_AREA)
    return float(cv2.matchTemplate(resized, analysed, cv2.TM_CCOEFF_NORMED)[0, 0])


class MainStreamEvidence:
    """A camera's main stream kept for evidence and its hits waiting for it: started and stopped together."""

    def __init__(
        self,
        camera: CameraConfig,
        worker: WorkerSettings,
        analysed_size: Callable[[], tuple[int, int] | None],
        submit: Submit,
        stop: threading.Event,
    ) -> None:
        streams = worker.streams
        ring = PacketRing(streams.evidence_buffer_s)
        self.reader = MainStreamReader(
            camera.id,
            camera.main_stream,
            ring,
            stop,
            open_timeout_s=worker.open_timeout_s,
            reconnect_initial_s=worker.reconnect_initial_s,
            reconnect_max_s=worker.reconnect_max_s,
            keyframe_wait_s=streams.keyframe_wait_s,
            auth_retry_initial_s=worker.auth_retry_initial_s,
            auth_retry_max_s=worker.auth_retry_max_s,
        )
        options = EvidenceOptions(
            streams.evidence_wait_s, worker.crop_margin, worker.scene_max_side, worker.jpeg_quality
        )
        self.hits = EvidenceUpgrade(camera.id, ring, options, analysed_size, submit)

    @classmethod
    def for_camera(
        cls,
        camera: CameraConfig,
        worker: WorkerSettings,
        analysed_size: Callable[[], tuple[int, int] | None],
        submit: Submit,
        stop: threading.Event,
    ) -> MainStreamEvidence | None:
        """None unless the camera is analysed on a sub-stream and its hits' evidence is taken from the main
        one (``evidence_wait_s`` > 0)."""
        if camera.analysis_url is None or worker.streams.evidence_wait_s == 0:
            return None
        return cls(camera, worker, analysed_size, submit, stop)

    def submit(self, hit: Outgoing) -> None:
        self.hits.submit(hit)

    def start(self) -> None:
        self.hits.start()
        self.reader.start()

    def join(self, timeout: float) -> None:
        """After the camera's analysis stopped (the stop event also ends the reader)."""
        self.hits.close(timeout)
        self.reader.join(timeout)
