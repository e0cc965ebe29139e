"""``safecity afis``: the project's own AFIS (``serve`` over HTTP, ``enrol`` a print under a subject id)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.settings import Settings
from safecity_cli.main import EXIT_OK, CommandError


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "afis",
        help="the project's own fingerprint identification system",
        description="Serve the AFIS (ANSI/NIST-ITL 1-2011 transactions over HTTP) or enrol a print in it.",
    )
    actions = parser.add_subparsers(dest="afis_command", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", parents=[parent], help="answer identification transactions")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--data", type=Path, required=True, help="the gallery's directory")
    serve.set_defaults(func=run_serve)
    enrol = actions.add_parser("enrol", parents=[parent], help="enrol a print (PNG/JPEG) under a subject id")
    enrol.add_argument("image", type=Path)
    enrol.add_argument("--subject", required=True, help="the subject id (a CRO person's id)")
    enrol.add_argument("--data", type=Path, required=True, help="the gallery's directory")
    enrol.set_defaults(func=run_enrol)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from safecity_afis.server import serve

    serve(args.host, args.port, args.data)
    return EXIT_OK


def run_enrol(args: argparse.Namespace, settings: Settings) -> int:
    from safecity_afis.gallery import Gallery
    from safecity_afis.minutiae import decode_image

    try:
        count = Gallery(args.data).enrol(args.subject, decode_image(args.image.read_bytes()))
    except (OSError, ValueError) as exc:
        raise CommandError(f"{args.image}: {exc}") from None
    print(f"enrolled {args.image} as subject {args.subject}: {count} minutiae")
    return EXIT_OK
