"""``safecity users``: staff accounts from the command line (how the first admin of an install is made).

    safecity users add --government-id PK-0001 --mobile 03001234567 --name "A. Admin" --role admin
    safecity users list
    safecity users disable PK-0001

Needs only the database. A disabled account's tokens are refused at their next request.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings
from safecity_cli.main import EXIT_OK, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    from command_center.security.users import UserStore

STAFF_ROLES = ("admin", "supervisor", "operator", "records_clerk", "patrol_officer")


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "users", help="manage staff accounts", description="Add, list and disable staff accounts."
    )
    actions = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", parents=[parent], help="add a staff account")
    add.add_argument("--government-id", required=True, help="the officer's government ID (4-32: A-Z 0-9 -)")
    add.add_argument("--mobile", required=True, help="registered mobile: 03XXXXXXXXX or +<country><number>")
    add.add_argument("--name", required=True, help="the officer's name")
    add.add_argument("--role", required=True, choices=STAFF_ROLES)
    add.add_argument(
        "--district",
        action="append",
        default=[],
        dest="districts",
        help="a district the account covers (repeatable; limits operators and patrol officers)",
    )
    add.set_defaults(func=run_add)

    listing = actions.add_parser("list", parents=[parent], help="list staff accounts")
    listing.set_defaults(func=run_list)

    disable = actions.add_parser("disable", parents=[parent], help="disable an account (tokens stop working)")
    disable.add_argument("government_id", metavar="GOVERNMENT_ID")
    disable.set_defaults(func=run_disable)

    unlock = actions.add_parser(
        "unlock", parents=[parent], help="lift a sign-in lockout at once (needs Redis)"
    )
    unlock.add_argument("government_id", metavar="GOVERNMENT_ID")
    unlock.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
    unlock.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
    unlock.set_defaults(func=run_unlock)


def _store(settings: Settings) -> UserStore:
    from command_center.security.users import UserStore
    from pipeline.adapters.database import make_engine

    store = UserStore(make_engine(settings.resolved_database_url))
    store.create_schema()
    return store


def _print(data: object) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    from command_center.security.users import DuplicateUserError, InvalidUserError

    try:
        user = _store(settings).add(
            government_id=args.government_id,
            mobile=args.mobile,
            name=args.name,
            role=args.role,
            districts=args.districts,
        )
    except InvalidUserError as exc:
        raise CommandError(str(exc), code=EXIT_USAGE) from None
    except DuplicateUserError as exc:
        raise CommandError(str(exc)) from None
    _print(user.as_json())
    return EXIT_OK


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    _print([user.as_json() for user in _store(settings).list()])
    return EXIT_OK


def run_disable(args: argparse.Namespace, settings: Settings) -> int:
    from command_center.security.users import InvalidUserError, UserNotFoundError

    try:
        user = _store(settings).set_active(args.government_id, False)
    except InvalidUserError as exc:
        raise CommandError(str(exc), code=EXIT_USAGE) from None
    except UserNotFoundError as exc:
        raise CommandError(str(exc)) from None
    _print(user.as_json())
    return EXIT_OK


def run_unlock(args: argparse.Namespace, settings: Settings) -> int:
    """Clear the locks and counts of a Government ID in Redis, audited."""
    import asyncio
    import getpass

    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from command_center.security.audit import AuditTrail
    from command_center.security.otp import OtpStore
    from pipeline.adapters.database import make_engine

    engine = make_engine(settings.resolved_database_url)
    store = _store(settings)
    user = store.by_government_id(args.government_id)
    if user is None:
        raise CommandError(f"no account with government ID {args.government_id!r}")

    async def unlock() -> int:
        client = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        try:
            return await OtpStore(client, settings.security, settings.auth_redis_prefix).unlock(
                user.government_id
            )
        finally:
            await client.aclose()

    try:
        cleared = asyncio.run(unlock())
    except (RedisError, OSError) as exc:
        raise CommandError(
            f"Redis at {settings.redis_url.rpartition('@')[2]} is unavailable: {exc}"
        ) from None
    actor = args.by or f"cli:{getpass.getuser()}"
    trail = AuditTrail.of(engine, settings)
    trail.create_schema()
    trail.record(
        actor,
        "users.unlock",
        f"staff:{user.id}",
        reason=args.reason,
        details={"cleared": cleared},
        role="cli",
    )
    _print({"government_id": user.government_id, "cleared": cleared})
    return EXIT_OK
