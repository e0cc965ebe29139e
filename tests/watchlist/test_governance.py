"""Four-eyes review and legal basis of watchlist entries, on SQLite and PostgreSQL, with a real index."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import update

from pipeline.adapters.bus import connect
from pipeline.settings import Settings
from tests.names import subjects
from tests.watchlist.conftest import ADMIN, CLERK, SUPERVISOR, basis
from watchlist.announce import announce
from watchlist.governance import FourEyesError, InvalidProfileError, LegalBasis, Status, WrongStatusError
from watchlist.matcher import WatchlistMatcher
from watchlist.review import Reviews
from watchlist.store import NewPhoto, ProfileNotFoundError, WatchlistStore
from watchlist.tables import profiles
from workers.watchlist_sync import WatchlistSync

JPEG = b"\xff\xd8\xff\xd9"


def unit(seed: int) -> npt.NDArray[np.float32]:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


def propose(store: WatchlistStore, seed: int, by: str = CLERK, days: float = 30, **kw: object) -> int:
    added = store.add_profile(
        f"Person {seed}",
        "wanted",
        [NewPhoto(JPEG, JPEG, 10, 10, unit(seed))],
        "mobilefacenet",
        basis=basis(days),
        proposed_by=by,
        **kw,  # type: ignore[arg-type]
    )
    return added.profile_id


def best(matcher: WatchlistMatcher, seed: int) -> int | None:
    found = matcher.match(unit(seed)[None], 1)[0]
    return found[0].profile_id if found and found[0].passes else None


def loaded(
    settings: Settings, store: WatchlistStore, clock: Callable[[], datetime] | None = None
) -> WatchlistMatcher:
    matcher = WatchlistMatcher(settings, clock=clock) if clock else WatchlistMatcher(settings)
    matcher.load(store)
    return matcher


def test_clerk_proposes_same_clerk_cannot_approve_supervisor_does(
    settings: Settings, store: WatchlistStore
) -> None:
    reviews = Reviews(store)
    profile_id = propose(store, 1)
    pending = store.get_profile(profile_id)
    assert pending is not None and pending.status is Status.PENDING_ADD and not pending.matching()
    assert pending.proposed_by == CLERK and pending.legal_reference == "FIR 12/2025 PS Saddar"
    assert list(store.iter_embeddings()) == [] and store.revision() == 0, "pending: nothing to match"
    assert best(loaded(settings, store), 1) is None

    with pytest.raises(FourEyesError, match="second person"):
        reviews.approve(profile_id, CLERK)
    with pytest.raises(FourEyesError):
        reviews.approve(profile_id, "staff:2:clerk (renamed)")  # same account id, new name
    decision = reviews.approve(profile_id, SUPERVISOR)
    assert decision.status is Status.ACTIVE and decision.step == "add" and decision.proposed_by == CLERK
    change = decision.change
    assert change is not None and change.action == "upsert" and change.revision == store.revision() == 1
    assert change.expires_at is not None and change.expires_at > datetime.now(UTC)

    matcher = loaded(settings, store)
    assert best(matcher, 1) == profile_id
    incremental = WatchlistMatcher(settings)
    assert incremental.apply(change) and best(incremental, 1) == profile_id
    active = store.get_profile(profile_id)
    assert active is not None and active.approved_by == SUPERVISOR and active.approved_at is not None
    with pytest.raises(WrongStatusError, match="nothing is pending"):
        reviews.approve(profile_id, ADMIN)


def test_supervisor_proposals_need_a_second_person_too(store: WatchlistStore) -> None:
    profile_id = propose(store, 2, by=SUPERVISOR)
    with pytest.raises(FourEyesError):
        Reviews(store).approve(profile_id, SUPERVISOR)
    assert Reviews(store).approve(profile_id, ADMIN).status is Status.ACTIVE


def test_removal_takes_effect_only_when_approved(settings: Settings, store: WatchlistStore) -> None:
    reviews = Reviews(store)
    profile_id = propose(store, 3)
    reviews.approve(profile_id, SUPERVISOR)
    with pytest.raises(InvalidProfileError, match="reason"):
        reviews.propose_removal(profile_id, CLERK, "no")
    proposed = reviews.propose_removal(profile_id, CLERK, "arrested on 3 March")
    assert proposed.status is Status.PENDING_REMOVAL and proposed.change is None
    assert best(loaded(settings, store), 3) == profile_id, "still matching while removal is pending"
    with pytest.raises(WrongStatusError):
        reviews.propose_removal(profile_id, ADMIN, "a second proposal")

    with pytest.raises(FourEyesError):
        reviews.approve(profile_id, CLERK)
    back = reviews.reject(profile_id, SUPERVISOR, "warrant still in force")
    assert back.status is Status.ACTIVE and back.step == "removal"
    row = store.get_profile(profile_id)
    assert (
        row is not None and row.rejected_by == SUPERVISOR and row.rejection_reason == "warrant still in force"
    )

    reviews.propose_removal(profile_id, CLERK, "arrested on 4 March")
    decision = reviews.approve(profile_id, SUPERVISOR)
    assert decision.status is Status.REMOVED and decision.change is not None
    assert decision.change.action == "remove" and decision.change.embedding_ids
    assert best(loaded(settings, store), 3) is None
    removed = store.get_profile(profile_id)
    assert removed is not None and (removed.removal_proposed_by, removed.removal_approved_by) == (
        CLERK,
        SUPERVISOR,
    )


def test_rejected_proposal_never_matches(settings: Settings, store: WatchlistStore) -> None:
    reviews = Reviews(store)
    profile_id = propose(store, 4)
    with pytest.raises(InvalidProfileError):
        reviews.reject(profile_id, SUPERVISOR, "")
    decision = reviews.reject(profile_id, SUPERVISOR, "no warrant on file")
    assert decision.status is Status.REJECTED and decision.change is None
    with pytest.raises(WrongStatusError):
        reviews.approve(profile_id, ADMIN)
    with pytest.raises(ProfileNotFoundError):
        reviews.approve(999_999, ADMIN)
    assert best(loaded(settings, store), 4) is None and store.revision() == 0


@pytest.mark.parametrize(
    ("reference", "authorised_by", "days", "error"),
    [
        ("", "SSP", 30, "legal_reference is required"),
        ("FIR 1/2025", " ", 30, "authorised_by is required"),
        ("FIR 1/2025", "SSP Ops", -1, "not in the future"),
        ("FIR 1/2025", "SSP Ops", 6 * 365, "more than five years"),
    ],
)
def test_legal_basis_is_required(
    store: WatchlistStore, reference: str, authorised_by: str, days: int, error: str
) -> None:
    bad = LegalBasis(reference, authorised_by, datetime.now(UTC) + timedelta(days=days))
    with pytest.raises(InvalidProfileError, match=error):
        store.add_profile(
            "X", "wanted", [NewPhoto(JPEG, JPEG, 10, 10, unit(5))], "m", basis=bad, proposed_by=CLERK
        )
    assert store.count_profiles() == 0


def test_expired_entry_stops_matching_in_store_and_running_matcher(
    settings: Settings, store: WatchlistStore
) -> None:
    profile_id = propose(store, 6, days=1)
    Reviews(store).approve(profile_id, SUPERVISOR)
    now = [datetime.now(UTC)]
    running = loaded(settings, store, clock=lambda: now[0])
    assert best(running, 6) == profile_id
    now[0] += timedelta(days=1, seconds=1)  # a worker that has run for a day, no reload, no message
    assert best(running, 6) is None and len(running) == 0, "dropped from the index at match time"

    other = propose(store, 7)
    Reviews(store).approve(other, SUPERVISOR)
    with store.engine.begin() as conn:  # expiry passed, as seen by a fresh load
        conn.execute(
            update(profiles)
            .where(profiles.c.id == other)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert [e.profile_id for e in store.iter_embeddings()] == [profile_id]
    assert best(loaded(settings, store), 7) is None
    expired = store.get_profile(other)
    assert (
        expired is not None
        and expired.status is Status.ACTIVE
        and expired.expired()
        and not expired.matching()
    )


def test_approving_after_the_basis_lapsed_is_refused(store: WatchlistStore) -> None:
    profile_id = propose(store, 8)
    with store.engine.begin() as conn:
        conn.execute(update(profiles).where(profiles.c.id == profile_id).values(expires_at=datetime.now(UTC)))
    with pytest.raises(WrongStatusError, match="expired while pending"):
        Reviews(store).approve(profile_id, SUPERVISOR)


async def test_pending_profiles_never_reach_a_running_worker(
    settings: Settings, store: WatchlistStore, nats_url: str
) -> None:
    """A worker's sync loads from the database and follows NATS; only an approval gets through."""
    existing = propose(store, 9, approved_by=ADMIN)
    pending = propose(store, 10)
    matcher = WatchlistMatcher(settings)
    nc = await connect(nats_url, "test-governance")
    try:
        sync = WatchlistSync(nc.jetstream(), matcher, store)
        await sync.start()
        assert best(matcher, 9) == existing and best(matcher, 10) is None
        decision = await asyncio.to_thread(Reviews(store).approve, pending, SUPERVISOR)
        assert decision.change is not None
        await announce(nc, subjects, decision.change)
        for _ in range(100):
            if best(matcher, 10) == pending:
                break
            await asyncio.sleep(0.05)
        assert best(matcher, 10) == pending
        await sync.stop()
    finally:
        await nc.drain()
