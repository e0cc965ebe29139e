"""``safecity worker``: read cameras, recognise faces, publish hits."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.settings import ConfigError, Settings


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("worker", parents=[parent], help="analyse camera streams")
    p.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="ID",
        help="analyse this configured camera, pinned to this worker without leases (repeatable)",
    )
    p.add_argument(
        "--stop-at-end",
        action="store_true",
        help="exit when every stream has ended (a replay: the configured cameras, without leases)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.adapters.bus import BusUnavailable
    from pipeline.models.registry import ModelError
    from safecity_cli.main import EXIT_USAGE, CommandError
    from workers.service import run_worker

    if args.stop_at_end:
        settings = settings.model_copy(
            update={
                "worker": settings.worker.model_copy(update={"stop_at_end": True, "assignment": "static"})
            }
        )
    try:
        return run_worker(settings, args.camera)
    except ConfigError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except (BusUnavailable, ModelError) as exc:
        raise CommandError(str(exc)) from None
