"""Wiring of arrests, missing persons and unidentified bodies, and crime reports (issue 7, parts 4-6)
inside the command centre's lifespan, after the CRO records they check against."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from sqlalchemy import Engine

from command_center.records.arrest_screening import ArrestScreener
from command_center.records.arrests import ArrestStore
from command_center.records.bulletins import Bulletins
from command_center.records.crimes import CrimeStore
from command_center.records.missing import MissingStore
from command_center.records.missing_service import MissingCasework
from command_center.records.reminder_loop import ReminderLoop
from command_center.records.reminders import ReminderStore
from command_center.records.services import RecordsServices
from command_center.security.audit import AuditTrail
from command_center.security.users import UserStore
from pipeline.settings import Settings
from watchlist.store import WatchlistStore


@dataclass(frozen=True, slots=True)
class CaseworkServices:
    arrests: ArrestStore
    screener: ArrestScreener
    missing: MissingCasework
    crimes: CrimeStore
    bulletins: Bulletins
    reminders: ReminderStore  # investigating officers' cases that need an update or a challan
    reminder_loop: ReminderLoop


async def start_casework(
    settings: Settings,
    engine: Engine,
    nc: NATS,
    *,
    records: RecordsServices,
    watchlist: WatchlistStore,
    users: UserStore,
    stack: AsyncExitStack,
) -> CaseworkServices:
    """Create the tables, open the bulletin channels, listen for missing-person alerts, and finish the
    screening of arrests a previous run left half-done."""
    arrests, missing_store, crimes = ArrestStore(engine), MissingStore(engine), CrimeStore(engine)
    for store in (arrests, missing_store, crimes):
        await asyncio.to_thread(store.create_schema)
    bulletins = Bulletins(nc, settings.nats.subjects, users, ack_wait_s=settings.records.notice_ack_wait_s)
    await bulletins.start()
    # The same hash chain as the API's (appends are serialised in the database, so a second handle on
    # it is safe): missing persons' watchlist entries are audited where they are made.
    audit = AuditTrail.of(engine, settings)
    missing = MissingCasework(missing_store, records.faces, watchlist, bulletins, nc, settings, audit)
    await missing.start()
    stack.push_async_callback(missing.close)
    screener = ArrestScreener(
        arrests,
        records.persons,
        records.search,
        records.faces,
        records.notifier,
        bulletins,
        crimes,
        missing_store,
        settings.records,
    )
    stack.push_async_callback(screener.close)
    await screener.resume()
    reminders = ReminderStore(engine, settings.records)
    loop = ReminderLoop(reminders, records.notifier, settings.records.case_reminder_check_s)
    loop.start()
    stack.push_async_callback(loop.close)
    return CaseworkServices(arrests, screener, missing, crimes, bulletins, reminders, loop)
