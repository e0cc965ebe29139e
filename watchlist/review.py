"""Review of watchlist changes (four-eyes): propose a removal, approve or reject a pending change.

Each step is one conditional UPDATE (``WHERE status = <expected>``) in one transaction, so two
reviewers racing on the same profile cannot both succeed. Approving changes what workers match, so it
bumps the watchlist revision and returns the ``WatchlistChange`` to announce; proposals and rejections
change nothing a worker sees (a pending profile is never announced).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from pipeline.adapters import transactions
from pipeline.contracts import WatchlistChange
from watchlist.governance import (
    FourEyesError,
    Status,
    WrongStatusError,
    same_person,
    utc,
    validate_actor,
    validate_reason,
)
from watchlist.membership import member_lists
from watchlist.store import ProfileNotFoundError, Recalibrate, WatchlistStore, vector_from_bytes
from watchlist.tables import face_embeddings, profiles

Step = Literal["add", "removal"]


@dataclass(frozen=True, slots=True)
class Decision:
    profile_id: int
    step: Step  # which proposal was decided (or made)
    status: Status  # the profile's status afterwards
    proposed_by: str
    change: WatchlistChange | None  # to announce to workers; None if matching is unaffected


class Reviews:
    def __init__(self, store: WatchlistStore, recalibrate: Recalibrate | None = None) -> None:
        self._store = store
        self._recalibrate = recalibrate

    def propose_removal(self, profile_id: int, proposed_by: str, reason: str) -> Decision:
        """active -> pending_removal; the entry keeps matching until a second person approves."""
        proposed_by = validate_actor(proposed_by)
        reason = validate_reason(reason)
        with transactions.begin(self._store.engine) as conn:
            self._expect(
                conn, profile_id, Status.ACTIVE, "only an active profile can be proposed for removal"
            )
            now = datetime.now(UTC)
            self._move(
                conn,
                profile_id,
                Status.ACTIVE,
                Status.PENDING_REMOVAL,
                removal_proposed_by=proposed_by,
                removal_proposed_at=now,
                removal_reason=reason,
                removal_approved_by=None,
                removal_approved_at=None,
            )
        return Decision(profile_id, "removal", Status.PENDING_REMOVAL, proposed_by, None)

    def approve(self, profile_id: int, approver: str) -> Decision:
        """Approve the pending add or removal; the approver must not be its proposer."""
        approver = validate_actor(approver)
        with transactions.begin(self._store.engine) as conn:
            row = self._pending(conn, profile_id)
            status = Status(row.status)
            proposer = row.proposed_by if status is Status.PENDING_ADD else row.removal_proposed_by
            if same_person(proposer, approver):
                raise FourEyesError(
                    f"{approver} proposed this change; a second person must approve it (four-eyes)"
                )
            now = datetime.now(UTC)
            if status is Status.PENDING_ADD and utc(row.expires_at) <= now:
                raise WrongStatusError(f"the legal basis of profile {profile_id} expired while pending")
            if status is Status.PENDING_ADD:
                self._move(conn, profile_id, status, Status.ACTIVE, approved_by=approver, approved_at=now)
                if self._recalibrate is not None:
                    self._recalibrate(conn, profile_id)
                change = self._upsert(conn, profile_id, self._store.bump(conn))
                return Decision(profile_id, "add", Status.ACTIVE, proposer, change)
            self._move(
                conn,
                profile_id,
                status,
                Status.REMOVED,
                removal_approved_by=approver,
                removal_approved_at=now,
            )
            if self._recalibrate is not None:
                self._recalibrate(conn, profile_id)
            revision = self._store.bump(conn)
            change = WatchlistChange(
                action="remove",
                profile_id=profile_id,
                embedding_ids=self._store.embedding_ids(conn, profile_id),
                revision=revision,
            )
            return Decision(profile_id, "removal", Status.REMOVED, proposer, change)

    def reject(self, profile_id: int, reviewer: str, reason: str) -> Decision:
        """Reject the pending add (-> rejected) or removal (-> active). A proposer may withdraw their own
        proposal this way: rejecting restores the state before it, so it needs no second person."""
        reviewer = validate_actor(reviewer)
        reason = validate_reason(reason)
        with transactions.begin(self._store.engine) as conn:
            row = self._pending(conn, profile_id)
            status = Status(row.status)
            after = Status.REJECTED if status is Status.PENDING_ADD else Status.ACTIVE
            self._move(
                conn,
                profile_id,
                status,
                after,
                rejected_by=reviewer,
                rejected_at=datetime.now(UTC),
                rejection_reason=reason,
            )
        step: Step = "add" if status is Status.PENDING_ADD else "removal"
        proposer = row.proposed_by if step == "add" else row.removal_proposed_by
        return Decision(profile_id, step, after, proposer, None)

    def _row(self, conn: Connection, profile_id: int) -> Any:
        row = conn.execute(select(profiles).where(profiles.c.id == profile_id)).first()
        if row is None:
            raise ProfileNotFoundError(profile_id)
        return row

    def _expect(self, conn: Connection, profile_id: int, status: Status, why: str) -> Any:
        row = self._row(conn, profile_id)
        if row.status != status.value:
            raise WrongStatusError(f"profile {profile_id} is {row.status}; {why}")
        return row

    def _pending(self, conn: Connection, profile_id: int) -> Any:
        row = self._row(conn, profile_id)
        if row.status not in (Status.PENDING_ADD.value, Status.PENDING_REMOVAL.value):
            raise WrongStatusError(f"profile {profile_id} is {row.status}; nothing is pending review")
        return row

    def _move(self, conn: Connection, profile_id: int, before: Status, after: Status, **values: Any) -> None:
        done = conn.execute(
            update(profiles)
            .where(profiles.c.id == profile_id, profiles.c.status == before.value)
            .values(
                status=after.value,
                active=after in (Status.ACTIVE, Status.PENDING_REMOVAL),
                updated_at=datetime.now(UTC),
                **values,
            )
        )
        if done.rowcount != 1:  # someone else decided in between
            raise WrongStatusError(f"profile {profile_id} is no longer {before.value}")

    def _upsert(self, conn: Connection, profile_id: int, revision: int) -> WatchlistChange:
        row = self._row(conn, profile_id)
        query = (
            select(face_embeddings.c.id, face_embeddings.c.vector)
            .where(face_embeddings.c.profile_id == profile_id)
            .order_by(face_embeddings.c.id)
        )
        embeddings = conn.execute(query).all()
        return WatchlistChange(
            action="upsert",
            profile_id=profile_id,
            name=row.name,
            category=row.category,
            embedding_ids=[int(e.id) for e in embeddings],
            embeddings=[vector_from_bytes(e.vector).astype(float).tolist() for e in embeddings],
            revision=revision,
            expires_at=utc(row.expires_at),
            lists=member_lists(conn, [profile_id]).get(profile_id, []),
        )
