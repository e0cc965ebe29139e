"""What one running command centre holds: built in the lifespan, read by the API through deps.py."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NATS
from redis.asyncio import Redis
from sqlalchemy import Engine

from command_center.admin.camera_directory import CameraDirectory
from command_center.admin.camera_health import CameraHealthBoard
from command_center.admin.enrolment import EnrolmentService
from command_center.admin.watch_lists import WatchListService
from command_center.alerts.consumer import HitConsumer
from command_center.alerts.feed import AlertFeed
from command_center.alerts.plate_reads import PlateReadConsumer
from command_center.alerts.store import AlertStore
from command_center.dispatch.services import DispatchServices
from command_center.imports.wiring import ImportServices
from command_center.records.casework import CaseworkServices
from command_center.records.services import RecordsServices
from command_center.security.apikeys import ApiKeyStore
from command_center.security.audit import AuditTrail
from command_center.security.audit_anchor import Anchors
from command_center.security.authn import StaffAuth
from pipeline.settings import Settings
from watchlist.store import WatchlistStore


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    engine: Engine
    nats: NATS
    cameras: CameraDirectory  # settings + the fleet's live camera catalogue
    alerts: AlertStore
    watchlist: WatchlistStore
    feed: AlertFeed
    consumer: HitConsumer
    plate_reads: PlateReadConsumer
    enrolment: EnrolmentService
    watch_lists: WatchListService  # lists, their members, rights and calibrated thresholds
    redis: Redis
    auth: StaffAuth
    apikeys: ApiKeyStore
    audit: AuditTrail
    anchors: Anchors  # the audit chain's heads, anchored in JetStream
    dispatch: DispatchServices  # alert lifecycle, patrol units, dispatch
    records: RecordsServices  # CRO persons, search, hotel check-ins, personal watchlists
    casework: CaseworkServices  # arrests, missing persons and unidentified bodies, crime reports
    camera_health: CameraHealthBoard  # cameras their workers cannot analyse (login refused)
    imports: ImportServices  # bulk import jobs: store, this replica's runner, the consoles watching
