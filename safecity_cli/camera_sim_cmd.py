"""``safecity camera-sim``: serve the cameras of a scenario file over RTSP until stopped.

The scenario is checked when the command runs (``--validate-config`` checks the settings file only,
before any subcommand code): an invalid scenario exits with code 2 before anything listens.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from pipeline.settings import ConfigError, Settings
from safecity_cli.main import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError

log = logging.getLogger(__name__)


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "camera-sim",
        parents=[parent],
        help="serve video files as RTSP cameras",
        description="Replay H.264 files as live RTSP cameras (rtsp://HOST:PORT/<camera id>).",
    )
    parser.add_argument("--scenario", type=Path, help="scenario YAML (default: camera_sim.scenario)")
    parser.add_argument("--host", help="listen address (default: camera_sim.host)")
    parser.add_argument("--port", type=int, help="RTSP port, 0 picks a free one (default: camera_sim.port)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--loops", type=_non_negative, default=0, help="play every file N times, then exit (0: forever)"
    )
    length.add_argument(
        "--seconds",
        type=_positive_seconds,
        default=None,
        metavar="S",
        help="play every looping file, in whole loops, for at least S seconds, then exit",
    )
    parser.add_argument("--no-publish", action="store_true", help="do not publish FrameSent events to NATS")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here so that `safecity --help` and other subcommands never load GStreamer.
    from camera_sim.publisher import FramePublisher
    from camera_sim.scenario import load_scenario
    from camera_sim.server import CameraSimulator

    conf = settings.camera_sim
    scenario_path: Path = args.scenario or conf.scenario
    try:
        scenario = load_scenario(scenario_path)
        publisher = None
        if conf.publish_frames and not args.no_publish:
            publisher = FramePublisher(settings.nats_url, settings.nats.subjects)
        simulator = CameraSimulator.from_scenario(
            scenario,
            host=args.host or conf.host,
            port=conf.port if args.port is None else args.port,
            loops=args.loops,
            seconds=args.seconds,
            on_frame_sent=publisher.offer if publisher else None,
            cache_dir=settings.data_dir / "camera_sim",
        )
    except ConfigError as exc:
        raise CommandError(str(exc), code=EXIT_USAGE) from None

    stop = threading.Event()
    with _stop_on_signals(stop):
        if publisher is not None:
            publisher.start()
        try:
            simulator.start()
        except OSError as exc:
            if publisher is not None:
                publisher.stop()
            raise CommandError(str(exc), code=EXIT_FAILURE) from None
        metrics = None
        try:
            if conf.metrics_port:
                from safecity_cli.camera_sim_metrics import serve_metrics

                try:
                    metrics = serve_metrics(simulator, args.host or conf.host, conf.metrics_port)
                except ConfigError as exc:
                    raise CommandError(str(exc), code=EXIT_USAGE) from None
            for url in simulator.urls().values():
                print(f"camera-sim: serving {url}", flush=True)
            # Short waits keep the main thread responsive to signals.
            while not stop.is_set() and not simulator.wait(0.2):
                pass
        finally:
            if metrics is not None:
                metrics.shutdown()
            simulator.stop()
            if publisher is not None:
                publisher.stop()
                if publisher.stats.dropped:
                    log.warning("camera_sim: %d FrameSent events dropped", publisher.stats.dropped)
    return EXIT_OK


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("camera_sim: %s received, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (forever) or more")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 7 * 86400:
        raise argparse.ArgumentTypeError("must be more than 0 and at most a week (604800)")
    return value
