"""``safecity models``: check the ONNX files against the registry, or fetch the missing ones."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.models.registry import (
    ModelError,
    ModelStatus,
    Registry,
    load_registry,
    locate_registry,
    pull,
    verify,
)
from pipeline.settings import Settings
from safecity_cli.main import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "models", help="verify or download model files", description="Model files and their licences."
    )
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    check = actions.add_parser("verify", parents=[parent], help="check every model file (size, sha256)")
    check.set_defaults(func=run_verify)
    fetch = actions.add_parser(
        "pull", parents=[parent], help="download missing or invalid models (default: the default ones)"
    )
    fetch.add_argument("names", nargs="*", metavar="NAME", help="extra models to fetch besides the defaults")
    fetch.add_argument("--all", action="store_true", help="fetch every registered model")
    fetch.set_defaults(func=run_pull)


def _registry(settings: Settings) -> Registry:
    try:
        return load_registry(locate_registry(settings.models_registry))
    except ModelError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


def _table(statuses: list[ModelStatus]) -> str:
    rows = [("NAME", "STATUS", "DEFAULT", "COMMERCIAL", "LICENCE", "FILE")]
    for s in statuses:
        rows.append(
            (
                s.name,
                s.status if s.ok else f"{s.status} ({s.detail})",
                "yes" if s.entry.default else "no",
                "yes" if s.entry.commercial_use else "NO",
                s.entry.licence,
                s.entry.file,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows
    )


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    statuses = verify(_registry(settings), settings.models_dir)
    print(f"models in {settings.models_dir.resolve()}")
    print(_table(statuses))
    failed = [
        s for s in statuses if (s.entry.default and not s.ok) or s.status in ("wrong_size", "wrong_sha256")
    ]
    if failed:
        print(f"\nFAILED: {', '.join(s.name for s in failed)}; run `safecity models pull` to fix")
        return EXIT_FAILURE
    return EXIT_OK


def run_pull(args: argparse.Namespace, settings: Settings) -> int:
    registry = _registry(settings)
    known = {m.name for m in registry.models}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        raise CommandError(
            f"unknown model(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}", EXIT_USAGE
        )
    defaults = [m.name for m in registry.defaults()]
    names = (
        [m.name for m in registry.models]
        if args.all
        else defaults + [n for n in args.names if n not in defaults]
    )
    try:
        statuses = pull(registry, settings.models_dir, names)
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    print(f"models in {settings.models_dir.resolve()}")
    print(_table(statuses))
    return EXIT_OK
