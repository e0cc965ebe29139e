"""Wiring of the CRO records and the hotel check-in feed inside the command centre's lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from sqlalchemy import Engine

from command_center.alerts.store import AlertStore
from command_center.records.checkins import CheckinStore
from command_center.records.faces import GuestFaceMatcher
from command_center.records.fusion import FaceVehicleFusion
from command_center.records.library import LibraryStore
from command_center.records.notices import FollowNotifier
from command_center.records.screening import CheckinScreener
from command_center.records.screening_queue import ScreeningConsumer, ScreeningQueue, deployment_token
from command_center.records.search import PersonSearch
from command_center.records.store import PersonStore
from command_center.security.apikeys import ApiKeyStore
from command_center.security.users import UserStore
from pipeline.settings import CameraConfig, Settings
from watchlist.store import WatchlistStore


async def _screen_through_jetstream(
    settings: Settings, nc: NATS, screener: CheckinScreener, stack: AsyncExitStack
) -> None:
    """Check-ins reach screening through JetStream (``screening_queue``), shared by the replicas."""
    deployment = deployment_token(settings.resolved_database_url)
    names = settings.nats.subjects
    queue = ScreeningQueue(nc, names, deployment)
    consumer = ScreeningConsumer(
        nc,
        names,
        screener,
        name=f"{settings.command_center.consumer_name}-checkins-{deployment}",
        deployment=deployment,
    )
    await consumer.start()
    stack.push_async_callback(consumer.stop)
    await queue.start()
    stack.push_async_callback(queue.close)
    screener.queue = queue


@dataclass(frozen=True, slots=True)
class RecordsServices:
    persons: PersonStore
    search: PersonSearch
    checkins: CheckinStore
    notifier: FollowNotifier
    screener: CheckinScreener
    faces: GuestFaceMatcher  # the face models of the records (one copy, loaded on first use)
    library: LibraryStore  # Acts, judgments, circulars, manuals and SOPs
    fusion: FaceVehicleFusion  # a person's face and known vehicle seen together: one fused alert


async def start_records(
    settings: Settings,
    engine: Engine,
    nc: NATS,
    *,
    alert_store: AlertStore,
    watchlist: WatchlistStore,
    hotels: ApiKeyStore,
    users: UserStore,
    stack: AsyncExitStack,
    cameras: Mapping[str, CameraConfig] | None = None,
) -> RecordsServices:
    """Create the tables (and the trigram index on PostgreSQL), the notice stream, start listening for
    face alerts (followers, fusion), and screen check-ins left unscreened by a previous run."""
    persons = PersonStore(engine)
    await asyncio.to_thread(persons.create_schema)
    checkins = CheckinStore(engine, settings.records.checkin_alert_categories)
    known = cameras if cameras is not None else {c.id: c for c in settings.cameras}
    names = settings.nats.subjects
    notifier = FollowNotifier(
        nc,
        names,
        persons,
        users,
        known,
        ack_wait_s=settings.records.notice_ack_wait_s,
    )
    await notifier.start()
    stack.push_async_callback(notifier.close)
    fusion = FaceVehicleFusion(settings.fusion, engine, persons, alert_store, known, nc, names)
    await fusion.start()
    stack.push_async_callback(fusion.close)
    faces = GuestFaceMatcher(settings, watchlist)
    screener = CheckinScreener(
        engine,
        checkins,
        persons,
        hotels,
        alert_store,
        faces,
        notifier,
        nc,
        names,
        settings.records.checkin_alert_categories,
    )
    stack.push_async_callback(screener.close)
    await _screen_through_jetstream(settings, nc, screener, stack)
    await screener.resume()
    library = LibraryStore(engine)
    return RecordsServices(
        persons, PersonSearch(engine), checkins, notifier, screener, faces, library, fusion
    )
