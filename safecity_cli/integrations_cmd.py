"""``safecity integrations``: hotels and their API keys from the command line.

    safecity integrations add-hotel --name "Hotel One" --licence LHR-HTL-0001 --address "1 Mall Road" \\
        --district "Lahore Cantt" --lat 31.55 --lon 74.34
    safecity integrations issue-key 1 --label "front desk PMS" [--expires-days 365]
    safecity integrations revoke 0123456789abcdef
    safecity integrations list [--hotel 1]
    safecity integrations set-active 1 --off

Needs only the database and the API key pepper (``security.api_key_pepper``): keys issued here verify
only on a command centre configured with the same pepper. Every change goes to the audit trail.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings
from safecity_cli.auditing import audited_change
from safecity_cli.main import EXIT_OK, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    from command_center.security.apikeys import ApiKeyStore, Hotel, KeyInfo

MAX_EXPIRY_DAYS = 5 * 366


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "integrations",
        help="manage hotels and their API keys",
        description="Register hotels; issue, list and revoke their integration API keys.",
    )
    actions = parser.add_subparsers(dest="integrations_command", metavar="ACTION", required=True)

    add = actions.add_parser("add-hotel", parents=[parent], help="register a hotel")
    add.add_argument("--name", required=True)
    add.add_argument("--licence", required=True, help="licence or registration number (unique)")
    add.add_argument("--address", required=True)
    add.add_argument("--district", required=True, help="district that receives the hotel's alerts")
    add.add_argument("--lat", type=float, default=None, help="latitude")
    add.add_argument("--lon", type=float, default=None, help="longitude")
    add.set_defaults(func=run_add_hotel)

    issue = actions.add_parser("issue-key", parents=[parent], help="issue an API key (shown once)")
    issue.add_argument("hotel_id", type=int, metavar="HOTEL_ID")
    issue.add_argument("--label", default="hotel system", help="which system will hold the key")
    issue.add_argument("--scope", action="append", dest="scopes", help="repeatable (default: checkins:post)")
    issue.add_argument("--expires-days", type=int, default=None, help="the key stops working after N days")
    issue.set_defaults(func=run_issue_key)

    revoke = actions.add_parser("revoke", parents=[parent], help="revoke a key at once")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(func=run_revoke)

    listing = actions.add_parser("list", parents=[parent], help="list hotels, or one hotel's keys")
    listing.add_argument("--hotel", type=int, default=None, metavar="HOTEL_ID")
    listing.set_defaults(func=run_list)

    active = actions.add_parser("set-active", parents=[parent], help="(de)activate a hotel and all its keys")
    active.add_argument("hotel_id", type=int, metavar="HOTEL_ID")
    active.add_argument("--off", action="store_true", help="deactivate (default: activate)")
    active.set_defaults(func=run_set_active)


def _store(settings: Settings) -> ApiKeyStore:
    from command_center.security.apikeys import ApiKeyStore
    from pipeline.adapters.database import make_engine

    store = ApiKeyStore(
        make_engine(settings.resolved_database_url), settings.security.api_key_pepper.get_secret_value()
    )
    store.create_schema()
    return store


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _print(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _hotel_json(hotel: Hotel) -> dict[str, Any]:
    return {
        "id": hotel.id,
        "name": hotel.name,
        "licence_no": hotel.licence_no,
        "district": hotel.district,
        "address": hotel.address,
        "latitude": hotel.latitude,
        "longitude": hotel.longitude,
        "active": hotel.active,
    }


def _key_json(info: KeyInfo) -> dict[str, Any]:
    return {
        "key_id": info.key_id,
        "hotel_id": info.hotel_id,
        "label": info.label,
        "scopes": list(info.scopes),
        "created_at": info.created_at.isoformat(),
        "created_by": info.created_by,
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "last_used_at": info.last_used_at.isoformat() if info.last_used_at else None,
    }


def _validated(args: argparse.Namespace) -> dict[str, Any]:
    from pipeline.validators import (
        normalise_address,
        normalise_district,
        normalise_person_name,
        normalise_reference,
    )

    try:
        values = {
            "name": normalise_person_name(args.name),
            "licence_no": normalise_reference(args.licence),
            "address": normalise_address(args.address),
            "district": normalise_district(args.district),
        }
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    if args.lat is not None and not -90 <= args.lat <= 90:
        raise CommandError("--lat must be between -90 and 90", EXIT_USAGE)
    if args.lon is not None and not -180 <= args.lon <= 180:
        raise CommandError("--lon must be between -180 and 180", EXIT_USAGE)
    return values


def run_add_hotel(args: argparse.Namespace, settings: Settings) -> int:
    from command_center.security.apikeys import IntegrationError

    values = _validated(args)
    store = _store(settings)
    with audited_change(settings, store.engine) as record:
        try:
            hotel = store.create_hotel(latitude=args.lat, longitude=args.lon, **values)
        except IntegrationError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
        details = {"licence_no": hotel.licence_no}
        record(_actor(), "integration.hotel_create", f"hotel:{hotel.id}", details=details)
    _print({**_hotel_json(hotel), "audited": True})
    return EXIT_OK


def run_issue_key(args: argparse.Namespace, settings: Settings) -> int:
    from command_center.security.apikeys import HotelNotFoundError, IntegrationError

    expires_at = None
    if args.expires_days is not None:
        if not 1 <= args.expires_days <= MAX_EXPIRY_DAYS:
            raise CommandError(f"--expires-days must be between 1 and {MAX_EXPIRY_DAYS}", EXIT_USAGE)
        expires_at = datetime.now(UTC) + timedelta(days=args.expires_days)
    from pipeline.validators import normalise_label

    try:
        label = normalise_label(args.label)
    except ValueError as exc:
        raise CommandError(f"--label: {exc}", EXIT_USAGE) from None
    store = _store(settings)
    scopes = args.scopes or ["checkins:post"]
    with audited_change(settings, store.engine) as record:
        try:
            issued = store.issue_key(args.hotel_id, scopes, label, _actor(), expires_at)
        except (HotelNotFoundError, IntegrationError) as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
        details = {"hotel_id": args.hotel_id, "scopes": list(issued.info.scopes), "label": label}
        record(_actor(), "integration.key_issue", f"key:{issued.info.key_id}", details=details)
    print("safecity: the key is shown this once; give it to the hotel's system now", file=sys.stderr)
    _print({**_key_json(issued.info), "api_key": issued.raw_key, "audited": True})
    return EXIT_OK


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from command_center.security.apikeys import KeyNotFoundError

    store = _store(settings)
    with audited_change(settings, store.engine) as record:
        try:
            info = store.revoke(args.key_id)
        except KeyNotFoundError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
        record(_actor(), "integration.key_revoke", f"key:{info.key_id}", details={"hotel_id": info.hotel_id})
    _print({**_key_json(info), "audited": True})
    return EXIT_OK


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from command_center.security.apikeys import HotelNotFoundError

    store = _store(settings)
    if args.hotel is None:
        _print([_hotel_json(h) for h in store.list_hotels(limit=10_000)])
        return EXIT_OK
    try:
        _print([_key_json(k) for k in store.list_keys(args.hotel)])
    except HotelNotFoundError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    return EXIT_OK


def run_set_active(args: argparse.Namespace, settings: Settings) -> int:
    from command_center.security.apikeys import HotelNotFoundError

    store = _store(settings)
    with audited_change(settings, store.engine) as record:
        try:
            hotel = store.set_hotel_active(args.hotel_id, not args.off)
        except HotelNotFoundError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
        record(_actor(), "integration.hotel_update", f"hotel:{hotel.id}", details={"active": hotel.active})
    _print({**_hotel_json(hotel), "audited": True})
    return EXIT_OK
