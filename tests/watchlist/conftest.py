from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.adapters.database import make_engine
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
from tests.services import deployment_audit_key
from watchlist.enrol import Enroller
from watchlist.governance import LegalBasis
from watchlist.store import WatchlistStore

OBAMA_ENROL = ("examples_obama.jpg", "examples_obama2.jpg", "tests_test_images_obama3.jpg")
OBAMA_PROBE = "examples_knn_examples_test_obama1.jpg"
ADMIN = "staff:1:admin"
CLERK = "staff:2:clerk"
SUPERVISOR = "staff:3:supervisor"


def basis(days: float = 30) -> LegalBasis:
    """A valid legal basis expiring ``days`` from now."""
    return LegalBasis("FIR 12/2025 PS Saddar", "SSP Investigation", datetime.now(UTC) + timedelta(days=days))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return parse({})


@pytest.fixture(scope="session")
def analyzer(settings: Settings, models_dir: Path) -> FaceAnalyzer:
    """The face models, loaded once for the whole test session."""
    analyzer = FaceAnalyzer(settings, models_dir)
    analyzer.load()
    return analyzer


@pytest.fixture
def store(database_url: str) -> Iterator[WatchlistStore]:
    engine = make_engine(database_url)
    store = WatchlistStore(engine)
    store.create_schema()
    yield store
    engine.dispose()


@pytest.fixture
def enroller(settings: Settings, analyzer: FaceAnalyzer, store: WatchlistStore) -> Enroller:
    return Enroller(settings, analyzer, store)


@pytest.fixture(scope="session")
def faces_dir(media_dir: Path) -> Path:
    return media_dir / "faces"


@pytest.fixture(scope="session")
def obama_photos(faces_dir: Path) -> list[tuple[str, bytes]]:
    return [(name, (faces_dir / "obama" / name).read_bytes()) for name in OBAMA_ENROL]


@pytest.fixture
def cli_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, models_dir: Path, nats_url: str) -> Path:
    """An empty config file; the environment points at the test services."""
    monkeypatch.setenv("SAFECITY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SAFECITY_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("SAFECITY_NATS_URL", nats_url)
    monkeypatch.setenv("SAFECITY_SECURITY__AUDIT_KEY", deployment_audit_key())
    config = tmp_path / "safecity.yaml"
    config.write_text("{}\n")
    return config


@pytest.fixture
def cli_env(cli_config: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    monkeypatch.setenv("SAFECITY_DATABASE_URL", database_url)
    return cli_config
