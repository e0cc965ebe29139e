"""Watch lists as the store hands them out, the rules their fields obey, and who may see or change one.

A watch list is a named set of profiles with a purpose. ``live`` lists raise camera alerts where they
are live (cameras, districts) at a threshold calibrated for their size and false-alert target; ``search``
lists only answer investigative photo searches, ranked for a person to judge, and never page anyone.
A profile may be on several lists. Rights are per list, beside the role table: ``viewers`` and
``editors`` are grants (``role:<role>`` or ``user:<account id>``); no viewers means every account that
may read the watchlist; administrators may always do both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from watchlist.governance import InvalidProfileError, utc
from watchlist.tables import MAX_LIST_NAME_LENGTH, MAX_REASON_LENGTH

PURPOSES: tuple[str, ...] = (
    "wanted",
    "proclaimed_offender",
    "missing",
    "suspect",
    "habitual_offender",
    "cro",
    "watch",
    "other",
)
MAX_GRANTS = 200
MAX_SCOPE = 500  # cameras or districts named by one list
_GRANT = re.compile(r"^(role:[a-z_]{2,32}|user:[1-9][0-9]{0,9})$")
_CAMERA = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DISTRICT = re.compile(r"^[^\x00-\x1f]{1,64}$")
ADMIN_ROLE = "admin"


class Mode(StrEnum):
    LIVE = "live"
    SEARCH = "search"


class ListStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class WatchListError(InvalidProfileError):
    """A list field or change that cannot be stored; the message says which and why (HTTP 422)."""


class ListConflictError(Exception):
    """The change is refused in the list's current state: a name taken, a target that cannot be met
    live (HTTP 409); the message says why."""


class ListNotFoundError(LookupError):
    def __init__(self, list_id: int) -> None:
        super().__init__(f"no watch list with id {list_id}")
        self.list_id = list_id


@dataclass(frozen=True, slots=True)
class WatchList:
    id: int
    name: str
    purpose: str
    description: str
    mode: Mode
    status: ListStatus
    all_profiles: bool
    auto_category: str | None
    priority: int
    cameras: tuple[str, ...]
    districts: tuple[str, ...]
    requires_ack: bool
    viewers: tuple[str, ...]
    editors: tuple[str, ...]
    target_fpir: float
    threshold_floor: float | None
    gallery_size: int
    threshold: float
    strong_threshold: float
    fpir_bound: float
    genuine_pass: float
    calibration_note: str
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    members: int = 0  # profiles listed (for all_profiles lists: every profile in force)

    @property
    def live(self) -> bool:
        """Raises camera alerts now."""
        return self.mode is Mode.LIVE and self.status is ListStatus.ACTIVE

    def covers(self, camera_id: str, district: str) -> bool:
        """Whether a live list watches this camera (by id, or by its district when no ids are named)."""
        if self.cameras:
            return camera_id in self.cameras
        return not self.districts or district in self.districts


def list_from_row(row: Any, members: int = 0) -> WatchList:
    return WatchList(
        id=int(row.id),
        name=row.name,
        purpose=row.purpose,
        description=row.description or "",
        mode=Mode(row.mode),
        status=ListStatus(row.status),
        all_profiles=bool(row.all_profiles),
        auto_category=row.auto_category,
        priority=int(row.priority),
        cameras=tuple(row.cameras or ()),
        districts=tuple(row.districts or ()),
        requires_ack=bool(row.requires_ack),
        viewers=tuple(row.viewers or ()),
        editors=tuple(row.editors or ()),
        target_fpir=float(row.target_fpir),
        threshold_floor=float(row.threshold_floor) if row.threshold_floor is not None else None,
        gallery_size=int(row.gallery_size),
        threshold=float(row.threshold),
        strong_threshold=float(row.strong_threshold),
        fpir_bound=float(row.fpir_bound),
        genuine_pass=float(row.genuine_pass),
        calibration_note=row.calibration_note or "",
        created_by=row.created_by,
        created_at=utc(row.created_at),
        updated_by=row.updated_by,
        updated_at=utc(row.updated_at),
        members=members,
    )


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks, as far as list rights go: the account id and role (``principal`` of the API)."""

    account_id: int | None
    role: str

    def grants(self) -> set[str]:
        found = {f"role:{self.role}"}
        if self.account_id is not None:
            found.add(f"user:{self.account_id}")
        return found


def may_view(watch_list: WatchList, viewer: Viewer) -> bool:
    if viewer.role == ADMIN_ROLE or not watch_list.viewers or may_edit(watch_list, viewer):
        return True
    return bool(viewer.grants() & set(watch_list.viewers))


def may_edit(watch_list: WatchList, viewer: Viewer) -> bool:
    return viewer.role == ADMIN_ROLE or bool(viewer.grants() & set(watch_list.editors))


# -- validation ----------------------------------------------------------------------------------------


def validate_list_name(name: str) -> str:
    text = " ".join(name.split())
    if len(text) < 3 or len(text) > MAX_LIST_NAME_LENGTH or not text.isprintable():
        raise WatchListError(f"a list name has 3 to {MAX_LIST_NAME_LENGTH} printable characters")
    return text


def validate_purpose(purpose: str) -> str:
    value = purpose.strip().lower()
    if value not in PURPOSES:
        raise WatchListError(f"unknown purpose {purpose!r}; use one of: {', '.join(PURPOSES)}")
    return value


def validate_description(text: str) -> str:
    value = " ".join(text.split())
    if len(value) > MAX_REASON_LENGTH or not value.isprintable():
        raise WatchListError(f"a description has at most {MAX_REASON_LENGTH} printable characters")
    return value


def validate_grants(field: str, grants: Sequence[str]) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(g.strip() for g in grants))
    if len(values) > MAX_GRANTS:
        raise WatchListError(f"{field}: at most {MAX_GRANTS} grants")
    bad = [g for g in values if not _GRANT.match(g)]
    if bad:
        raise WatchListError(f"{field}: {bad[0]!r} is not a grant; use role:<role> or user:<account id>")
    return values


def validate_scope(
    cameras: Sequence[str], districts: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    cams = tuple(dict.fromkeys(c.strip() for c in cameras))
    dists = tuple(dict.fromkeys(" ".join(d.split()) for d in districts))
    if len(cams) > MAX_SCOPE or len(dists) > MAX_SCOPE:
        raise WatchListError(f"a list names at most {MAX_SCOPE} cameras and {MAX_SCOPE} districts")
    bad = [c for c in cams if not _CAMERA.match(c)]
    if bad:
        raise WatchListError(f"camera id {bad[0]!r} is not valid (letters, digits, '-' and '_')")
    if any(not _DISTRICT.match(d) for d in dists):
        raise WatchListError("a district name has 1 to 64 printable characters")
    return cams, dists


def validate_priority(priority: int) -> int:
    if not 1 <= priority <= 5:
        raise WatchListError("priority is 1 (most urgent) to 5")
    return priority


def validate_target(target_fpir: float) -> float:
    if not 1e-9 <= target_fpir <= 0.1:
        raise WatchListError(
            "target_fpir (false alerts per stranger passing a camera) must be between 1e-9 and 0.1"
        )
    return target_fpir


def validate_floor(floor: float | None) -> float | None:
    if floor is not None and not 0.0 < floor < 1.0:
        raise WatchListError("threshold_floor must be a similarity between 0 and 1")
    return floor
