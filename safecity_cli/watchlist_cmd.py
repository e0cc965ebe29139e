"""``safecity watchlist``: enrol, match, list and remove watchlist profiles from the command line.

Works with nothing but the database: changes are announced over NATS when it answers, and the output
says whether they were (workers that missed one pick it up when they next load the watchlist).

``enroll`` and ``remove`` are the administrative bootstrap path: they act at once, bypassing the
four-eyes approval the command centre enforces. They say so, record who ran them (``--by``, default
``cli:<os user>``) in the profile, and write it to the audit trail.

``snapshot`` publishes the face index to the NATS object store so workers start from it instead of
rebuilding it from the database (``--every SECONDS`` keeps doing so).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings
from safecity_cli.auditing import audit
from safecity_cli.main import EXIT_OK, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    from watchlist.enrol import Enroller
    from watchlist.store import WatchlistStore

ANNOUNCE_TIMEOUT_S = 3.0


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "watchlist", help="manage watchlist profiles", description="Enrol, match, list and remove profiles."
    )
    actions = parser.add_subparsers(dest="watchlist_command", metavar="ACTION", required=True)

    enroll = actions.add_parser("enroll", parents=[parent], help="enrol a person from one or more photos")
    enroll.add_argument("--name", required=True, help="the person's name")
    enroll.add_argument("--category", required=True, help="wanted, missing, hbt, history_sheeter, ...")
    enroll.add_argument("--legal-reference", required=True, help="FIR or warrant reference")
    enroll.add_argument("--authorised-by", required=True, help="the officer who authorised the entry")
    enroll.add_argument(
        "--expires", required=True, type=_expiry, help="when the legal basis lapses: YYYY-MM-DD or ISO time"
    )
    enroll.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
    enroll.add_argument(
        "--list",
        type=int,
        action="append",
        dest="lists",
        metavar="LIST_ID",
        help="watch list to put the profile on (repeat; default: the list of its category)",
    )
    enroll.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="JPEG/PNG, one face each")
    enroll.set_defaults(func=run_enroll)

    match = actions.add_parser("match", parents=[parent], help="search the watchlist with a photo")
    match.add_argument("photo", type=Path, metavar="PHOTO")
    match.add_argument(
        "--top-k", type=int, default=None, help="profiles per face (default: recognition.top_k)"
    )
    match.set_defaults(func=run_match)

    listing = actions.add_parser("list", parents=[parent], help="list active profiles")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.set_defaults(func=run_list)

    remove = actions.add_parser("remove", parents=[parent], help="remove a profile (it never matches again)")
    remove.add_argument("profile_id", type=int, metavar="ID")
    remove.add_argument("--reason", required=True, help="why the entry is removed")
    remove.add_argument("--by", default=None, help="who is running this (default: cli:<os user>)")
    remove.set_defaults(func=run_remove)

    snapshot = actions.add_parser(
        "snapshot", parents=[parent], help="publish the face index to the NATS object store for worker starts"
    )
    snapshot.add_argument(
        "--every", type=float, default=0.0, metavar="SECONDS", help="keep running; publish again this often"
    )
    snapshot.set_defaults(func=run_snapshot)


def _expiry(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or ISO time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _print(data: object) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _store(settings: Settings) -> WatchlistStore:
    from pipeline.adapters.database import make_engine
    from watchlist.store import WatchlistStore

    store = WatchlistStore(make_engine(settings.resolved_database_url))
    store.create_schema()
    return store


def _enroller(settings: Settings, store: WatchlistStore) -> Enroller:
    from pipeline.face import FaceAnalyzer
    from pipeline.models.registry import ModelError
    from watchlist.enrol import Enroller

    analyzer = FaceAnalyzer(settings)
    try:
        analyzer.load()
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    return Enroller(settings, analyzer, store)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None


def _announce(settings: Settings, change: Any) -> bool:
    from watchlist.announce import announce_blocking

    return announce_blocking(settings.nats_url, settings.nats.subjects, change, ANNOUNCE_TIMEOUT_S)


def run_enroll(args: argparse.Namespace, settings: Settings) -> int:
    from watchlist.enrol import EnrolmentError
    from watchlist.governance import LegalBasis

    photos = [(str(path), _read(path)) for path in args.photos]
    store = _store(settings)
    actor = _actor(args.by)
    basis = LegalBasis(args.legal_reference, args.authorised_by, args.expires)
    try:
        result = _enroller(settings, store).enrol(args.name, args.category, photos, basis, actor, args.lists)
    except EnrolmentError as exc:
        raise CommandError(f"enrolment refused, nothing stored: {exc}", EXIT_USAGE) from None
    assert result.change is not None
    print(
        f"safecity: profile {result.profile_id} is active at once: four-eyes approval bypassed",
        file=sys.stderr,
    )
    audited = audit(
        settings,
        store.engine,
        actor,
        "watchlist.enroll_admin",
        f"watchlist_profile:{result.profile_id}",
        reason="administrative enrolment (CLI), four-eyes bypassed",
        details={
            "name": result.name,
            "category": result.category,
            "legal_reference": args.legal_reference,
            "authorised_by": args.authorised_by,
            "expires_at": basis.expires_at.isoformat(),
        },
    )
    announced = _announce(settings, result.change)
    _print(
        {
            "profile_id": result.profile_id,
            "name": result.name,
            "category": result.category,
            "photos": len(result.photo_ids),
            "embeddings": len(result.embedding_ids),
            "embedding_ids": result.embedding_ids,
            "revision": result.revision,
            "status": result.status.value,
            "lists": result.lists,
            "announced": announced,
            "audited": audited,
        }
    )
    return EXIT_OK


def run_match(args: argparse.Namespace, settings: Settings) -> int:
    from watchlist.photos import PhotoError

    if args.top_k is not None and not 1 <= args.top_k <= 100:
        raise CommandError("--top-k must be between 1 and 100", EXIT_USAGE)
    data = _read(args.photo)
    try:
        faces = _enroller(settings, _store(settings)).match_photo(data, args.top_k, name=str(args.photo))
    except PhotoError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    _print(
        [
            {
                "box": [round(v, 1) for v in face.box],
                "detector_score": round(face.detector_score, 4),
                "matches": [
                    {
                        "profile_id": m.profile_id,
                        "name": m.name,
                        "category": m.category,
                        "similarity": round(m.similarity, 4),
                        "passes": m.passes,
                    }
                    for m in face.matches
                ],
            }
            for face in faces
        ]
    )
    return EXIT_OK


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from watchlist.governance import IN_FORCE

    profiles = _store(settings).list_profiles(limit=args.limit, offset=args.offset, statuses=IN_FORCE)
    _print(
        [
            {
                "profile_id": p.id,
                "name": p.name,
                "category": p.category,
                "photos": p.photo_count,
                "embeddings": p.embedding_count,
                "status": p.status.value,
                "legal_reference": p.legal_reference,
                "expires_at": p.expires_at.isoformat(),
                "created_at": p.created_at.isoformat(),
            }
            for p in profiles
        ]
    )
    return EXIT_OK


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.contracts import WatchlistChange
    from pipeline.models.registry import ModelError
    from watchlist.lists import WatchLists
    from watchlist.store import InvalidProfileError, ProfileNotFoundError

    store, actor = _store(settings), _actor(args.by)
    try:
        lists = WatchLists.open(store, settings)
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    try:
        removed = store.remove_profile(args.profile_id, actor, args.reason, lists.recalibrate_in)
    except ProfileNotFoundError as exc:
        raise CommandError(str(exc)) from None
    except InvalidProfileError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    print(
        f"safecity: profile {removed.profile_id} removed at once: four-eyes approval bypassed",
        file=sys.stderr,
    )
    audited = audit(
        settings,
        store.engine,
        actor,
        "watchlist.remove_admin",
        f"watchlist_profile:{removed.profile_id}",
        reason=args.reason,
    )
    change = WatchlistChange(
        action="remove",
        profile_id=removed.profile_id,
        embedding_ids=removed.embedding_ids,
        revision=removed.revision,
    )
    announced = _announce(settings, change)
    _print(
        {
            "profile_id": removed.profile_id,
            "removed_embedding_ids": removed.embedding_ids,
            "revision": removed.revision,
            "announced": announced,
            "audited": audited,
        }
    )
    return EXIT_OK


def run_snapshot(args: argparse.Namespace, settings: Settings) -> int:
    """Publish the watchlist index (``workers.watchlist_sync.publish_snapshots``); Ctrl-C ends --every."""
    import asyncio
    import signal

    from pipeline.adapters.bus import BusUnavailable
    from workers.watchlist_sync import publish_snapshots

    if args.every < 0:
        raise CommandError("--every must be 0 (once) or a number of seconds", EXIT_USAGE)

    async def run() -> int:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        return await publish_snapshots(settings, args.every, stop)

    try:
        published = asyncio.run(run())
    except BusUnavailable as exc:
        raise CommandError(str(exc)) from None
    bucket = settings.nats.subjects.watchlist_snapshots_bucket(settings.watchlist.snapshots.bucket)
    _print({"published": published, "bucket": bucket})
    return EXIT_OK
