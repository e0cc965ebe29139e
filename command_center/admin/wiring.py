"""The administration domain started: watch lists kept calibrated, enrolment, scheduled purges."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from sqlalchemy import Engine

from command_center.admin.enrolment import EnrolmentService
from command_center.admin.retention import Purger, start_purges
from command_center.admin.watch_lists import WatchListService
from command_center.security.audit import AuditTrail
from pipeline.settings import Settings
from watchlist.lists import WatchLists
from watchlist.store import WatchlistStore


@dataclass(frozen=True, slots=True)
class AdminServices:
    watch_lists: WatchListService
    enrolment: EnrolmentService


async def start_admin(
    settings: Settings,
    engine: Engine,
    nc: NATS,
    watchlist: WatchlistStore,
    audit: AuditTrail,
    stack: AsyncExitStack,
) -> AdminServices:
    lists = await asyncio.to_thread(WatchLists.open, watchlist, settings)
    watch_lists = WatchListService(lists, watchlist, nc, settings.nats.subjects)
    watch_lists.start(settings.watchlist.lists.recalibrate_s, stack)
    enrolment = EnrolmentService(settings, watchlist, nc, lists)
    start_purges(Purger(engine, settings.retention, audit), settings.retention.purge_every_s, stack)
    return AdminServices(watch_lists=watch_lists, enrolment=enrolment)
