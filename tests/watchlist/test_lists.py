"""Watch lists in the database, on both databases: defaults, membership, calibration, liveness, scopes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from pipeline.contracts import WatchlistChange
from pipeline.settings import Settings
from tests.watchlist.conftest import ADMIN, SUPERVISOR, basis
from watchlist.catchup import changes_for
from watchlist.list_types import (
    ListConflictError,
    ListStatus,
    Mode,
    Viewer,
    WatchList,
    WatchListError,
    may_edit,
    may_view,
)
from watchlist.lists import ListSpec, WatchLists
from watchlist.matcher import WatchlistMatcher
from watchlist.membership import UnknownListError
from watchlist.policies import ListPolicies
from watchlist.store import NewPhoto, WatchlistStore

JPEG = b"\xff\xd8\xff\xd9"


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def enrol(
    store: WatchlistStore, watch_lists: WatchLists, vector: np.ndarray, category: str = "wanted", **kw: object
) -> int:
    added = store.add_profile(
        "Person",
        category,
        [NewPhoto(JPEG, JPEG, 10, 10, vector)],
        "mobilefacenet",
        basis=basis(),
        proposed_by=ADMIN,
        approved_by=ADMIN,
        recalibrate=watch_lists.recalibrate_in,
        **kw,  # type: ignore[arg-type]
    )
    return added.profile_id


@pytest.fixture
def lists(store: WatchlistStore, settings: Settings) -> WatchLists:
    return WatchLists.open(store, settings)


def by_name(lists: WatchLists, name: str) -> int:
    return next(w.id for w in lists.all() if w.name == name)


def test_a_new_database_gets_curated_live_lists_and_a_search_only_gallery(lists: WatchLists) -> None:
    found = {w.name: w for w in lists.all()}
    assert (
        found["Wanted"].live and found["Wanted"].auto_category == "wanted" and found["Wanted"].priority == 1
    )
    assert found["Missing persons"].live
    assert found["CRO gallery"].mode is Mode.SEARCH and found["CRO gallery"].all_profiles
    assert not found["History sheeters"].live
    lists.ensure_defaults()  # a second process starting: nothing doubles
    assert len(lists.all()) == len(found)


def test_profiles_enrolled_before_lists_existed_join_the_list_of_their_category(
    store: WatchlistStore, settings: Settings
) -> None:
    rng = np.random.default_rng(1)
    before = [
        store.add_profile(
            "Old",
            cat,
            [NewPhoto(JPEG, JPEG, 10, 10, v)],
            "m",
            basis=basis(),
            proposed_by=ADMIN,
            approved_by=ADMIN,
        ).profile_id
        for cat, v in zip(("wanted", "history_sheeter"), unit(rng, 2), strict=True)
    ]
    revision = store.revision()
    lists = WatchLists.open(store, settings)
    assert lists.lists_of(before[0]) == [by_name(lists, "Wanted")]
    assert lists.lists_of(before[1]) == [by_name(lists, "History sheeters")]
    assert store.revision() > revision  # workers re-read them with their lists
    assert lists.get(by_name(lists, "Wanted")).gallery_size == 1


def test_a_live_lists_threshold_rises_as_it_grows(store: WatchlistStore, lists: WatchLists) -> None:
    wanted = by_name(lists, "Wanted")
    rng = np.random.default_rng(2)
    seen = [lists.get(wanted).threshold]
    for batch in (5, 50, 200):
        for v in unit(rng, batch):
            enrol(store, lists, v)
        seen.append(lists.get(wanted).threshold)
    assert seen == sorted(seen) and seen[-1] > seen[0]
    w = lists.get(wanted)
    assert w.gallery_size == 255 and w.members == 255
    assert "at 255 embeddings" in w.calibration_note and "false alerts per camera-hour" in w.calibration_note


def test_a_profile_may_be_on_several_lists_and_named_lists_must_exist(
    store: WatchlistStore, lists: WatchLists
) -> None:
    created = lists.create(ListSpec("Bank robbers 2026", "wanted", Mode.LIVE, 1), SUPERVISOR).watch_list
    wanted = by_name(lists, "Wanted")
    pid = enrol(store, lists, unit(np.random.default_rng(3), 1)[0], lists=[wanted, created.id])
    assert lists.lists_of(pid) == sorted([wanted, created.id])
    with pytest.raises(UnknownListError):
        enrol(store, lists, unit(np.random.default_rng(4), 1)[0], lists=[9999])
    with pytest.raises(UnknownListError):  # nobody is put on the gallery of everybody
        enrol(store, lists, unit(np.random.default_rng(4), 1)[0], lists=[by_name(lists, "CRO gallery")])


def test_membership_changes_bump_the_revision_and_reach_matchers_with_the_lists(
    store: WatchlistStore, lists: WatchLists, settings: Settings
) -> None:
    rng = np.random.default_rng(5)
    vector = unit(rng, 1)[0]
    pid = enrol(store, lists, vector, category="history_sheeter")  # a search list only
    search_only = by_name(lists, "History sheeters")
    policies = ListPolicies()
    policies.load(store)
    worker = WatchlistMatcher(settings, keep=policies.keeps)
    worker.load(store)
    assert len(worker) == 0  # a worker holds only profiles on live lists

    revision = store.revision()
    change = lists.add_members(by_name(lists, "Watch"), [pid], SUPERVISOR)
    assert change.profiles == (pid,) and change.revision > revision
    for c in changes_for(store, change.profiles, datetime.now(UTC)):
        worker.apply(c)
    assert worker.match(vector[None], 1)[0][0].profile_id == pid
    assert lists.add_members(by_name(lists, "Watch"), [pid], SUPERVISOR).profiles == ()  # already on it

    change = lists.remove_members(by_name(lists, "Watch"), [pid], SUPERVISOR)
    (removed,) = changes_for(store, change.profiles, datetime.now(UTC))
    assert removed.action == "upsert" and removed.lists == [search_only]
    worker.apply(removed)
    assert len(worker) == 0


def test_a_list_going_live_or_stopping_touches_its_members(
    store: WatchlistStore, lists: WatchLists, settings: Settings
) -> None:
    pid = enrol(store, lists, unit(np.random.default_rng(6), 1)[0], category="rowdy_sheeter")
    rowdy = by_name(lists, "Rowdy sheeters")
    change = lists.update(rowdy, {"mode": "live"}, SUPERVISOR)
    assert change.watch_list.live and change.profiles == (pid,) and change.before == {"mode": "search"}
    policies = ListPolicies()
    assert policies.load(store) is True or policies.keeps([rowdy])
    assert policies.keeps([rowdy])
    change = lists.update(rowdy, {"status": "archived"}, SUPERVISOR)
    assert change.profiles == (pid,)
    assert policies.load(store) and not policies.keeps([rowdy])


def test_a_list_that_cannot_meet_its_target_refuses_to_go_live(
    store: WatchlistStore, lists: WatchLists
) -> None:
    # A deployment that wants nearly every genuine face to pass (90 %) before a list may alert.
    lists = WatchLists(store, dataclasses.replace(lists.calibrator, min_genuine_pass=0.9))
    rng = np.random.default_rng(7)
    for v in unit(rng, 40):
        enrol(store, lists, v, category="local")
    local = by_name(lists, "Local offenders")
    with pytest.raises(ListConflictError, match="cannot be live"):
        lists.update(local, {"mode": "live", "target_fpir": 1e-9}, SUPERVISOR)
    assert not lists.get(local).live  # nothing changed
    lists.update(local, {"mode": "live"}, SUPERVISOR)  # at the default target it can
    with pytest.raises(ListConflictError):
        lists.update(by_name(lists, "CRO gallery"), {"mode": "live"}, SUPERVISOR)


def test_a_supervisor_raises_a_threshold_and_clears_it(store: WatchlistStore, lists: WatchLists) -> None:
    wanted = by_name(lists, "Wanted")
    calibrated = lists.get(wanted).threshold
    raised = lists.update(wanted, {"threshold_floor": 0.65}, SUPERVISOR).watch_list
    assert raised.threshold == 0.65 and raised.strong_threshold == pytest.approx(0.73)
    assert lists.update(wanted, {"threshold_floor": None}, SUPERVISOR).watch_list.threshold == calibrated


@pytest.mark.parametrize(
    "changes",
    [
        {"priority": 9},
        {"purpose": "fishing"},
        {"viewers": ["everyone"]},
        {"cameras": ["bad id!"]},
        {"target_fpir": 0.5},
        {"threshold_floor": 1.5},
        {"colour": "red"},
    ],
)
def test_bad_list_fields_are_refused(lists: WatchLists, changes: dict[str, object]) -> None:
    with pytest.raises(WatchListError):
        lists.update(by_name(lists, "Wanted"), changes, SUPERVISOR)


def test_names_are_unique_whatever_their_case(lists: WatchLists) -> None:
    with pytest.raises(ListConflictError):
        lists.create(ListSpec("wanted", "wanted"), SUPERVISOR)


def sample(viewers: tuple[str, ...] = (), editors: tuple[str, ...] = ()) -> WatchList:
    now = datetime.now(UTC)
    return WatchList(
        1,
        "L",
        "wanted",
        "",
        Mode.LIVE,
        ListStatus.ACTIVE,
        False,
        None,
        1,
        (),
        (),
        True,
        viewers,
        editors,
        1e-4,
        None,
        0,
        0.42,
        0.5,
        0.0,
        1.0,
        "",
        "x",
        now,
        "x",
        now,
    )


def test_rights_per_list() -> None:
    restricted = sample(viewers=("role:supervisor", "user:7"), editors=("user:8",))
    assert may_view(restricted, Viewer(7, "operator")) and not may_edit(restricted, Viewer(7, "operator"))
    assert not may_view(restricted, Viewer(9, "operator"))
    assert may_view(restricted, Viewer(8, "records_clerk")) and may_edit(
        restricted, Viewer(8, "records_clerk")
    )
    assert may_edit(restricted, Viewer(1, "admin"))
    assert may_view(sample(viewers=()), Viewer(None, "patrol_officer"))


def test_scopes_follow_cameras_districts_and_camera_floors(store: WatchlistStore, lists: WatchLists) -> None:
    south = lists.create(ListSpec("South only", "suspect", Mode.LIVE, 2, districts=["south"]), SUPERVISOR)
    gate = lists.create(ListSpec("Airport gate", "suspect", Mode.LIVE, 2, cameras=["cam-gate"]), SUPERVISOR)
    policies = ListPolicies()
    policies.load(store)
    wanted = by_name(lists, "Wanted")
    assert set(policies.scope("cam-1", "south")) == {
        wanted,
        south.watch_list.id,
        by_name(lists, "Missing persons"),
        by_name(lists, "Watch"),
    }
    assert gate.watch_list.id in policies.scope("cam-gate", "east")
    assert south.watch_list.id not in policies.scope("cam-1", "east")
    raised = policies.scope("cam-1", "south", camera_floor=0.7)[wanted]
    assert raised.threshold == 0.7 and raised.strong > 0.7
    assert all(r.threshold >= 0 for r in policies.decision_scope().values())


def test_announced_lists_change_is_a_valid_message() -> None:
    change = WatchlistChange(action="lists", profile_id=0, revision=4)
    assert WatchlistChange.from_bytes(change.to_bytes()).action == "lists"
