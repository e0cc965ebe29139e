from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.database import make_engine
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
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
