"""The vehicle hotlist's vocabulary: statuses, an entry as the store hands it out, field validation.

A hotlist entry says why the police want to know when a vehicle is seen: its registration number, a
status (``stolen``, ``crime_involved``, ``wanted``, ``recovered``, ``abandoned``), the reason, the
case/FIR reference it belongs to, the registered owner, a priority (1 most urgent .. 5) and an
optional expiry. One plate may be on the list under several cases; (plate, case) identifies an entry.

An entry *alerts* while its status is one that calls for action, it is not removed and not expired.
``recovered`` entries stop alerting but stay searchable; removed ones are kept for history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pipeline.validators import normalise_label, normalise_person_name, normalise_reference
from watchlist import governance
from watchlist.governance import MAX_VALIDITY, utc
from watchlist.plate_text import InvalidPlateError, normalise_plate

__all__ = [
    "ALERTING",
    "DEFAULT_PRIORITY",
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "HotlistEntry",
    "InvalidPlateError",
    "InvalidVehicleError",
    "ListState",
    "Listing",
    "NewVehicle",
    "VehicleStatus",
    "validate_actor",
    "validate_reason",
]

MIN_PRIORITY = 1  # most urgent
MAX_PRIORITY = 5
DEFAULT_PRIORITY = 3
MIN_REASON = 3
MAX_REASON = 500


class InvalidVehicleError(ValueError):
    """A hotlist field that cannot be stored; the message names the field and says why."""


class VehicleStatus(StrEnum):
    STOLEN = "stolen"
    CRIME_INVOLVED = "crime_involved"
    WANTED = "wanted"
    RECOVERED = "recovered"
    ABANDONED = "abandoned"


# Statuses that call for an alert when the vehicle is seen; ``recovered`` is kept only to answer searches.
ALERTING = frozenset(
    {VehicleStatus.STOLEN, VehicleStatus.CRIME_INVOLVED, VehicleStatus.WANTED, VehicleStatus.ABANDONED}
)


class ListState(StrEnum):
    """Which entries a listing of the hotlist shows, by where they are in their life."""

    ACTIVE = "active"  # not removed, not expired: in force (a recovered one too; filter by status)
    EXPIRED = "expired"  # lapsed, not removed
    REMOVED = "removed"  # taken off the list, kept for history
    ALL = "all"


MAX_LIST_LIMIT = 200
MAX_LIST_OFFSET = 100_000  # deeper than anyone pages; beyond it, narrow the filters


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a filtered listing: most urgent first, then newest first (stable under paging)."""

    statuses: frozenset[VehicleStatus] = frozenset()  # empty: any status
    priority: int | None = None  # exactly this priority
    state: ListState = ListState.ACTIVE
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if self.priority is not None and not MIN_PRIORITY <= self.priority <= MAX_PRIORITY:
            raise InvalidVehicleError(f"priority is {self.priority}; use {MIN_PRIORITY} to {MAX_PRIORITY}")
        if not 1 <= self.limit <= MAX_LIST_LIMIT:
            raise InvalidVehicleError(f"limit is {self.limit}; use 1 to {MAX_LIST_LIMIT}")
        if not 0 <= self.offset <= MAX_LIST_OFFSET:
            raise InvalidVehicleError(f"offset is {self.offset}; use 0 to {MAX_LIST_OFFSET}")


def validate_actor(actor: str) -> str:
    try:
        return governance.validate_actor(actor)
    except ValueError as exc:
        raise InvalidVehicleError(str(exc)) from None


def validate_reason(reason: str | None) -> str:
    """A removal reason (5 to 500 characters)."""
    try:
        return governance.validate_reason(reason)
    except ValueError as exc:
        raise InvalidVehicleError(str(exc)) from None


def parse_status(value: str) -> VehicleStatus:
    text = value.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return VehicleStatus(text)
    except ValueError:
        names = ", ".join(s.value for s in VehicleStatus)
        raise InvalidVehicleError(f"unknown status {value!r}; use one of: {names}") from None


def parse_priority(value: int | str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidVehicleError(f"priority must be a whole number, not {value!r}") from None
    if not MIN_PRIORITY <= number <= MAX_PRIORITY:
        raise InvalidVehicleError(
            f"priority is {number}; use {MIN_PRIORITY} (most urgent) to {MAX_PRIORITY} (least)"
        )
    return number


def parse_expiry(value: datetime | str | None, now: datetime | None = None) -> datetime | None:
    """None (no expiry) or a UTC time in the future, at most five years away; a date means its midnight
    UTC."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidVehicleError(
                f"expires_at {value!r} is not a date (YYYY-MM-DD) or ISO time"
            ) from None
    try:
        expires = utc(value)
    except (OverflowError, ValueError):  # e.g. year 1 or 9999 with a UTC offset
        raise InvalidVehicleError(f"expires_at {value.isoformat()} is out of range") from None
    now = now or datetime.now(UTC)
    if expires <= now:
        raise InvalidVehicleError(f"expires_at {expires.isoformat()} is not in the future")
    if expires - now > MAX_VALIDITY:
        raise InvalidVehicleError(f"expires_at {expires.isoformat()} is more than five years away")
    return expires


def _field(name: str, value: str, check: Any) -> str:
    try:
        result: str = check(value)
    except ValueError as exc:
        raise InvalidVehicleError(f"{name}: {exc}") from None
    return result


def parse_reason(value: str) -> str:
    text = " ".join(value.split())
    if len(text) < MIN_REASON:
        raise InvalidVehicleError(f"reason is required (at least {MIN_REASON} characters)")
    if len(text) > MAX_REASON:
        raise InvalidVehicleError(f"reason is {len(text)} characters; at most {MAX_REASON} allowed")
    if not text.isprintable():
        raise InvalidVehicleError("reason contains control characters")
    return text


def parse_case(value: str) -> str:
    return _field("case_reference", value, normalise_reference)


def case_key(reference: str) -> str:
    """How two spellings of one case reference compare: case and spacing do not matter."""
    return " ".join(reference.upper().split())


def parse_optional(name: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    check = normalise_person_name if name == "owner" else normalise_label
    return _field(name, value, check)


def parse_plate(value: str) -> tuple[str, str]:
    """(display form, key) of a registration number; InvalidVehicleError naming the problem."""
    try:
        return normalise_plate(value)
    except InvalidPlateError as exc:
        raise InvalidVehicleError(f"plate: {exc}") from None


@dataclass(frozen=True, slots=True)
class NewVehicle:
    """A hotlist entry as a person or a CSV row states it, validated by ``validated()``."""

    plate: str
    status: VehicleStatus | str
    reason: str
    case_reference: str
    owner: str | None = None
    vehicle: str | None = None
    priority: int | str = DEFAULT_PRIORITY
    expires_at: datetime | str | None = None

    def validated(self, now: datetime | None = None) -> ValidVehicle:
        display, key = parse_plate(self.plate)
        case = parse_case(self.case_reference)
        return ValidVehicle(
            plate=display,
            plate_key=key,
            status=parse_status(str(self.status)),
            reason=parse_reason(self.reason),
            case_reference=case,
            case_key=case_key(case),
            owner=parse_optional("owner", self.owner),
            vehicle=parse_optional("vehicle", self.vehicle),
            priority=parse_priority(self.priority),
            expires_at=parse_expiry(self.expires_at, now),
        )


@dataclass(frozen=True, slots=True)
class ValidVehicle:
    plate: str
    plate_key: str
    status: VehicleStatus
    reason: str
    case_reference: str
    case_key: str
    owner: str | None
    vehicle: str | None
    priority: int
    expires_at: datetime | None

    def row(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in ValidVehicle.__slots__}
        values["status"] = self.status.value
        return values


EDITABLE = ("plate", "status", "reason", "case_reference", "owner", "vehicle", "priority", "expires_at")


def validate_changes(changes: Mapping[str, object], now: datetime | None = None) -> dict[str, Any]:
    """Column values for the given field changes (``None`` clears owner, vehicle or expiry)."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidVehicleError(f"cannot change {', '.join(unknown)}; editable: {', '.join(EDITABLE)}")
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name in ("owner", "vehicle"):
            values[name] = parse_optional(name, _text_or_none(name, value))
        elif name == "expires_at":
            if value is not None and not isinstance(value, datetime | str):
                raise InvalidVehicleError("expires_at must be a date or ISO time")
            values[name] = parse_expiry(value, now)
        elif value is None:
            raise InvalidVehicleError(f"{name} cannot be cleared")
        elif name == "plate":
            values["plate"], values["plate_key"] = parse_plate(_text(name, value))
        elif name == "status":
            values[name] = parse_status(_text(name, value)).value
        elif name == "reason":
            values[name] = parse_reason(_text(name, value))
        elif name == "case_reference":
            values[name] = parse_case(_text(name, value))
            values["case_key"] = case_key(values[name])
        else:
            if not isinstance(value, int | str) or isinstance(value, bool):
                raise InvalidVehicleError("priority must be a whole number")
            values[name] = parse_priority(value)
    return values


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidVehicleError(f"{name} must be text")
    return value


def _text_or_none(name: str, value: object) -> str | None:
    return None if value is None else _text(name, value)


@dataclass(frozen=True, slots=True)
class HotlistEntry:
    id: int
    plate: str  # as written, upper case: "LEA-1234"
    plate_key: str  # letters and digits only: "LEA1234"
    status: VehicleStatus
    reason: str
    case_reference: str
    owner: str | None
    vehicle: str | None
    priority: int
    expires_at: datetime | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    removed_by: str | None
    removed_at: datetime | None
    removal_reason: str | None

    @property
    def removed(self) -> bool:
        return self.removed_at is not None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))

    def alerting(self, now: datetime | None = None) -> bool:
        """Whether a sighting of this vehicle should raise an alert now."""
        return self.status in ALERTING and not self.removed and not self.expired(now)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (times as ISO text), plus ``alerting`` and ``expired`` now."""
        values: dict[str, Any] = {name: getattr(self, name) for name in HotlistEntry.__slots__}
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = value.isoformat()
        values["status"] = self.status.value
        values["alerting"] = self.alerting()
        values["expired"] = self.expired()
        return values


_TIMES = ("expires_at", "created_at", "updated_at", "removed_at")


def entry_from_row(row: Any) -> HotlistEntry:
    mapping = row._asdict()  # much faster than getattr per column, which matters for a large hotlist
    values = {name: mapping[name] for name in HotlistEntry.__slots__}
    for name in _TIMES:
        if values[name] is not None:
            values[name] = utc(values[name])
    values.update(id=int(row.id), status=VehicleStatus(row.status), priority=int(row.priority))
    return HotlistEntry(**values)
