"""``safecity watchlists``: watch lists from the command line: list, show, create, change, members, and
what a list's threshold would be at another size.

Like ``safecity watchlist``, this is the administrative path: it needs only the database, records who
ran it (``--by``, default ``cli:<os user>``) in the audit trail with the stated reason, and announces the
change over NATS when it answers (workers that miss it catch up from the watchlist revision).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings
from safecity_cli.auditing import audit
from safecity_cli.main import EXIT_OK, EXIT_USAGE, CommandError
from safecity_cli.watchlist_cmd import _actor, _announce, _print, _store

if TYPE_CHECKING:
    from watchlist.list_types import WatchList
    from watchlist.lists import ListChange, WatchLists


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "watchlists",
        help="manage watch lists",
        description="Watch lists: live ones raise camera alerts at a threshold calibrated for their "
        "size; search ones only answer photo searches.",
    )
    actions = parser.add_subparsers(dest="watchlists_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", parents=[parent], help="every list with its threshold")
    listing.add_argument("--archived", action="store_true", help="include archived lists")
    listing.set_defaults(func=run_list)

    show = actions.add_parser("show", parents=[parent], help="one list")
    show.add_argument("list_id", type=int, metavar="ID")
    show.set_defaults(func=run_show)

    create = actions.add_parser("create", parents=[parent], help="a new list")
    create.add_argument("--name", required=True)
    create.add_argument("--purpose", required=True, help="wanted, proclaimed_offender, missing, suspect, ...")
    _policy_arguments(create)
    create.set_defaults(func=run_create)

    change = actions.add_parser("set", parents=[parent], help="change a list")
    change.add_argument("list_id", type=int, metavar="ID")
    change.add_argument("--name")
    change.add_argument("--purpose")
    change.add_argument("--status", choices=("active", "archived"))
    change.add_argument("--clear-floor", action="store_true", help="drop a raised threshold floor")
    _policy_arguments(change)
    change.set_defaults(func=run_set)

    for name, helptext in (("add", "put profiles on a list"), ("remove", "take profiles off a list")):
        members = actions.add_parser(name, parents=[parent], help=helptext)
        members.add_argument("list_id", type=int, metavar="ID")
        members.add_argument("profile_ids", type=int, nargs="+", metavar="PROFILE")
        members.add_argument("--reason", required=True)
        members.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
        members.set_defaults(func=run_members, adding=name == "add")

    preview = actions.add_parser(
        "calibrate", parents=[parent], help="what a list's threshold is, or would be at another size"
    )
    preview.add_argument("list_id", type=int, metavar="ID")
    preview.add_argument("--gallery", type=int, nargs="*", default=None, help="embeddings (default: now)")
    preview.add_argument("--target-fpir", type=float, default=None)
    preview.set_defaults(func=run_calibrate)


def _policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=("live", "search"))
    parser.add_argument("--priority", type=int, help="1 (most urgent) to 5")
    parser.add_argument("--description")
    parser.add_argument("--camera", action="append", dest="cameras", help="camera id where live (repeat)")
    parser.add_argument("--district", action="append", dest="districts", help="district where live (repeat)")
    parser.add_argument("--target-fpir", type=float, help="false alerts per stranger track (default 1e-4)")
    parser.add_argument("--threshold-floor", type=float, help="raise the threshold to at least this")
    parser.add_argument("--requires-ack", choices=("yes", "no"), help="alerts must be acknowledged")
    parser.add_argument("--viewer", action="append", dest="viewers", help="role:<role> or user:<id> (repeat)")
    parser.add_argument("--editor", action="append", dest="editors", help="role:<role> or user:<id> (repeat)")
    parser.add_argument("--reason", required=True)
    parser.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")


def _lists(settings: Settings) -> WatchLists:
    from pipeline.models.registry import ModelError
    from watchlist.lists import WatchLists

    try:
        return WatchLists.open(_store(settings), settings)
    except ModelError as exc:
        raise CommandError(str(exc)) from None


def _row(w: WatchList, tracks_per_hour: float) -> dict[str, Any]:
    return {
        "id": w.id,
        "name": w.name,
        "purpose": w.purpose,
        "mode": w.mode.value,
        "status": w.status.value,
        "live": w.live,
        "priority": w.priority,
        "members": w.members,
        "cameras": list(w.cameras),
        "districts": list(w.districts),
        "requires_ack": w.requires_ack,
        "viewers": list(w.viewers),
        "editors": list(w.editors),
        "target_fpir": w.target_fpir,
        "threshold_floor": w.threshold_floor,
        "gallery_size": w.gallery_size,
        "threshold": w.threshold,
        "strong_threshold": w.strong_threshold,
        "false_alerts_per_camera_hour": w.fpir_bound * tracks_per_hour,
        "calibration": w.calibration_note,
    }


def _refusing(work: Any) -> Any:
    """Run a list change; its refusals become CLI errors (usage errors exit 2)."""
    from watchlist.list_types import ListConflictError, ListNotFoundError, WatchListError
    from watchlist.store import ProfileNotFoundError

    try:
        return work()
    except (ListNotFoundError, ProfileNotFoundError, ListConflictError) as exc:
        raise CommandError(str(exc)) from None
    except (WatchListError, ValueError) as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    lists = _lists(settings)
    per_hour = lists.calibrator.stranger_tracks_per_hour
    _print([_row(w, per_hour) for w in lists.all(args.archived)])
    return EXIT_OK


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    lists = _lists(settings)
    _print(_row(_refusing(lambda: lists.get(args.list_id)), lists.calibrator.stranger_tracks_per_hour))
    return EXIT_OK


def _policy(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in ("mode", "priority", "description", "cameras", "districts", "target_fpir", "threshold_floor"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    for key in ("viewers", "editors"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    if args.requires_ack is not None:
        values["requires_ack"] = args.requires_ack == "yes"
    return values


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    from watchlist.list_types import Mode
    from watchlist.lists import ListSpec

    lists, actor = _lists(settings), _actor(args.by)
    values = _policy(args)
    values["mode"] = Mode(values.get("mode", "search"))
    spec = ListSpec(name=args.name, purpose=args.purpose, **values)
    change = _refusing(lambda: lists.create(spec, actor))
    return _done(settings, lists, change, actor, "watchlists.create", args.reason)


def run_set(args: argparse.Namespace, settings: Settings) -> int:
    lists, actor = _lists(settings), _actor(args.by)
    values = _policy(args)
    for key in ("name", "purpose", "status"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    if args.clear_floor:
        values["threshold_floor"] = None
    if not values:
        raise CommandError("nothing to change", EXIT_USAGE)
    change = _refusing(lambda: lists.update(args.list_id, values, actor))
    details = {"changed": {k: [change.before.get(k), v] for k, v in values.items()}}
    return _done(settings, lists, change, actor, "watchlists.change", args.reason, details)


def run_members(args: argparse.Namespace, settings: Settings) -> int:
    lists, actor = _lists(settings), _actor(args.by)
    work = lists.add_members if args.adding else lists.remove_members
    change = _refusing(lambda: work(args.list_id, args.profile_ids, actor))
    action = "watchlists.add_members" if args.adding else "watchlists.remove_members"
    return _done(settings, lists, change, actor, action, args.reason, {"profiles": list(change.profiles)})


def _done(
    settings: Settings,
    lists: WatchLists,
    change: ListChange,
    actor: str,
    action: str,
    reason: str,
    details: dict[str, Any] | None = None,
) -> int:
    from watchlist.lists import announcements

    w = change.watch_list
    store = _store(settings)
    audited = audit(
        settings, store.engine, actor, action, f"watch_list:{w.id}", reason=reason, details=details or {}
    )
    announced = all([_announce(settings, message) for message in announcements(store, change)])
    _print(
        _row(w, lists.calibrator.stranger_tracks_per_hour)
        | {"revision": change.revision, "announced": announced, "audited": audited}
    )
    return EXIT_OK


def run_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    lists = _lists(settings)
    current = _refusing(lambda: lists.get(args.list_id))
    sizes = args.gallery if args.gallery else [current.gallery_size]
    if any(n < 0 for n in sizes):
        raise CommandError("--gallery sizes cannot be negative", EXIT_USAGE)
    per_hour = lists.calibrator.stranger_tracks_per_hour
    rows = []
    for size in sizes:
        c = _refusing(lambda size=size: lists.preview(args.list_id, size, args.target_fpir))
        rows.append(
            {
                "gallery": c.gallery,
                "target_fpir": c.target_fpir,
                "threshold": c.threshold,
                "strong_threshold": c.strong_threshold,
                "genuine_pass": round(c.genuine_pass, 4),
                "false_alerts_per_camera_hour": c.false_alerts_per_hour(per_hour),
                "feasible": c.feasible,
                "reason": c.reason,
            }
        )
    _print({"list": current.name, "source": lists.calibrator.source, "sizes": rows})
    return EXIT_OK
