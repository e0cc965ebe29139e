"""``safecity vehicles``: the vehicle hotlist from the command line: import, add, remove, search.

Works with nothing but the database. Changes and searches are written to the audit trail with who ran
them (``--by``, default ``cli:<os user>``). Output is JSON on stdout; problems go to stderr with exit
code 2 (bad input: nothing changed) or 1.

``search_vehicles`` (a lazy wrapper of ``watchlist.vehicle_search.search_vehicles``) is the function
to reuse elsewhere, e.g. ``safecity plates search``: ``search_vehicles(engine, "LEA-12*")`` -> ranked
results, each with ``as_dict()``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings
from safecity_cli.auditing import audit, audited_change
from safecity_cli.main import EXIT_OK, EXIT_USAGE, CommandError
from safecity_cli.progress import RowProgress, say

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from watchlist.vehicle_search import VehicleSearchResult
    from watchlist.vehicles import VehicleHotlist

__all__ = ["add_search_arguments", "register", "search_vehicles"]


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "vehicles",
        help="manage and search the vehicle hotlist",
        description="Import, add, remove and search vehicle hotlist entries.",
    )
    actions = parser.add_subparsers(dest="vehicles_command", metavar="ACTION", required=True)

    imports = actions.add_parser("import", parents=[parent], help="add or update entries from a CSV file")
    imports.add_argument("file", type=Path, metavar="FILE.csv", help="see watchlist/vehicle_import.py")
    imports.add_argument("--partial", action="store_true", help="import the good rows even if some are bad")
    imports.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
    imports.add_argument("--no-progress", action="store_true", help="no progress bar")
    imports.set_defaults(func=run_import)

    add = actions.add_parser("add", parents=[parent], help="put one vehicle on the hotlist")
    add.add_argument("plate", metavar="PLATE", help="registration number, e.g. LEA-1234")
    add.add_argument("--status", required=True, help="stolen, crime_involved, wanted, recovered, abandoned")
    add.add_argument("--reason", required=True, help="why the vehicle is listed")
    add.add_argument("--case", required=True, dest="case_reference", help="case or FIR reference")
    add.add_argument("--owner", default=None, help="registered owner")
    add.add_argument("--vehicle", default=None, help="make, model, colour")
    add.add_argument("--priority", default="3", help="1 (most urgent) to 5 (default 3)")
    add.add_argument("--expires", default=None, help="YYYY-MM-DD or ISO time (default: no expiry)")
    add.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
    add.set_defaults(func=run_add)

    remove = actions.add_parser("remove", parents=[parent], help="take an entry off the hotlist (kept)")
    remove.add_argument("entry_id", type=int, metavar="ID")
    remove.add_argument("--reason", required=True, help="why the entry is removed")
    remove.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
    remove.set_defaults(func=run_remove)

    search = actions.add_parser("search", parents=[parent], help="find vehicles: exact, LEA-12*, or fuzzy")
    add_search_arguments(search)


def add_search_arguments(search: argparse.ArgumentParser) -> None:
    """The arguments of a hotlist search (``safecity vehicles search`` and ``safecity plates search``)."""
    search.add_argument("text", metavar="TEXT", help="registration number or pattern with * and ?")
    search.add_argument("--reason", default=None, help="why you are looking (recorded in the audit trail)")
    search.add_argument("--limit", type=int, default=50, help="at most this many results (1-200)")
    search.add_argument("--include-removed", action="store_true", help="also entries taken off the list")
    search.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
    search.set_defaults(func=run_search)


def search_vehicles(
    source: Engine | VehicleHotlist, text: str, *, limit: int = 50, include_removed: bool = False
) -> list[VehicleSearchResult]:
    """Hotlist entries for ``text`` (exact, ``LEA-12*`` pattern, or fuzzy), best first; raises
    ``watchlist.vehicle_search.InvalidQueryError``. See ``watchlist.vehicle_search.search_vehicles``."""
    from watchlist.vehicle_search import search_vehicles as search

    return search(source, text, limit=limit, include_removed=include_removed)


def _actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _print(data: object) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _hotlist(settings: Settings) -> VehicleHotlist:
    from pipeline.adapters.database import make_engine
    from watchlist.vehicles import VehicleHotlist

    hotlist = VehicleHotlist(make_engine(settings.resolved_database_url))
    hotlist.create_schema()
    return hotlist


def _data_rows(data: bytes) -> int:
    """Roughly the file's data rows (non-blank lines after the header), for the progress bar."""
    return max(0, sum(1 for line in data.splitlines() if line.strip()) - 1)


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from watchlist.vehicle_import import CsvFormatError, ImportConflictError, import_csv
    from watchlist.vehicles import InvalidVehicleError

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}", EXIT_USAGE) from None
    hotlist, actor = _hotlist(settings), _actor(args.by)
    bar = RowProgress("importing vehicles", _data_rows(data), shown=not args.no_progress)
    with bar, audited_change(settings, hotlist.engine) as record:
        try:
            report = import_csv(hotlist, data, actor, partial=args.partial, progress=bar.advance)
        except (CsvFormatError, InvalidVehicleError) as exc:
            raise CommandError(f"{args.file}: {exc}; nothing imported", EXIT_USAGE) from None
        except ImportConflictError as exc:
            raise CommandError(str(exc)) from None
        if report.applied:
            details = {"file": str(args.file)[:200], **report.summary(), "created_ids": report.created[:1000]}
            record(actor, "vehicles.import", "vehicle_hotlist", details=details)
    for error in report.errors:
        print(f"safecity: {args.file}: row {error.row}: {error.message}", file=sys.stderr)
    errors = [{"row": e.row, "message": e.message} for e in report.errors]
    summary = report.summary()
    _print(
        bar.summary(**{**summary, "errors": errors}, error_count=report.error_count, audited=report.applied)
    )
    say(
        f"{summary['created']} created, {summary['updated']} updated, {summary['unchanged']} unchanged, "
        f"{summary['errors']} bad rows in {bar.seconds:.2f} s"
    )
    if not report.applied:
        print(f"safecity: {args.file}: {report.error_count} bad row(s); nothing imported", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    from watchlist.vehicles import InvalidVehicleError, NewVehicle, VehicleConflictError

    vehicle = NewVehicle(
        plate=args.plate,
        status=args.status,
        reason=args.reason,
        case_reference=args.case_reference,
        owner=args.owner,
        vehicle=args.vehicle,
        priority=args.priority,
        expires_at=args.expires,
    )
    hotlist, actor = _hotlist(settings), _actor(args.by)
    with audited_change(settings, hotlist.engine) as record:
        try:
            entry = hotlist.add(vehicle, actor)
        except InvalidVehicleError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
        except VehicleConflictError as exc:
            raise CommandError(str(exc)) from None
        details = {k: v for k, v in entry.as_dict().items() if k in ("plate", "status", "case_reference")}
        record(actor, "vehicles.add", f"vehicle_hotlist:{entry.id}", details=details)
    _print({**entry.as_dict(), "audited": True})
    return EXIT_OK


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    from watchlist.vehicles import InvalidVehicleError, VehicleNotFoundError, VehicleRemovedError

    hotlist, actor = _hotlist(settings), _actor(args.by)
    with audited_change(settings, hotlist.engine) as record:
        try:
            entry = hotlist.remove(args.entry_id, actor, args.reason)
        except InvalidVehicleError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
        except (VehicleNotFoundError, VehicleRemovedError) as exc:
            raise CommandError(str(exc)) from None
        target = f"vehicle_hotlist:{entry.id}"
        record(actor, "vehicles.remove", target, reason=args.reason, details={"plate": entry.plate})
    _print({**entry.as_dict(), "audited": True})
    return EXIT_OK


def run_search(args: argparse.Namespace, settings: Settings) -> int:
    from watchlist.vehicle_search import MAX_RESULTS, InvalidQueryError

    if not 1 <= args.limit <= MAX_RESULTS:
        raise CommandError(f"--limit must be between 1 and {MAX_RESULTS}", EXIT_USAGE)
    hotlist, actor = _hotlist(settings), _actor(args.by)
    try:
        found = search_vehicles(hotlist, args.text, limit=args.limit, include_removed=args.include_removed)
    except InvalidQueryError as exc:
        raise CommandError(f"cannot search {args.text!r}: {exc}", EXIT_USAGE) from None
    details = {
        "q": args.text,
        "returned": [r.entry.id for r in found],
        "include_removed": args.include_removed,
    }
    audit(
        settings,
        hotlist.engine,
        actor,
        "vehicles.search",
        "vehicle_hotlist",
        reason=args.reason,
        details=details,
    )
    _print([result.as_dict() for result in found])
    return EXIT_OK
