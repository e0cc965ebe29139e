"""Wiring of the alert lifecycle and dispatch inside the command centre's lifespan (one call from app.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from redis.asyncio import Redis
from sqlalchemy import Engine

from command_center.alerts.lifecycle import LifecycleStore
from command_center.alerts.lifecycle_events import Announcer
from command_center.alerts.store import AlertStore
from command_center.dispatch.dispatcher import Dispatcher
from command_center.dispatch.officer_channel import OfficerChannels
from command_center.dispatch.patrol import PatrolStore
from command_center.dispatch.policy_loop import PolicyLoop
from command_center.dispatch.positions import PatrolPositions
from command_center.dispatch.store import DispatchStore
from command_center.dispatch.tracking import PatrolTracker
from command_center.security.audit import AuditTrail
from pipeline.settings import CameraConfig, Settings


@dataclass(frozen=True, slots=True)
class DispatchServices:
    lifecycle: LifecycleStore
    dispatches: DispatchStore
    patrol: PatrolStore
    positions: PatrolPositions
    tracker: PatrolTracker
    channels: OfficerChannels
    dispatcher: Dispatcher
    policy: PolicyLoop


async def start_dispatch(
    settings: Settings,
    engine: Engine,
    nc: NATS,
    redis: Redis,
    alerts: AlertStore,
    audit: AuditTrail,
    stack: AsyncExitStack,
    cameras: Mapping[str, CameraConfig] | None = None,
) -> DispatchServices:
    """Create the tables and the dispatch stream, start listening for positions and the policy loop."""
    config = settings.dispatch
    lifecycle = LifecycleStore(engine)
    await asyncio.to_thread(lifecycle.create_schema)
    patrol = PatrolStore(engine)
    dispatches = DispatchStore(engine)
    positions = PatrolPositions(redis, settings.patrol_redis_prefix, config.position_stale_s)

    channels = OfficerChannels(nc, settings.nats.subjects, ack_wait_s=config.notice_ack_wait_s)
    await channels.start()
    stack.push_async_callback(channels.close)

    tracker = PatrolTracker(config, patrol, positions, settings.nats.subjects)
    await tracker.subscribe(nc)
    stack.push_async_callback(tracker.close)

    announcer = Announcer(nc, settings.nats.subjects, alerts, audit)
    dispatcher = Dispatcher(
        settings,
        alerts=alerts,
        lifecycle=lifecycle,
        store=dispatches,
        patrol=patrol,
        positions=positions,
        channels=channels,
        announcer=announcer,
        cameras=cameras,
    )
    policy = PolicyLoop(
        config, lifecycle=lifecycle, dispatcher=dispatcher, positions=positions, announcer=announcer
    )
    await policy.start(nc, settings.nats.subjects)
    stack.push_async_callback(policy.stop)
    return DispatchServices(lifecycle, dispatches, patrol, positions, tracker, channels, dispatcher, policy)
