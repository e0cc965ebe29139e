"""The demo's sample people and records (``safecity demo``, development only), seeded once.

Seeds, each only when it is not there yet (found by its Government ID, unit call sign, CNIC, report
number or licence number), so a second ``make demo`` adds nothing: an operator and a supervisor (the
console), two patrol officers crewing two units of district ``south`` (the officer app, ``/officer``),
three CRO persons with cases and known vehicles (one of them the car on the sample hotlist), a missing
person, a standing operating procedure in the resource library, and a hotel with an API key for the
check-in feed (the key is shown once, so it is kept in the
data directory and shown again from there). What a run creates is written to the audit trail in the
same transaction (``demo.seed``). ``place_units`` puts the two units next to the demo cameras, standing
in for their GPS: the demo repeats it while it runs, since positions go stale.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from pipeline.settings import Settings

ACTOR = "demo:seed"


@dataclass(frozen=True, slots=True)
class Account:
    government_id: str
    mobile: str
    name: str
    role: str
    districts: tuple[str, ...] = ()  # operators and officers see only theirs (supervisors see all)


# The demo cameras' districts (configs/safecity.yaml): south (cam-hamilton, cam-group), east (cam-plate).
ACCOUNTS = (
    Account("DEMO-OPERATOR", "03000000011", "Demo Operator", "operator", ("south", "east")),
    Account("DEMO-SUPERVISOR", "03000000012", "Demo Supervisor", "supervisor"),
    Account("DEMO-OFFICER-1", "03000000013", "Constable Saddar", "patrol_officer", ("south",)),
    Account("DEMO-OFFICER-2", "03000000014", "Constable Clifton", "patrol_officer", ("south",)),
)
# Call sign, name, district, crew, and where it stands: a few hundred metres from a demo camera.
UNITS = (
    ("SOUTH-1", "Saddar mobile 1", "south", "DEMO-OFFICER-1", (24.8571, 67.0281)),  # cam-hamilton
    ("SOUTH-2", "Clifton mobile 2", "south", "DEMO-OFFICER-2", (24.8138, 67.0290)),  # cam-group
)
PERSONS: tuple[dict[str, Any], ...] = (
    {
        "name": "Sample Rashid Mehmood",
        "father_name": "Sample Mehmood Ali",
        "cnic": "42201-0000001-1",
        "gender": "male",
        "district": "south",
        "category": "wanted",
        "cases": [("101/2026", "PS Saddar", ("392 PPC",), "absconding")],
        "vehicles": [("KA-22-P-3368", "white VW Polo (on the sample hotlist)")],
    },
    {
        "name": "Sample Tariq Baloch",
        "father_name": "Sample Karim Baloch",
        "cnic": "42201-0000002-3",
        "gender": "male",
        "district": "south",
        "category": "history_sheeter",
        "cases": [
            ("77/2026", "PS Gulberg", ("356 PPC", "34 PPC"), "under_trial"),
            ("12/2025", "PS Clifton", ("380 PPC",), "convicted"),
        ],
        "vehicles": [("LEA-1234", "silver Suzuki Mehran")],
    },
    {
        "name": "Sample Nadia Perveen",
        "father_name": "Sample Perveen Akhtar",
        "cnic": "42201-0000003-4",
        "gender": "female",
        "district": "east",
        "category": "hbt_offender",
        "cases": [("45/2026", "PS Ferozabad", ("420 PPC",), "on_bail")],
        "vehicles": [],
    },
)
MISSING = {
    "name": "Sample Ayesha Khan",
    "father_name": "Sample Imran Khan",
    "sex": "female",
    "age_min": 9,
    "age_max": 11,
    "last_seen_place": "Zainab Market, Saddar",
    "report_number": "MPR-DEMO-1",
    "district": "south",
    "clothing": "blue school uniform",
    "status": "open",
}
HOTEL = {"name": "Sample Hotel Metropole", "licence_no": "DEMO-HOTEL-1", "address": "Club Road, Saddar"}
HOTEL_KEY_FILE = "demo-hotel-key"


@dataclass(slots=True)
class Seeded:
    created: list[str]
    hotel_id: int
    hotel_key: str | None  # the raw key (kept in the data directory); None if it was lost


class _Stores:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        from command_center.dispatch.patrol import PatrolStore
        from command_center.records.library import LibraryStore
        from command_center.records.missing import MissingStore
        from command_center.records.store import PersonStore
        from command_center.security.apikeys import ApiKeyStore
        from command_center.security.users import UserStore

        self.engine = engine
        self.users = UserStore(engine)
        self.patrol = PatrolStore(engine)
        self.persons = PersonStore(engine)
        self.missing = MissingStore(engine)
        self.keys = ApiKeyStore(engine, settings.security.api_key_pepper.get_secret_value())
        self.library = LibraryStore(engine)


def seed_demo(settings: Settings) -> Seeded:
    """Seed what is missing, with one audit entry naming it; safe to run again."""
    from command_center.security.audit import AuditTrail
    from pipeline.adapters.database import make_engine

    engine = make_engine(settings.resolved_database_url)
    trail = AuditTrail.of(engine, settings)
    trail.create_schema()  # every table (the newest migration)
    stores, created = _Stores(engine, settings), list[str]()
    with trail.unit():
        ids = {a.government_id: _account(stores, a, created) for a in ACCOUNTS}
        for call_sign, name, district, officer, _ in UNITS:
            _unit(stores, call_sign, name, district, ids[officer], created)
        for person in PERSONS:
            _person(stores, person, created)
        _missing_person(stores, ids["DEMO-SUPERVISOR"], created)
        _library_document(stores, created)
        hotel_id = _hotel(stores, created)
        key = _hotel_key(stores, hotel_id, settings.data_dir / HOTEL_KEY_FILE, created)
        if created:
            trail.record(ACTOR, "demo.seed", "demo", reason="demo sample data", details={"created": created})
    return Seeded(created, hotel_id, key)


def _account(stores: _Stores, account: Account, created: list[str]) -> int:
    found = stores.users.by_government_id(account.government_id)
    if found is not None:
        return found.id
    user = stores.users.add(
        government_id=account.government_id,
        mobile=account.mobile,
        name=account.name,
        role=account.role,
        districts=account.districts,
    )
    created.append(f"staff:{user.id}:{account.government_id}")
    return user.id


def _unit(
    stores: _Stores, call_sign: str, name: str, district: str, officer: int, created: list[str]
) -> None:
    unit = stores.patrol.get_unit(call_sign)
    if unit is None:
        stores.patrol.add_unit(call_sign, name, district)
        created.append(f"unit:{call_sign}")
    if stores.patrol.unit_of(officer) is None:
        stores.patrol.assign(call_sign, [officer])
        created.append(f"crew:{call_sign}:{officer}")


def _person(stores: _Stores, person: dict[str, Any], created: list[str]) -> None:
    from command_center.records.types import CaseFields, PersonFields
    from watchlist.plate_text import normalise_plate

    if stores.persons.by_cnic(person["cnic"], include_archived=True) is not None:
        return
    own = {k: v for k, v in person.items() if k not in ("cases", "vehicles")}
    added = stores.persons.add(PersonFields(**own), ACTOR)
    for fir, station, sections, status in person["cases"]:
        stores.persons.add_case(added.id, CaseFields(fir, station, sections, status), ACTOR)
    for plate, description in person["vehicles"]:
        display, key = normalise_plate(plate)
        stores.persons.add_vehicle(added.id, key, display, description, None, ACTOR)
    created.append(f"person:{added.id}")


def _missing_person(stores: _Stores, supervisor: int, created: list[str]) -> None:
    from sqlalchemy import select

    from command_center.records.missing_tables import missing_persons
    from pipeline.adapters import transactions

    query = select(missing_persons.c.id).where(missing_persons.c.report_number == MISSING["report_number"])
    with transactions.connect(stores.engine) as conn:
        if conn.execute(query).first() is not None:
            return
    values = {**MISSING, "last_seen_at": datetime.now(UTC) - timedelta(hours=6)}
    case, _ = stores.missing.add("missing", values, ACTOR, supervisor)
    created.append(f"missing:{case.id}")


def _library_document(stores: _Stores, created: list[str]) -> None:
    from command_center.records.library import DuplicateDocumentError, NewDocument
    from safecity_cli import demo_library as sop

    content = sop.TEXT.encode()
    document = NewDocument(
        sop.TITLE, "sop", None, sop.SUMMARY, sop.FILENAME, "text/markdown", content, pinned=True
    )
    try:
        added = stores.library.add(document, ACTOR)
    except DuplicateDocumentError:
        return
    created.append(f"document:{added.id}")


def _hotel(stores: _Stores, created: list[str]) -> int:
    for hotel in stores.keys.list_hotels(limit=1000):
        if hotel.licence_no == HOTEL["licence_no"]:
            return hotel.id
    hotel = stores.keys.create_hotel(**HOTEL, district="south", latitude=24.8530, longitude=67.0300)
    created.append(f"hotel:{hotel.id}")
    return hotel.id


def _hotel_key(stores: _Stores, hotel_id: int, kept: Path, created: list[str]) -> str | None:
    """The hotel's key: the one kept from an earlier run, or a new one when the hotel has none."""
    if kept.exists():
        return kept.read_text(encoding="utf-8").strip()
    if any(k.revoked_at is None for k in stores.keys.list_keys(hotel_id)):
        return None  # issued before and its copy lost: `safecity integrations issue-key` makes another
    issued = stores.keys.issue_key(hotel_id, ["checkins:post"], "demo check-in feed", ACTOR)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.touch(mode=0o600)
    kept.write_text(issued.raw_key + "\n", encoding="utf-8")
    created.append(f"integration_key:{issued.info.key_id}")
    return issued.raw_key


def place_units(settings: Settings) -> None:
    """Put the demo units next to the demo cameras (a fix stamped now), as their GPS would."""
    from redis.asyncio import Redis

    from command_center.dispatch.positions import PatrolPositions

    async def place() -> None:
        redis = Redis.from_url(settings.redis_url)
        try:
            config = settings.dispatch
            positions = PatrolPositions(redis, settings.patrol_redis_prefix, config.position_stale_s)
            for call_sign, *_, (latitude, longitude) in UNITS:
                await positions.update(call_sign, latitude, longitude, time.time())
        finally:
            await redis.aclose()

    asyncio.run(place())


def sign_in_lines(settings: Settings, seeded: Seeded) -> list[str]:
    """Who to sign in as, for which screen, and where the one-time codes arrive."""
    cc = settings.command_center
    base = f"http://{cc.host}:{cc.port}"
    lines = [f"sign in at {base}/ with a Government ID and its mobile:"]
    for account in ACCOUNTS:
        where = f"{base}/officer" if account.role == "patrol_officer" else f"{base}/ (console)"
        unit = next((u[0] for u in UNITS if u[3] == account.government_id), None)
        role = f"{account.role} of {unit}" if unit else account.role
        lines.append(f"  {account.government_id:<16} mobile {account.mobile}  {role:<26} {where}")
    sec = settings.security
    if sec.sms_backend == "console":
        codes = f"the command centre's log, {settings.data_dir / 'logs' / 'command-center.log'}"
    elif sec.sms_backend == "outbox":
        codes = f"the SMS outbox file {sec.sms_outbox}"
    else:
        codes = f"the SMS gateway ({sec.sms_http_url})"
    lines.append(f"one-time sign-in codes are not sent by SMS in the demo: they are written to {codes}")
    key = seeded.hotel_key or "(kept copy lost: safecity integrations issue-key)"
    lines.append(f"hotel {HOTEL['name']} (id {seeded.hotel_id}) posts check-ins with API key {key}")
    return lines
