"""The per-camera path with watch lists, on real frames, real models and a real database: a search-only
list never raises a camera alert, a live one does at its own threshold, and a camera's raised threshold
silences weaker sightings. What the worker holds follows the lists as they change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.adapters.database import make_engine
from pipeline.contracts import FaceHit
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from tests.watchlist.conftest import ADMIN, SUPERVISOR, basis
from tests.workers.media import HAMILTON, LIN, LIN_CLOSE_UP, every, video_frames
from tests.workers.test_analysis import FIVE_FPS, play
from watchlist.catchup import changes_for
from watchlist.enrol import Enroller
from watchlist.lists import WatchLists
from watchlist.matcher import WatchlistMatcher
from watchlist.policies import CameraScope, ListPolicies
from watchlist.store import WatchlistStore
from workers.analysis import CameraAnalyser
from workers.stats import CameraCounters


@pytest.fixture(scope="module")
def close_up() -> dict[int, np.ndarray]:
    frames = video_frames(HAMILTON)
    return {i: frames[i] for i in every(FIVE_FPS, LIN_CLOSE_UP)}


class Deployment:
    """A database with Lin-Manuel Miranda enrolled as a history sheeter (a search-only list), and a
    worker's view of it: the lists, and a matcher holding only the profiles on live lists."""

    def __init__(self, settings: Settings, analyzer: FaceAnalyzer, tmp_path: Path) -> None:
        self.engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
        self.store = WatchlistStore(self.engine)
        self.store.create_schema()
        self.lists = WatchLists.open(self.store, settings)
        enroller = Enroller(settings, analyzer, self.store, lists=self.lists)
        photo = [(LIN.name, LIN.read_bytes())]
        self.profile = enroller.enrol(
            "Lin-Manuel Miranda", "history_sheeter", photo, basis(), ADMIN
        ).profile_id
        self.policies = ListPolicies()
        self.policies.load(self.store)
        self.matcher = WatchlistMatcher(settings, keep=self.policies.keeps)
        self.matcher.load(self.store)

    def list_id(self, name: str) -> int:
        return next(w.id for w in self.lists.all() if w.name == name)

    def follow(self, profile_ids: tuple[int, ...]) -> None:
        """What a worker does on the announcements: reload the lists, apply the profiles' changes."""
        self.policies.load(self.store)
        for change in changes_for(self.store, profile_ids, datetime.now(UTC)):
            self.matcher.apply(change)


@pytest.fixture
def deployment(settings: Settings, analyzer: FaceAnalyzer, tmp_path: Path) -> Iterator[Deployment]:
    d = Deployment(settings, analyzer, tmp_path)
    yield d
    d.engine.dispose()


def watch(
    settings: Settings,
    analyzer: FaceAnalyzer,
    d: Deployment,
    frames: dict[int, np.ndarray],
    floor: float | None = None,
) -> list[FaceHit]:
    hits: list[FaceHit] = []
    analyser = CameraAnalyser(
        "cam-south-1",
        "w-test",
        settings,
        analyzer,
        d.matcher,
        CameraCounters("cam-south-1"),
        hits.append,
        scope=CameraScope(d.policies, "cam-south-1", "south", floor),
    )
    play(analyser, frames, set(frames))
    analyser.finish()
    return hits


def test_a_search_only_list_never_raises_a_camera_alert(
    settings: Settings, analyzer: FaceAnalyzer, deployment: Deployment, close_up: dict[int, np.ndarray]
) -> None:
    assert len(deployment.matcher) == 0, "a worker holds nobody who is only on search lists"
    assert watch(settings, analyzer, deployment, close_up) == []


def test_a_live_list_alerts_at_its_own_threshold_and_priority(
    settings: Settings, analyzer: FaceAnalyzer, deployment: Deployment, close_up: dict[int, np.ndarray]
) -> None:
    wanted = deployment.list_id("Wanted")
    change = deployment.lists.add_members(wanted, [deployment.profile], SUPERVISOR)
    deployment.follow(change.profiles)
    hits = watch(settings, analyzer, deployment, close_up)
    assert [h.profile_name for h in hits] == ["Lin-Manuel Miranda"]
    hit = hits[0]
    threshold = deployment.lists.get(wanted).threshold
    assert (hit.watch_list_id, hit.watch_list_name, hit.priority) == (wanted, "Wanted", 1)
    assert hit.threshold == pytest.approx(threshold) and hit.similarity >= threshold and hit.requires_ack

    # The list taken off this camera's district: nothing here, whatever the person does.
    deployment.lists.update(wanted, {"districts": ["east"]}, SUPERVISOR)
    deployment.follow(())
    assert watch(settings, analyzer, deployment, close_up) == []


def test_a_cameras_raised_threshold_silences_weaker_sightings(
    settings: Settings, analyzer: FaceAnalyzer, deployment: Deployment, close_up: dict[int, np.ndarray]
) -> None:
    wanted = deployment.list_id("Wanted")
    deployment.follow(deployment.lists.add_members(wanted, [deployment.profile], SUPERVISOR).profiles)
    assert watch(settings, analyzer, deployment, close_up, floor=0.9) == []  # best frame scores 0.69


def test_a_list_that_stops_being_live_is_dropped_by_the_worker(
    settings: Settings, deployment: Deployment
) -> None:
    wanted = deployment.list_id("Wanted")
    deployment.follow(deployment.lists.add_members(wanted, [deployment.profile], SUPERVISOR).profiles)
    assert len(deployment.matcher) == 1
    change = deployment.lists.update(wanted, {"mode": "search"}, SUPERVISOR)
    assert deployment.policies.load(deployment.store), "which lists are live changed"
    assert deployment.matcher.refilter() == 1 and len(deployment.matcher) == 0
    assert change.profiles == (deployment.profile,)
