"""The alerts domain started: the live feed (with camera health notices), the hit and plate-read consumers."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.js.api import DeliverPolicy
from sqlalchemy import Engine

from command_center.admin.camera_directory import CameraDirectory
from command_center.admin.camera_health import CameraHealthBoard
from command_center.alerts.consumer import HitConsumer
from command_center.alerts.feed import AlertFeed
from command_center.alerts.plate_reads import PlateReadConsumer
from command_center.alerts.store import AlertStore
from pipeline.settings import Settings


@dataclass(frozen=True, slots=True)
class AlertServices:
    feed: AlertFeed
    camera_health: CameraHealthBoard  # cameras their workers cannot analyse, told to their districts
    consumer: HitConsumer
    plate_reads: PlateReadConsumer


async def start_alerts(
    settings: Settings,
    engine: Engine,
    nc: NATS,
    store: AlertStore,
    directory: CameraDirectory,
    policy: DeliverPolicy,
    stack: AsyncExitStack,
) -> AlertServices:
    """Subscribe the feed, then consume hits and plate reads; each is stopped when the stack closes
    (consumers first, so the batch in hand is acknowledged while NATS is still there)."""
    cc = settings.command_center
    names = settings.nats.subjects
    feed = AlertFeed()
    await feed.subscribe(nc, names)
    stack.push_async_callback(feed.close)
    camera_health = CameraHealthBoard(directory, feed, names)
    await camera_health.subscribe(nc)
    stack.push_async_callback(camera_health.close)

    known = directory if cc.unknown_cameras == "dead_letter" else None
    consumer = HitConsumer(
        nc,
        names,
        store,
        name=cc.consumer_name,
        deliver_policy=policy,
        ack_wait_s=cc.hits_ack_wait_s,
        retry_delay_s=cc.hits_retry_delay_s,
        cameras=known,
    )
    await consumer.start()
    stack.push_async_callback(consumer.stop)

    plate_reads = PlateReadConsumer(
        nc,
        names,
        engine,
        name=f"{cc.consumer_name}-plates",
        deliver_policy=policy,
        retry_delay_s=cc.hits_retry_delay_s,
        cameras=known,
    )
    await plate_reads.start()
    stack.push_async_callback(plate_reads.stop)
    return AlertServices(feed=feed, camera_health=camera_health, consumer=consumer, plate_reads=plate_reads)
