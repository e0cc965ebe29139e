"""The watchlist's records as the store hands them out: profiles, photos to add, embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from watchlist.governance import IN_FORCE, Status, utc


@dataclass(frozen=True, slots=True)
class NewPhoto:
    """One accepted enrolment photo with its face crop and embedding."""

    original: bytes
    crop_jpeg: bytes
    width: int
    height: int
    embedding: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AddedProfile:
    profile_id: int
    photo_ids: list[int]
    embedding_ids: list[int]
    revision: int
    status: Status
    lists: list[int]  # the watch lists it joined


@dataclass(frozen=True, slots=True)
class RemovedProfile:
    profile_id: int
    embedding_ids: list[int]
    revision: int


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    name: str
    category: str
    status: Status
    legal_reference: str
    authorised_by: str
    expires_at: datetime
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    removal_proposed_by: str | None
    removal_proposed_at: datetime | None
    removal_reason: str | None
    removal_approved_by: str | None
    removal_approved_at: datetime | None
    rejected_by: str | None
    rejected_at: datetime | None
    rejection_reason: str | None
    created_at: datetime
    updated_at: datetime
    photo_count: int
    embedding_count: int

    @property
    def in_force(self) -> bool:
        return self.status in IN_FORCE

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or datetime.now(UTC))

    def matching(self, now: datetime | None = None) -> bool:
        """Whether workers match against this profile now."""
        return self.in_force and not self.expired(now)


@dataclass(frozen=True, slots=True)
class StoredEmbedding:
    embedding_id: int
    profile_id: int
    name: str
    category: str
    vector: npt.NDArray[np.float32]
    expires_at: datetime


def _utc_or_none(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


_TIMES = (
    "expires_at",
    "proposed_at",
    "approved_at",
    "removal_proposed_at",
    "removal_approved_at",
    "rejected_at",
    "created_at",
    "updated_at",
)


def profile_from_row(row: Any) -> Profile:
    values = {name: getattr(row, name) for name in Profile.__slots__}
    values.update({name: _utc_or_none(values[name]) for name in _TIMES})
    values.update(
        id=int(row.id),
        status=Status(row.status),
        photo_count=int(row.photo_count),
        embedding_count=int(row.embedding_count),
    )
    return Profile(**values)
