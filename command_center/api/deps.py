"""FastAPI dependencies as ``Annotated`` aliases. Everything comes from ``app.state.services``.

Authentication will add ``CurrentUser`` here; routers then take it as one more parameter.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from nats.aio.client import Client as NATS
from starlette.requests import HTTPConnection

from command_center.consumer import HitConsumer
from command_center.enrolment import EnrolmentService
from command_center.feed import AlertFeed
from command_center.services import Services
from command_center.store import AlertStore
from pipeline.settings import Settings
from watchlist.store import WatchlistStore


def get_services(conn: HTTPConnection) -> Services:
    services: Services = conn.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_alert_store(services: ServicesDep) -> AlertStore:
    return services.alerts


def get_watchlist_store(services: ServicesDep) -> WatchlistStore:
    return services.watchlist


def get_feed(services: ServicesDep) -> AlertFeed:
    return services.feed


def get_nats(services: ServicesDep) -> NATS:
    return services.nats


def get_consumer(services: ServicesDep) -> HitConsumer:
    return services.consumer


def get_enrolment(services: ServicesDep) -> EnrolmentService:
    return services.enrolment


SettingsDep = Annotated[Settings, Depends(get_settings)]
AlertStoreDep = Annotated[AlertStore, Depends(get_alert_store)]
WatchlistStoreDep = Annotated[WatchlistStore, Depends(get_watchlist_store)]
FeedDep = Annotated[AlertFeed, Depends(get_feed)]
NatsDep = Annotated[NATS, Depends(get_nats)]
ConsumerDep = Annotated[HitConsumer, Depends(get_consumer)]
EnrolmentDep = Annotated[EnrolmentService, Depends(get_enrolment)]
