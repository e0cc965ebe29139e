"""``safecity audit``: verify the audit trail's hash chain, show its latest entries."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings
from safecity_cli.main import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    from command_center.security.audit import AuditTrail
    from command_center.security.audit_anchor import AnchorCheck


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "audit", help="check and read the audit trail", description="Verify the hash chain; show entries."
    )
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        parents=[parent],
        help="check the whole chain and the evidence files; exit 1 if an entry was changed, removed or "
        "reordered, or a stored photo changed or went without an audited purge",
    )
    verify.add_argument(
        "--no-anchors", action="store_true", help="check the database alone (NATS unreachable)"
    )
    verify.set_defaults(func=run_verify)
    tail = actions.add_parser("tail", parents=[parent], help="the latest entries, oldest first (JSON lines)")
    tail.add_argument("-n", type=int, default=20, help="how many entries (default 20, at most 500)")
    tail.set_defaults(func=run_tail)


def _trail(settings: Settings) -> AuditTrail:
    from command_center.security.audit import AuditTrail
    from pipeline.adapters.database import make_engine

    trail = AuditTrail.of(make_engine(settings.resolved_database_url), settings)
    trail.create_schema()
    return trail


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    """The chain entry by entry (with the audit key), then against the heads anchored in JetStream."""
    trail = _trail(settings)
    result = trail.verify()
    if result.ok:
        print(f"audit trail OK: {result.checked} entries, head {result.head_seq} {result.head_hash}")
    else:
        print(
            f"audit trail BROKEN at entry {result.first_bad_id} ({result.problem}): {result.detail}; "
            f"{result.checked} entries before it are intact",
            file=sys.stderr,
        )
    files_ok = _check_evidence(trail)
    if args.no_anchors:
        return EXIT_OK if result.ok and files_ok else EXIT_FAILURE
    anchored = _check_anchors(settings, trail)
    if anchored is None:
        return EXIT_FAILURE
    print(f"anchors: {anchored.describe()}", file=sys.stdout if anchored.ok else sys.stderr)
    return EXIT_OK if result.ok and files_ok and anchored.ok else EXIT_FAILURE


def _check_evidence(trail: AuditTrail) -> bool:
    """Every evidence file the chain recorded, rehashed: which one changed or went without a purge."""
    from command_center.security import evidence

    checked = evidence.check(trail.engine, trail.rows)
    print(f"evidence: {checked.describe()}", file=sys.stdout if checked.ok else sys.stderr)
    return checked.ok


def _check_anchors(settings: Settings, trail: AuditTrail) -> AnchorCheck | None:
    import asyncio

    from command_center.security.audit_anchor import Anchors
    from pipeline.adapters.bus import connect

    async def check() -> AnchorCheck:
        nc = await connect(settings.nats_url, "audit-verify", wait_s=5.0)
        try:
            key = settings.security.audit_key.get_secret_value().encode()
            return await Anchors(nc.jetstream(), settings.nats.subjects, trail, key).check()
        finally:
            await nc.drain()

    try:
        return asyncio.run(check())
    except Exception as exc:
        print(
            f"anchors NOT CHECKED: NATS at {settings.nats_url} unavailable ({exc}); --no-anchors "
            "checks the database alone",
            file=sys.stderr,
        )
        return None


def run_tail(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.n <= 500:
        raise CommandError("-n must be between 1 and 500", EXIT_USAGE)
    for entry in reversed(_trail(settings).query(limit=args.n)):
        line = {
            "id": entry.seq,
            "timestamp": entry.timestamp.isoformat(),
            "actor": entry.actor,
            "role": entry.role,
            "ip": entry.ip,
            "action": entry.action,
            "target": entry.target,
            "reason": entry.reason,
            "details": entry.details,
            "hash": entry.hash,
        }
        print(json.dumps(line, ensure_ascii=False))
    return EXIT_OK
