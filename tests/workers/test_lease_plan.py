"""Fair shares and lease decisions (pure): table-driven, plus a simulation of rounds converging."""

from __future__ import annotations

import pytest

from workers.lease_plan import Plan, View, plan, quotas


def cams(n: int) -> frozenset[str]:
    return frozenset(f"c{i}" for i in range(n))


@pytest.mark.parametrize(
    ("n", "counts", "expected"),
    [
        (0, {"a": 0}, {"a": 0}),
        (4, {"a": 0}, {"a": 4}),
        (4, {"a": 4, "b": 0}, {"a": 2, "b": 2}),
        (5, {"a": 0, "b": 3}, {"a": 2, "b": 3}),  # the extra goes to who holds more: nothing moves
        (5, {"a": 1, "b": 1, "c": 3}, {"a": 2, "b": 1, "c": 2}),  # ties broken by id
        (2, {"a": 0, "b": 0, "c": 0}, {"a": 1, "b": 1, "c": 0}),
    ],
)
def test_quotas_add_up_and_favour_holders(n: int, counts: dict[str, int], expected: dict[str, int]) -> None:
    got = quotas(n, counts)
    assert got == expected
    assert sum(got.values()) == n


def view(me: str, n: int, owners: dict[str, str], counts: dict[str, int], **kw: frozenset[str]) -> View:
    held = frozenset(c for c, w in owners.items() if w == me)
    return View(me=me, cameras=cams(n), owners=owners, held_counts=counts, held=held, **kw)


def test_alone_claims_every_camera() -> None:
    p = plan(view("a", 3, {}, {}))
    assert sorted(p.claim) == ["c0", "c1", "c2"] and p.release == () and p.quota == 3


def test_newcomer_gets_a_fair_share_politely() -> None:
    owners = {f"c{i}": "a" for i in range(4)}
    old = plan(view("a", 4, owners, {"a": 4, "b": 0}))
    assert len(old.release) == 2 and old.claim == ()
    new = plan(view("b", 4, {c: w for c, w in owners.items() if c not in old.release}, {"a": 2, "b": 0}))
    assert sorted(new.claim) == sorted(old.release)


def test_no_release_when_nobody_is_short() -> None:
    """A stale view (b's count not yet updated) must not make cameras hop for nothing."""
    owners = {"c0": "a", "c1": "a", "c2": "b"}
    p = plan(view("a", 3, owners, {"a": 2, "b": 1}))
    assert p == Plan((), (), 2, frozenset())


def test_removed_camera_is_released_and_unknown_lease_holders_count_as_owners() -> None:
    owners = {"c0": "a", "c9": "a", "c1": "?"}
    p = plan(view("a", 2, owners, {"a": 2}))
    assert p.release == ("c9",)
    assert p.claim == ()  # c1 is taken, even if its lease value is unreadable


def test_orphans_are_rescued_above_quota_after_two_rounds() -> None:
    """A dead worker still counted (presence not yet lapsed) must not leave its cameras dark."""
    owners = {"c0": "a", "c1": "a"}
    counts = {"a": 2, "dead": 2}
    first = plan(view("a", 4, owners, counts))
    assert first.claim == () and first.free == {"c2", "c3"}
    second = plan(view("a", 4, owners, counts, free_before=first.free))
    assert sorted(second.claim) == ["c2", "c3"]


def test_workers_prefer_different_cameras() -> None:
    a = plan(view("worker-a", 20, {}, {"worker-b": 0}))
    b = plan(view("worker-b", 20, {}, {"worker-a": 0}))
    assert len(a.claim) == len(b.claim) == 10
    assert len(set(a.claim) & set(b.claim)) < 8  # rendezvous hashing spreads first choices


@pytest.mark.parametrize(("n_cameras", "n_workers"), [(1, 3), (7, 3), (10, 4), (16, 5)])
def test_rounds_converge_to_fair_shares(n_cameras: int, n_workers: int) -> None:
    """Workers take turns (one round each, in order), with create() semantics for claims."""
    workers = [f"w{i}" for i in range(n_workers)]
    owners: dict[str, str] = {}
    counts = dict.fromkeys(workers, 0)
    free_before: dict[str, frozenset[str]] = {w: frozenset() for w in workers}
    for _ in range(6):
        for w in workers:
            p = plan(view(w, n_cameras, owners, counts, free_before=free_before[w]))
            free_before[w] = p.free
            for c in p.release:
                del owners[c]
            for c in p.claim:
                owners.setdefault(c, w)  # create() fails if someone got there first
            counts[w] = sum(1 for o in owners.values() if o == w)
    assert set(owners) == cams(n_cameras)
    held = sorted(counts.values())
    assert held[-1] - held[0] <= 1, counts
