from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from command_center.app import create_app
from pipeline.settings import Settings
from tests.command_center.helpers import Served, serve, settings_for
from tests.names import subjects


@pytest.fixture
def settings(database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path) -> Settings:
    return settings_for(
        database_url, nats_url, tmp_path, models_dir, redis_url=redis_url, max_upload_bytes=2_000_000
    )


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.drain()


@pytest.fixture
async def served(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    """The command centre on a free port; its hit consumer starts at new messages and is deleted after."""
    app = create_app(settings, hits_deliver_policy=DeliverPolicy.NEW)
    async with serve(app) as running:
        yield running
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(subjects.hits_stream, settings.command_center.consumer_name)
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(
            subjects.plates_stream, f"{settings.command_center.consumer_name}-plates"
        )
