"""One camera's running pipeline in a worker: its RTSP source thread, its analysis thread (the runner
of its stages), its counters and the event that stops both."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from pipeline.settings import CameraConfig
from workers.cpu import ThreadCpu
from workers.evidence_upgrade import MainStreamEvidence
from workers.runner import CameraRunner
from workers.source import RtspSource
from workers.stats import CameraCounters


@dataclass
class CameraPipeline:
    config: CameraConfig
    source: RtspSource
    analyser: CameraRunner
    counters: CameraCounters
    stop: threading.Event  # this camera's threads only
    evidence: MainStreamEvidence | None = None  # the main stream, when a sub-stream is analysed
    decode_cpu: ThreadCpu = field(init=False)

    def __post_init__(self) -> None:
        self.decode_cpu = ThreadCpu(f"source-{self.config.id}")  # RtspSource names its thread so

    def sample_cpu(self) -> None:
        """Add the source thread's CPU since the last sample (demux, decode, colour) to the counters."""
        self.counters.add_cpu("decode", self.decode_cpu.take())

    def start(self) -> None:
        if self.evidence is not None:
            self.evidence.start()
        self.analyser.start()
        self.source.start()

    def join(self, timeout: float) -> None:
        self.source.join(timeout)
        self.analyser.join(timeout)
        if self.evidence is not None:  # after the analyser: its last hits still go out
            self.evidence.join(timeout)

    def alive(self) -> bool:
        return self.source.is_alive() or self.analyser.is_alive()
