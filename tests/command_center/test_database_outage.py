"""A database outage loses no hit and no plate read, however long it lasts (real PostgreSQL, real NATS).

The outage is real: PostgreSQL refuses new connections to the test's database and its open ones are
terminated. Hits wait in JetStream, tried again every ``hits_retry_delay_s``, well past the 20 deliveries
after which they used to be dropped, and are stored once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from command_center.app import create_app
from pipeline.settings import Settings
from tests.command_center.helpers import Served, camera, eventually, hit, serve, settings_for
from tests.names import subjects
from tests.services import POSTGRES_ADMIN_URL

DELIVERIES_ONCE_DROPPED = 20


@contextlib.contextmanager
def outage(database_url: str) -> Iterator[None]:
    """PostgreSQL refuses the database until the block ends."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
            "pg_backend_pid()",
            (name,),
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@pytest.fixture
async def served(
    postgres_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, nc: Client
) -> AsyncIterator[Served]:
    base = settings_for(postgres_url, nats_url, tmp_path, models_dir, redis_url=redis_url)
    quick: Settings = base.model_copy(
        update={"command_center": base.command_center.model_copy(update={"hits_retry_delay_s": 0.05})}
    )
    async with serve(create_app(quick, hits_deliver_policy=DeliverPolicy.NEW)) as running:
        yield running
    name = quick.command_center.consumer_name
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(subjects.hits_stream, name)


async def test_a_hit_waits_out_a_database_outage_and_is_stored_once(
    served: Served, postgres_url: str, nc: Client
) -> None:
    consumer = served.app.state.services.consumer
    cam = camera()
    with outage(postgres_url):
        await nc.jetstream().publish(
            subjects.hits("face", cam), hit(cam, similarity=0.7).to_bytes(), stream=subjects.hits_stream
        )

        async def failed_often() -> bool:
            return consumer.stats.store_failures > DELIVERIES_ONCE_DROPPED + 5

        await eventually(failed_often, within_s=20)
        assert consumer.stats.created == 0

    async def stored() -> list[object]:
        response = await served.http.get("/alerts", params={"camera_id": cam})
        alerts: list[object] = response.json()["alerts"] if response.status_code == 200 else []
        return alerts

    alerts = await eventually(stored, within_s=20)
    await asyncio.sleep(0.5)  # a redelivered copy would show as a second hit or alert here
    assert len(alerts) == 1 and len(await stored()) == 1
    response = await served.http.get(f"/alerts/{alerts[0]['id']}")  # type: ignore[index]
    assert response.json()["hit_count"] == 1
