"""The database away or busy is a 503 that says so, never a 500 (real PostgreSQL): while PostgreSQL
refuses the database, while every pooled connection is taken past ``database_pool.wait_s``, and for a
statement past ``database_pool.statement_timeout_s``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from command_center.app import create_app
from pipeline.adapters.database import make_engine
from pipeline.settings.database import DatabasePoolSettings
from tests.command_center.helpers import serve, settings_for
from tests.command_center.test_database_outage import outage

pytestmark = pytest.mark.postgres


def _busy(response_status: int, body: dict[str, str], headers: dict[str, str]) -> None:
    assert response_status == 503, body
    assert "database" in body["detail"]
    assert headers.get("retry-after") == "5"


async def test_a_refused_database_is_503_then_served_again(
    postgres_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path
) -> None:
    settings = settings_for(postgres_url, nats_url, tmp_path, models_dir, redis_url=redis_url)
    async with serve(create_app(settings)) as served:
        assert (await served.http.get("/alerts")).status_code == 200
        with outage(postgres_url):
            response = await served.http.get("/alerts")
            _busy(response.status_code, response.json(), dict(response.headers))
        response = await served.http.get("/alerts")
        assert response.status_code == 200, response.text


async def test_no_free_connection_within_the_wait_is_503(
    postgres_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path
) -> None:
    base = settings_for(postgres_url, nats_url, tmp_path, models_dir, redis_url=redis_url)
    # Startup's background work may hold the only connection for a moment on a busy machine: the wait is
    # long enough for that, and a request still gets its 503 once it has passed.
    pool = DatabasePoolSettings(size=1, overflow=0, wait_s=3)
    settings = base.model_copy(update={"database_pool": pool})
    async with serve(create_app(settings)) as served:
        engine = served.app.state.services.engine
        assert engine.pool.size() == 1
        held = await asyncio.to_thread(engine.connect)  # the pool's only connection
        try:
            response = await served.http.get("/alerts")
            _busy(response.status_code, response.json(), dict(response.headers))
        finally:
            await asyncio.to_thread(held.close)
        response = await served.http.get("/alerts")
        assert response.status_code == 200, response.text


def test_a_statement_past_its_timeout_is_cancelled(postgres_url: str) -> None:
    engine = make_engine(postgres_url, DatabasePoolSettings(statement_timeout_s=0.2))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "200ms"
            with pytest.raises(OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(5)"))
    finally:
        engine.dispose()
    unlimited = make_engine(postgres_url)
    try:
        with unlimited.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
    finally:
        unlimited.dispose()
