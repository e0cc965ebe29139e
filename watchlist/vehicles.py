"""The vehicle hotlist in SQLite or PostgreSQL (SQLAlchemy Core): add, change, remove, look up.

Each entry records who created it and who changed it last, and when; the API and the CLI write every
change to the audit trail as well, with the before/after values. Removal is soft: the row stays with
who removed it, when and why, and no longer matches or appears in searches by default. Every change
bumps the hotlist revision in the same transaction (``HotlistMatcher.refresh`` reloads on a change).

CSV import lives in ``watchlist.vehicle_import``, searching in ``watchlist.vehicle_search``, matching
of plate reads in ``watchlist.plate_match``; the schema in ``watchlist.vehicle_tables``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from pipeline.adapters import transactions
from pipeline.adapters.migrations import upgrade
from watchlist.vehicle_tables import vehicle_hotlist, vehicle_hotlist_meta
from watchlist.vehicle_types import (
    ALERTING,
    HotlistEntry,
    InvalidVehicleError,
    Listing,
    ListState,
    NewVehicle,
    VehicleStatus,
    case_key,
    entry_from_row,
    validate_actor,
    validate_changes,
    validate_reason,
)

__all__ = [
    "HotlistEntry",
    "InvalidVehicleError",
    "ListState",
    "Listing",
    "NewVehicle",
    "Updated",
    "VehicleConflictError",
    "VehicleHotlist",
    "VehicleNotFoundError",
    "VehicleRemovedError",
    "VehicleStatus",
]

_CHUNK = 500  # keys per IN (...) query


class VehicleNotFoundError(LookupError):
    def __init__(self, entry_id: int) -> None:
        super().__init__(f"no hotlist entry with id {entry_id}")
        self.entry_id = entry_id


class VehicleConflictError(Exception):
    """Another live entry already has this plate and case (409)."""

    def __init__(self, plate: str, case_reference: str, existing_id: int | None) -> None:
        where = f" (entry {existing_id})" if existing_id is not None else ""
        super().__init__(f"{plate} is already on the hotlist under case {case_reference!r}{where}")
        self.existing_id = existing_id


class VehicleRemovedError(Exception):
    """The entry was removed; it is kept for history and cannot be changed (409)."""


@dataclass(frozen=True, slots=True)
class Updated:
    before: HotlistEntry
    after: HotlistEntry

    def changes(self) -> dict[str, list[Any]]:
        """``{field: [before, after]}`` for every field that changed (JSON-ready, for the audit trail)."""
        old, new = self.before.as_dict(), self.after.as_dict()
        skip = {"updated_by", "updated_at", "alerting", "expired", "plate_key"}
        return {k: [old[k], new[k]] for k in new if k not in skip and old[k] != new[k]}


def _now() -> datetime:
    return datetime.now(UTC)


def live() -> ColumnElement[bool]:
    return vehicle_hotlist.c.removed_at.is_(None)


class VehicleHotlist:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create missing tables and the revision row; safe to call from several processes."""
        upgrade(self.engine)
        with transactions.connect(self.engine) as conn:
            if conn.execute(select(vehicle_hotlist_meta.c.id)).first() is not None:
                return
        try:
            with transactions.begin(self.engine) as conn:
                conn.execute(insert(vehicle_hotlist_meta).values(id=1, revision=0))
        except IntegrityError:
            pass  # another process created it first

    # -- revision ----------------------------------------------------------------------------------

    def revision(self) -> int:
        with transactions.connect(self.engine) as conn:
            value = conn.execute(
                select(vehicle_hotlist_meta.c.revision).where(vehicle_hotlist_meta.c.id == 1)
            ).scalar()
        return int(value or 0)

    def bump(self, conn: Connection) -> None:
        conn.execute(
            update(vehicle_hotlist_meta)
            .where(vehicle_hotlist_meta.c.id == 1)
            .values(revision=vehicle_hotlist_meta.c.revision + 1)
        )

    # -- changes -----------------------------------------------------------------------------------

    def add(self, vehicle: NewVehicle, actor: str) -> HotlistEntry:
        """Store a new entry; VehicleConflictError if a live entry has the same plate and case."""
        valid = vehicle.validated()
        actor = validate_actor(actor)
        now = _now()
        row = {**valid.row(), "created_by": actor, "created_at": now, "updated_by": actor, "updated_at": now}
        try:
            with transactions.begin(self.engine) as conn:
                entry_id = int(
                    conn.execute(
                        insert(vehicle_hotlist).values(**row).returning(vehicle_hotlist.c.id)
                    ).scalar_one()
                )
                self.bump(conn)
        except IntegrityError:
            existing = self.live_entry(valid.plate_key, valid.case_key)
            raise VehicleConflictError(valid.plate, valid.case_reference, existing) from None
        entry = self.get(entry_id)
        assert entry is not None  # rows are never deleted
        return entry

    def update(self, entry_id: int, changes: Mapping[str, object], actor: str) -> Updated:
        """Change some fields of a live entry (``None`` clears owner, vehicle or expiry)."""
        values = validate_changes(changes)
        actor = validate_actor(actor)
        before = self._live(entry_id)
        if all(getattr(before, name) == value for name, value in self._comparable(values).items()):
            return Updated(before, before)  # nothing to do: no write, no revision
        try:
            with transactions.begin(self.engine) as conn:
                done = conn.execute(
                    update(vehicle_hotlist)
                    .where(vehicle_hotlist.c.id == entry_id, live())
                    .values(**values, updated_by=actor, updated_at=_now())
                )
                if done.rowcount != 1:
                    raise VehicleRemovedError(f"hotlist entry {entry_id} was removed meanwhile")
                self.bump(conn)
        except IntegrityError:
            plate = values.get("plate", before.plate)
            case = values.get("case_reference", before.case_reference)
            existing = self.live_entry(values.get("plate_key", before.plate_key), case_key(case))
            raise VehicleConflictError(plate, case, existing) from None
        after = self.get(entry_id)
        assert after is not None
        return Updated(before, after)

    @staticmethod
    def _comparable(values: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in values.items() if k != "case_key"}
        if "status" in out:
            out["status"] = VehicleStatus(out["status"])
        return out

    def remove(self, entry_id: int, actor: str, reason: str) -> HotlistEntry:
        """Soft-remove a live entry: kept for history, never matched again."""
        actor = validate_actor(actor)
        reason = validate_reason(reason)
        self._live(entry_id)
        now = _now()
        with transactions.begin(self.engine) as conn:
            done = conn.execute(
                update(vehicle_hotlist)
                .where(vehicle_hotlist.c.id == entry_id, live())
                .values(
                    removed_by=actor, removed_at=now, removal_reason=reason, updated_by=actor, updated_at=now
                )
            )
            if done.rowcount != 1:
                raise VehicleRemovedError(f"hotlist entry {entry_id} was removed meanwhile")
            self.bump(conn)
        entry = self.get(entry_id)
        assert entry is not None
        return entry

    def _live(self, entry_id: int) -> HotlistEntry:
        entry = self.get(entry_id)
        if entry is None:
            raise VehicleNotFoundError(entry_id)
        if entry.removed:
            raise VehicleRemovedError(
                f"hotlist entry {entry_id} was removed on {entry.removed_at:%Y-%m-%d}; "
                "add a new entry instead"
            )
        return entry

    # -- reads -------------------------------------------------------------------------------------

    def get(self, entry_id: int) -> HotlistEntry | None:
        """The entry whatever its state (removed ones too)."""
        found = self._select(vehicle_hotlist.c.id == entry_id)
        return found[0] if found else None

    def live_entry(self, plate_key: str, case_key: str) -> int | None:
        query = select(vehicle_hotlist.c.id).where(
            vehicle_hotlist.c.plate_key == plate_key, vehicle_hotlist.c.case_key == case_key, live()
        )
        with transactions.connect(self.engine) as conn:
            value = conn.execute(query).scalar()
        return int(value) if value is not None else None

    def list_entries(
        self,
        limit: int = 100,
        offset: int = 0,
        status: VehicleStatus | None = None,
        include_removed: bool = False,
    ) -> list[HotlistEntry]:
        """Entries in id order."""
        clauses = [] if include_removed else [live()]
        if status is not None:
            clauses.append(vehicle_hotlist.c.status == status.value)
        return self._select(*clauses, limit=limit, offset=offset)

    def listing(self, listing: Listing, now: datetime | None = None) -> tuple[int, list[HotlistEntry]]:
        """(how many entries pass the filters, the page of them ``listing`` asks for)."""
        when = now or _now()
        lapsed = vehicle_hotlist.c.expires_at.is_not(None) & (vehicle_hotlist.c.expires_at <= when)
        by_state: dict[ListState, list[ColumnElement[bool]]] = {
            ListState.ACTIVE: [live(), ~lapsed],
            ListState.EXPIRED: [live(), lapsed],
            ListState.REMOVED: [vehicle_hotlist.c.removed_at.is_not(None)],
            ListState.ALL: [],
        }
        clauses = by_state[listing.state]
        if listing.statuses:
            clauses.append(vehicle_hotlist.c.status.in_(sorted(s.value for s in listing.statuses)))
        if listing.priority is not None:
            clauses.append(vehicle_hotlist.c.priority == listing.priority)
        with transactions.connect(self.engine) as conn:
            total = int(conn.execute(select(func.count(vehicle_hotlist.c.id)).where(*clauses)).scalar_one())
        order = (vehicle_hotlist.c.priority, vehicle_hotlist.c.id.desc())
        page = self._select(*clauses, limit=listing.limit, offset=listing.offset, order=order)
        return total, page

    def matching_entries(self, now: datetime | None = None) -> list[HotlistEntry]:
        """Every entry that alerts at ``now``: an alerting status, not removed, not expired."""
        when = now or _now()
        return self._select(
            live(),
            vehicle_hotlist.c.status.in_([s.value for s in ALERTING]),
            vehicle_hotlist.c.expires_at.is_(None) | (vehicle_hotlist.c.expires_at > when),
        )

    def by_ids(self, ids: Iterable[int]) -> list[HotlistEntry]:
        found: list[HotlistEntry] = []
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), _CHUNK):
            found.extend(self._select(vehicle_hotlist.c.id.in_(wanted[start : start + _CHUNK])))
        return found

    def by_pattern(self, like: str, limit: int, include_removed: bool = False) -> list[HotlistEntry]:
        """Entries whose key matches a LIKE pattern (keys are A-Z0-9, so ``%`` and ``_`` are only ever
        wildcards), most urgent first."""
        clauses = [vehicle_hotlist.c.plate_key.like(like)]
        order = (vehicle_hotlist.c.priority, vehicle_hotlist.c.plate_key, vehicle_hotlist.c.id)
        return self._select(*clauses, *([] if include_removed else [live()]), limit=limit, order=order)

    def keys_by_length(
        self, shortest: int, longest: int, include_removed: bool = False
    ) -> list[tuple[int, str]]:
        """(id, key) of every entry whose key has ``shortest`` to ``longest`` characters."""
        length = func.length(vehicle_hotlist.c.plate_key)
        query = select(vehicle_hotlist.c.id, vehicle_hotlist.c.plate_key).where(
            length >= shortest, length <= longest
        )
        if not include_removed:
            query = query.where(live())
        with transactions.connect(self.engine) as conn:
            return [(int(row.id), str(row.plate_key)) for row in conn.execute(query)]

    def count(self, include_removed: bool = False) -> int:
        query = select(func.count(vehicle_hotlist.c.id))
        if not include_removed:
            query = query.where(live())
        with transactions.connect(self.engine) as conn:
            return int(conn.execute(query).scalar_one())

    def _select(
        self,
        *where: ColumnElement[bool],
        limit: int | None = None,
        offset: int = 0,
        order: Sequence[Any] = (vehicle_hotlist.c.id,),
    ) -> list[HotlistEntry]:
        query = select(vehicle_hotlist).where(*where).order_by(*order)
        if limit is not None:
            query = query.limit(max(0, limit)).offset(max(0, offset))
        with transactions.connect(self.engine) as conn:
            return [entry_from_row(row) for row in conn.execute(query)]
