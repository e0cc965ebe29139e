"""``safecity watchlist``: enrol, match, list and remove watchlist profiles from the command line.

Works with nothing but the database: changes are announced over NATS when it answers, and the output
says whether they were (workers that missed one pick it up when they next load the watchlist).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings
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
    remove.set_defaults(func=run_remove)


def _print(data: object) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _store(settings: Settings) -> WatchlistStore:
    from pipeline.database import make_engine
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

    return announce_blocking(settings.nats_url, change, ANNOUNCE_TIMEOUT_S)


def run_enroll(args: argparse.Namespace, settings: Settings) -> int:
    from watchlist.enrol import EnrolmentError

    photos = [(str(path), _read(path)) for path in args.photos]
    store = _store(settings)
    try:
        result = _enroller(settings, store).enrol(args.name, args.category, photos)
    except EnrolmentError as exc:
        raise CommandError(f"enrolment refused, nothing stored: {exc}", EXIT_USAGE) from None
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
            "announced": announced,
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
    profiles = _store(settings).list_profiles(limit=args.limit, offset=args.offset)
    _print(
        [
            {
                "profile_id": p.id,
                "name": p.name,
                "category": p.category,
                "photos": p.photo_count,
                "embeddings": p.embedding_count,
                "created_at": p.created_at.isoformat(),
            }
            for p in profiles
        ]
    )
    return EXIT_OK


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.contracts import WatchlistChange
    from watchlist.store import ProfileNotFoundError

    try:
        removed = _store(settings).remove_profile(args.profile_id)
    except ProfileNotFoundError as exc:
        raise CommandError(str(exc)) from None
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
        }
    )
    return EXIT_OK
