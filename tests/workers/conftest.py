"""Fixtures shared by the worker tests: default settings and the real face models, loaded once a module
(a module that needs other settings defines its own ``settings``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings, parse
from tests.workers.source_reader import Reader


@pytest.fixture(scope="module")
def settings() -> Settings:
    # The global threshold with a strong frame at 0.60: the tables of these tests (frames of the
    # Hamilton clip between the two, or above both) were measured against those figures.
    return parse({"vote": {"strong_margin": 0.18}})


@pytest.fixture(scope="module")
def analyzer(settings: Settings, models_dir: Path) -> FaceAnalyzer:
    analyzer = FaceAnalyzer(settings, models_dir)
    analyzer.load()
    return analyzer


@pytest.fixture
def reader_factory() -> Iterator[list[Reader]]:
    """RTSP sources a test starts (appended to the list), stopped when it ends."""
    readers: list[Reader] = []
    yield readers
    for r in readers:
        r.stop.set()
        r.source.join(10)
