from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import SHARED, postgres_database, running_nats, running_redis


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    with running_nats() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'safecity.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """PostgreSQL only, for slow end-to-end runs whose database code the two-database tests already cover."""
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return Path(os.environ.get("SAFECITY_MODELS_DIR", SHARED / "models")).resolve()


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return SHARED / "media"
