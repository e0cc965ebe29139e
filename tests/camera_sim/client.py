"""A PyAV RTSP reader for tests: what a worker would see, packet by packet."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import av

from pipeline.frame_stamp import FrameStamp, find_stamp


@dataclass
class Reading:
    stamps: list[FrameStamp | None] = field(default_factory=list)
    frame_sizes: set[tuple[int, int]] = field(default_factory=set)
    decoded_seqs: list[int] = field(default_factory=list)
    ended: bool = False
    codec: str = ""

    @property
    def seqs(self) -> list[int]:
        return [s.seq for s in self.stamps if s is not None]


def read(url: str, transport: str, *, packets: int, min_decoded: int = 1, timeout_s: float = 10.0) -> Reading:
    """Read until ``packets`` packets and ``min_decoded`` frames arrived, the stream ended or time ran out."""
    reading = Reading()
    deadline = time.monotonic() + timeout_s
    with av.open(url, options={"rtsp_transport": transport}, timeout=5.0) as container:
        stream = container.streams.video[0]
        reading.codec = stream.codec_context.name
        for packet in container.demux(stream):
            if packet.size == 0:
                reading.ended = True
                break
            stamp = find_stamp(bytes(packet))
            reading.stamps.append(stamp)
            for frame in packet.decode():
                reading.frame_sizes.add((frame.width, frame.height))
                if stamp is not None:
                    reading.decoded_seqs.append(stamp.seq)
            enough = len(reading.stamps) >= packets and len(reading.decoded_seqs) >= min_decoded
            if enough or time.monotonic() > deadline:
                break
    return reading
