"""The worker's RTSP source as tests drive it: frames taken from its queue as the analysis would."""

from __future__ import annotations

import threading
import time

from pipeline.camera_credentials import StreamAddress
from pipeline.settings import parse
from pipeline.types import CameraId, Frame
from workers.frame_queue import DropOldestQueue
from workers.source import RtspSource, SourceOptions
from workers.stats import CameraCounters


class Reader:
    """``shipped=True`` reads with the worker's default reconnection settings, as a deployment does."""

    def __init__(
        self,
        url: str | StreamAddress,
        *,
        fps: float = 5,
        stop_at_end: bool = False,
        shipped: bool = False,
        skip_nonref: bool | None = None,
    ) -> None:
        self.queue: DropOldestQueue[Frame] = DropOldestQueue(1000)
        self.counters = CameraCounters("cam")
        self.stop = threading.Event()
        defaults = parse({}).worker
        options = SourceOptions(
            address=url if isinstance(url, StreamAddress) else StreamAddress(url),
            analysis_fps=fps,
            open_timeout_s=defaults.open_timeout_s if shipped else 2,
            reconnect_initial_s=defaults.reconnect_initial_s if shipped else 0.2,
            reconnect_max_s=defaults.reconnect_max_s if shipped else 1,
            stop_at_end=stop_at_end,
            keyframe_wait_s=defaults.streams.keyframe_wait_s,
            skip_nonref=defaults.streams.skip_nonref if skip_nonref is None else skip_nonref,
            skip_loop_filter=defaults.streams.skip_loop_filter,
        )
        self.source = RtspSource(CameraId("cam"), options, self.queue, self.counters, self.stop)

    def frames(self, n: int, timeout: float) -> list[Frame]:
        out: list[Frame] = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            frame = self.queue.get(timeout=0.2)
            if frame is not None:
                out.append(frame)
        return out
