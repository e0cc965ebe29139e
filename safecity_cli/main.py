"""Entry point of the ``safecity`` command.

Each service registers its subcommand from its own module in this package (``register(subparsers)``),
so this file only wires the common options: ``--config`` and ``--validate-config``.
Exit codes: 0 success, 1 runtime failure, 2 bad usage or invalid configuration.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.log_format import configure_logging
from pipeline.settings import ConfigError, Settings, load

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_COMMAND_MODULES = (
    "safecity_cli.camera_sim_cmd",
    "safecity_cli.worker_cmd",
    "safecity_cli.cameras_cmd",
    "safecity_cli.command_center_cmd",
    "safecity_cli.watchlist_cmd",
    "safecity_cli.watchlists_cmd",
    "safecity_cli.vehicles_cmd",
    "safecity_cli.persons_cmd",
    "safecity_cli.plates_cmd",
    "safecity_cli.audit_cmd",
    "safecity_cli.models_cmd",
    "safecity_cli.demo_cmd",
    "safecity_cli.users_cmd",
    "safecity_cli.integrations_cmd",
    "safecity_cli.deadletters_cmd",
    "safecity_cli.db_cmd",
    "safecity_cli.afis_cmd",
)


class CommandError(Exception):
    """A failure to report to the user as one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def common_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        type=Path,
        default=_default_config(),
        help="YAML settings file (default: $SAFECITY_CONFIG or configs/safecity.yaml if present)",
    )
    parent.add_argument(
        "--validate-config",
        action="store_true",
        help="check the settings (file + SAFECITY_* environment) and exit",
    )
    return parent


def _default_config() -> Path | None:
    env = os.environ.get("SAFECITY_CONFIG")
    if env:
        return Path(env)
    default = Path("configs/safecity.yaml")
    return default if default.exists() else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safecity", description="safecity surveillance and alerting")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parent = common_options()
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers, parent)
    return parser


def setup_logging(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load(args.config)
    except ConfigError as exc:
        print(f"safecity: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.validate_config:
        where = args.config if args.config else "defaults"
        print(f"safecity: configuration OK ({where}, environment={settings.environment})")
        return EXIT_OK
    setup_logging(settings)
    if settings.nats_replicas != 1:  # NATS clients are imported only by the commands that use them
        from pipeline.adapters.streams import use_replicas

        use_replicas(settings.nats_replicas)
    try:
        result: int = args.func(args, settings)
        return result
    except CommandError as exc:
        print(f"safecity: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
