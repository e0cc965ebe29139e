"""``safecity deadletters``: the messages consumers could never handle (``command_center.admin.deadletters``).

``list`` and ``show`` read them (with the error each failed with); ``replay`` publishes one again on its
original subject (after a fix, say) and ``drop`` deletes it. Replay and drop are administrative changes:
they need ``--reason`` and are written to the audit trail with who ran them (``--by``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pipeline.settings import Settings
from safecity_cli.main import EXIT_OK, CommandError

T = TypeVar("T")


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "deadletters", help="messages consumers could never handle", description=__doc__.splitlines()[0]
    )
    actions = parser.add_subparsers(dest="deadletters_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[parent], help="the oldest dead letters, with their errors")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(func=run_list)
    show = actions.add_parser("show", parents=[parent], help="one dead letter, its message included")
    show.add_argument("seq", type=int, metavar="ID")
    show.set_defaults(func=run_show)
    for name, helptext in (
        ("replay", "publish it again on its original subject"),
        ("drop", "delete it for good"),
    ):
        act = actions.add_parser(name, parents=[parent], help=helptext)
        act.add_argument("seq", type=int, metavar="ID")
        act.add_argument("--reason", required=True)
        act.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
        act.set_defaults(func=run_act, act=name)


def _with_letters(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from command_center.admin.deadletters import DeadLetterNotFound, DeadLetters
    from pipeline.adapters.bus import BusUnavailable, connect

    async def run() -> T:
        nc = await connect(settings.nats_url, "deadletters-cli", wait_s=5.0)
        try:
            return await work(DeadLetters(nc.jetstream(), settings.nats.subjects))
        finally:
            await nc.drain()

    try:
        return asyncio.run(run())
    except BusUnavailable as exc:
        raise CommandError(str(exc)) from None
    except DeadLetterNotFound as exc:
        raise CommandError(str(exc)) from None


def _print(data: object) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.limit <= 10_000:
        raise CommandError("--limit must be between 1 and 10000", 2)
    letters = _with_letters(settings, lambda d: d.list(args.limit))
    _print([letter.summary() for letter in letters])
    return EXIT_OK


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    letter = _with_letters(settings, lambda d: d.get(args.seq))
    try:
        message: object = json.loads(letter.data)
    except ValueError:
        message = {"base64": base64.b64encode(letter.data).decode()}
    _print(letter.summary() | {"message": message})
    return EXIT_OK


def run_act(args: argparse.Namespace, settings: Settings) -> int:
    from safecity_cli.auditing import audit
    from safecity_cli.watchlist_cmd import _actor, _store

    if len(args.reason.strip()) < 5:
        raise CommandError("--reason needs at least 5 characters", 2)
    letter = _with_letters(
        settings, lambda d: d.replay(args.seq) if args.act == "replay" else d.drop(args.seq)
    )
    audited = audit(
        settings,
        _store(settings).engine,
        _actor(args.by),
        f"deadletters.{args.act}",
        f"deadletter:{args.seq}",
        reason=args.reason,
        details=letter.summary(),
    )
    _print(letter.summary() | {"done": args.act, "audited": audited})
    return EXIT_OK
