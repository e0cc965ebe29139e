"""Camera streams as real cameras send them, and what the worker's ingest costs on each.

Inputs for the capacity bench (``--stream``): the Hamilton clip made into a camera's stream at 25 fps, a
keyframe every 2 s: ``h264-720p`` (what the bench has always used), ``h264-1080p``, ``hevc-1080p``,
``hevc-4k``, ``h264-1080p-bframes``, ``hevc-4k+sub`` (a 4K HEVC main stream with a 640x360 H.264
sub-stream of the same frames, the camera analysed on the sub-stream), and ``h264-720p+sub6``,
``h264-1080p+sub6``, ``hevc-4k+sub6`` (the sub-stream at a quarter of the rate, 6.25 fps, as cameras are
set up for analysis). Each is transcoded once into a
cache (camera_sim.transcode), the 4K one in about 80 s.

Run on its own, it measures the ingest of one camera (the worker's own RtspSource, and for a sub-stream
camera also its MainStreamReader) against camera_sim in this process: CPU milliseconds per camera-second
of the reading threads alone (their thread CPU clocks: camera_sim's threads are not counted), analysed at
5 fps, for each stream and decode setting, median of ``--runs``. For a sub-stream camera, also how long a
hit waits for its main-stream frame (decoded from the keyframe before it, for every frame of two GOPs).
With ``--similarity`` it scores Lin-Manuel Miranda's close-up against his enrolment photo on frames
decoded with and without the loop filter.

    python bench/capacity_streams.py [--streams hevc-4k,hevc-4k+sub] [--seconds 15] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camera_sim.clip import Clip, load_clip
from camera_sim.feeder import SUB
from camera_sim.server import CameraSimulator, SimCamera
from camera_sim.transcode import CameraEncoding, transcoded
from pipeline.camera_credentials import StreamAddress
from pipeline.settings import parse
from pipeline.types import CameraId, Frame
from tests.services import SHARED
from workers.frame_queue import DropOldestQueue
from workers.main_stream import MainStreamReader, PacketRing
from workers.source import RtspSource, SourceOptions
from workers.stats import CameraCounters

FPS = 25
ANALYSIS_FPS = 5.0
SOURCE = SHARED / "media/video/hamilton_whitehouse_clip.mp4"
_CAMERA = CameraEncoding(fps=FPS, gop_s=2, crf=23)
_HEVC = replace(_CAMERA, codec="hevc", crf=26, preset="ultrafast")  # x265 veryfast: 4K at ~1 fps here


@dataclass(frozen=True)
class StreamInput:
    """A camera's stream: its encoding, and the sub-stream analysed instead of it, if any."""

    encoding: CameraEncoding
    substream: CameraEncoding | None = None


STREAMS: dict[str, StreamInput] = {
    "h264-720p": StreamInput(replace(_CAMERA, height=720)),
    "h264-1080p": StreamInput(replace(_CAMERA, height=1080)),
    "h264-1080p-bframes": StreamInput(replace(_CAMERA, height=1080, b_frames=2)),
    "hevc-1080p": StreamInput(replace(_HEVC, height=1080)),
    "hevc-4k": StreamInput(replace(_HEVC, height=2160)),
    "hevc-4k+sub": StreamInput(replace(_HEVC, height=2160), replace(_CAMERA, height=360)),
    # As cameras are set up for analysis (Frigate's guidance): an H.264 sub-stream of 640x360 at the
    # analysis rate (every 4th frame: 6.25 fps), the main stream kept for evidence.
    "h264-720p+sub6": StreamInput(replace(_CAMERA, height=720), replace(_CAMERA, height=360, frame_step=4)),
    "h264-1080p+sub6": StreamInput(replace(_CAMERA, height=1080), replace(_CAMERA, height=360, frame_step=4)),
    "hevc-4k+sub6": StreamInput(replace(_HEVC, height=2160), replace(_CAMERA, height=360, frame_step=4)),
}


def cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "safecity-bench-media"


def stream_files(name: str, cache: Path | None = None) -> tuple[Path, Path | None]:
    """The files of stream ``name`` (main, sub-stream or None), made once into ``cache``."""
    stream = STREAMS[name]
    folder = cache or cache_dir()
    sub = transcoded(SOURCE, stream.substream, folder) if stream.substream is not None else None
    return transcoded(SOURCE, stream.encoding, folder), sub


def sub_step(name: str) -> int:
    """Every how many main-stream frames stream ``name``'s sub-stream has one (1: all, or none)."""
    sub = STREAMS[name].substream
    return sub.frame_step if sub is not None else 1


def add_stream_option(parser: argparse.ArgumentParser) -> None:
    """``--stream NAME`` for the capacity bench (default: its own 720p clip)."""
    parser.add_argument(
        "--stream",
        choices=sorted(STREAMS),
        default=None,
        help="the cameras' stream (Hamilton clip at 25 fps, made once); the sub-stream of '+sub' is analysed",
    )


def apply_stream(
    name: str | None, scenario: Path, settings: dict[str, Any], cache: Path | None = None
) -> None:
    """The capacity bench's hook: make its cameras (``settings['cameras']``, served by the camera_sim
    ``scenario`` file) send stream ``name`` instead (None: leave them). A '+sub' camera is analysed on its
    sub-stream (analysis_url), its 4K main stream kept for evidence."""
    if name is None:
        return
    main, sub = stream_files(name, cache)
    stream = STREAMS[name]
    entries = []
    for camera in settings["cameras"]:
        entry: dict[str, Any] = {"id": camera["id"], "file": str(main), "fps": FPS}
        if sub is not None and stream.substream is not None:
            entry["substream"] = {"codec": stream.substream.codec, "height": stream.substream.height}
            if stream.substream.frame_step > 1:
                entry["substream"]["fps"] = FPS / stream.substream.frame_step
            camera["analysis_url"] = f"{camera['url']}/sub"
        entries.append(entry)
    scenario.write_text(yaml.safe_dump({"cameras": entries}))


# -- measuring the ingest ---------------------------------------------------------------------------------


def thread_cpu_s(thread_id: int | None) -> float:
    """CPU seconds a thread of this process has used (0 for one not started)."""
    if thread_id is None:
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread_id))


@dataclass(frozen=True)
class Mode:
    skip_nonref: bool = True
    skip_loop_filter: bool = False

    @property
    def name(self) -> str:
        return ("skip_nonref" if self.skip_nonref else "all frames") + (
            " + no loop filter" if self.skip_loop_filter else ""
        )


def measure(clips: tuple[Clip, Clip | None], mode: Mode, seconds: float, step: int = 1) -> dict[str, float]:
    """One camera's ingest for ``seconds`` after a warm-up: CPU ms per camera-second of the analysed
    stream's source thread and of the main-stream reader (sub-stream cameras), decoded and analysed fps."""
    main, sub = clips
    defaults = parse({}).worker
    stop = threading.Event()
    queue: DropOldestQueue[Frame] = DropOldestQueue(2)
    counters = CameraCounters("bench")
    with CameraSimulator([SimCamera("cam", main, substream=sub, substream_step=step)], port=0) as sim:
        options = SourceOptions(
            address=StreamAddress(sim.url("cam", SUB if sub is not None else "")),
            analysis_fps=ANALYSIS_FPS,
            open_timeout_s=5,
            reconnect_initial_s=0.5,
            reconnect_max_s=2,
            stop_at_end=False,
            keyframe_wait_s=60,
            skip_nonref=mode.skip_nonref,
            skip_loop_filter=mode.skip_loop_filter,
        )
        source = RtspSource(CameraId("bench"), options, queue, counters, stop)
        reader = None
        if sub is not None:
            ring = PacketRing(defaults.streams.evidence_buffer_s)
            reader = MainStreamReader(
                "bench",
                StreamAddress(sim.url("cam")),
                ring,
                stop,
                open_timeout_s=5,
                reconnect_initial_s=0.5,
                reconnect_max_s=2,
                keyframe_wait_s=60,
            )
            reader.start()
        analysed = [0]
        drain = threading.Thread(target=_drain, args=(queue, stop, analysed), daemon=True)
        source.start()
        drain.start()
        _wait(lambda: counters.frames_decoded > FPS // step, 20)
        time.sleep(2)  # past the first GOP and the first sender report
        threads: list[Callable[[], float]] = [lambda: thread_cpu_s(source.thread_id)]
        if reader is not None:
            threads.append(lambda r=reader: thread_cpu_s(r.thread_id))
        before = [cpu() for cpu in threads]
        decoded, taken, start = counters.frames_decoded, analysed[0], time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - start
        used = [cpu() - b for cpu, b in zip(threads, before, strict=True)]
        result = {
            "source_cpu_ms_per_s": used[0] * 1e3 / elapsed,
            "main_stream_cpu_ms_per_s": used[1] * 1e3 / elapsed if reader is not None else 0.0,
            "decoded_fps": (counters.frames_decoded - decoded) / elapsed,
            "analysed_fps": (analysed[0] - taken) / elapsed,
            "reconnects": float(counters.reconnects),
        }
        stop.set()
        source.join(5)
        if reader is not None:
            reader.join(5)
    return result


def _drain(queue: DropOldestQueue[Frame], stop: threading.Event, taken: list[int]) -> None:
    while not stop.is_set():
        if queue.get(timeout=0.2) is not None:
            taken[0] += 1


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the camera gave no frames")
        time.sleep(0.1)


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}


def evidence_decode_ms(path: Path) -> dict[str, float]:
    """How long a hit waits for its main-stream frame: decoding from the keyframe before a frame to it
    (workers.evidence_upgrade.decode_last), for every frame of the file's first two GOPs, in ms (and
    the CPU ms of the process it takes, median)."""
    import av

    from workers.evidence_upgrade import decode_last
    from workers.main_stream import CodedFrame, Decoder, Found

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = stream.codec_context.extradata
        decoder = Decoder(stream.codec_context.name, bytes(extradata) if extradata else None)
        packets = [(bytes(p), p.pts, p.is_keyframe) for p in container.demux(stream) if p.size]
    keyframes = [i for i, (_, _, key) in enumerate(packets) if key]
    times, cpu = [], []
    for i in range(keyframes[0], keyframes[2] if len(keyframes) > 2 else len(packets)):
        start = max(k for k in keyframes if k <= i)
        frames = [CodedFrame(data, pts, 0, None) for data, pts, _ in packets[start : i + 1]]
        t0, c0 = time.perf_counter(), time.process_time()
        decoded = decode_last(Found(frames, decoder, 0, early=False), time.monotonic() + 60)
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
        assert decoded is not None
    return {
        "median": round(statistics.median(times), 1),
        "max": round(max(times), 1),
        "cpu_median": round(statistics.median(cpu), 1),
    }


# -- recognition on loop-filtered and unfiltered frames ---------------------------------------------------


def close_up_similarity(path: Path, skip_loop_filter: bool) -> float:
    """Median similarity of Lin-Manuel Miranda's close-up (every 5th frame) to his enrolment photo."""
    import av
    import cv2

    from pipeline.face import FaceAnalyzer

    settings = parse({"models_dir": str(SHARED / "models")})
    analyzer = FaceAnalyzer(settings, SHARED / "models")
    photo = cv2.imread(str(SHARED / "media/faces/lin_manuel_miranda/examples_lin-manuel-miranda.png"))
    _, enrolled = analyzer.analyse(photo)
    scores = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        if skip_loop_filter:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        for index, frame in enumerate(container.decode(stream)):
            if index in range(90, 210, 5):
                _, embeddings = analyzer.analyse(frame.to_ndarray(format="bgr24"))
                scores.append(float(max(embeddings @ enrolled[0])) if len(embeddings) else -1.0)
    return round(statistics.median(scores), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--streams", default=",".join(STREAMS), help="comma-separated, of: " + ", ".join(STREAMS)
    )
    parser.add_argument("--seconds", type=float, default=15, help="measurement window per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per stream and setting (median)")
    parser.add_argument("--similarity", action="store_true", help="also score faces with/without loop filter")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "seconds": args.seconds,
        "runs": args.runs,
        "analysis_fps": ANALYSIS_FPS,
        "streams": {},
    }
    for name in args.streams.split(","):
        main_file, sub_file = stream_files(name)
        clips = (load_clip(main_file), load_clip(sub_file) if sub_file else None)
        modes = [Mode(), Mode(skip_loop_filter=True)]
        if STREAMS[name].encoding.b_frames:
            modes.insert(0, Mode(skip_nonref=False))
        entry: dict[str, Any] = {
            "mbit_per_s": round(main_file.stat().st_size * 8 / 1e6 / (clips[0].span_ns / 1e9), 2),
            "modes": {},
        }
        for mode in modes:
            entry["modes"][mode.name] = medians(
                [measure(clips, mode, args.seconds, sub_step(name)) for _ in range(args.runs)]
            )
            if not args.json:
                print(f"{name:<20} {mode.name:<32} {entry['modes'][mode.name]}", flush=True)
        if sub_file is not None:
            entry["evidence_decode_ms"] = evidence_decode_ms(main_file)
            if not args.json:
                print(f"{name:<20} a hit's main-stream frame decoded in (ms) {entry['evidence_decode_ms']}")
        if args.similarity:
            measured = sub_file or main_file
            entry["close_up_similarity"] = {
                "loop filter": close_up_similarity(measured, False),
                "no loop filter": close_up_similarity(measured, True),
            }
            if not args.json:
                print(f"{name:<20} close-up similarity {entry['close_up_similarity']}", flush=True)
        results["streams"][name] = entry
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
