"""The hotel check-in log (CASP "Hotel Eye"): what hotels post, idempotent per hotel and booking.

A hotel's booking reference is unique within the hotel: posting the same check-in again returns the
first acknowledgement; posting different details under a used reference is refused (409), since a
silently ignored change would leave the log wrong. What screening found is kept with the check-in for
staff and never returned to the hotel.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Engine, and_, bindparam, false, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from command_center.records import tables as t
from command_center.records.types import PersonNotFoundError, RecordsError, now, utc
from pipeline.adapters import transactions, unnest
from pipeline.adapters.database import UtcDateTime


class CheckinConflictError(RecordsError):
    """The booking reference was used before with other details."""


@dataclass(frozen=True, slots=True)
class NewCheckin:
    booking_ref: str
    guest_name: str
    cnic: str
    phone: str | None
    room: str
    guests: int
    checked_in_at: datetime
    expected_checkout_at: datetime | None
    photo_jpeg: bytes | None

    def digest(self) -> str:
        fields = {
            "booking_ref": self.booking_ref,
            "guest_name": self.guest_name,
            "cnic": self.cnic,
            "phone": self.phone,
            "room": self.room,
            "guests": self.guests,
            "checked_in_at": self.checked_in_at.isoformat(),
            "expected_checkout_at": self.expected_checkout_at.isoformat()
            if self.expected_checkout_at
            else None,
            "photo": hashlib.sha256(self.photo_jpeg).hexdigest() if self.photo_jpeg else None,
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Ack:
    id: int
    received_at: datetime
    checked_out_at: datetime | None = None
    screened: bool = False  # screened as it was stored (nothing to look at further)


@dataclass(frozen=True, slots=True)
class Checkin:
    id: int
    hotel_id: int
    booking_ref: str
    guest_name: str
    cnic: str
    phone: str | None
    room: str
    guests: int
    checked_in_at: datetime
    expected_checkout_at: datetime | None
    checked_out_at: datetime | None
    received_at: datetime
    posted_by: str
    has_photo: bool
    screened_at: datetime | None
    screening: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Any) -> Checkin:
        data = dict(row._mapping)
        for key in ("checked_in_at", "expected_checkout_at", "checked_out_at", "received_at", "screened_at"):
            data[key] = utc(data[key])
        data.pop("payload_sha256", None)
        data.pop("photo_jpeg", None)
        data["has_photo"] = bool(data["has_photo"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Post:
    """Check-ins one hotel posted (one request)."""

    hotel_id: int
    posted_by: str
    items: list[NewCheckin]


_ROWS_PER_INSERT = 1000  # SQLite: bind parameters of one statement well under its limit
_COLUMNS = [
    c.name for c in t.checkins.c if c.name not in ("id", "checked_out_at", "screened_at", "screening")
]
_RETURNING = (
    " ON CONFLICT DO NOTHING RETURNING id, hotel_id, booking_ref, screened_at IS NOT NULL AS screened"
)
_PG_INSERT = text(unnest.insert_sql(t.checkins, _COLUMNS) + _RETURNING)

# What screening records for a check-in with nothing to look at further: no photo, and no person on the
# record under its CNIC in an alerting category.
PLAIN_SCREENING: dict[str, Any] = {"subjects": [], "face": "no photo", "alerts": []}

# The insert that also screens (PostgreSQL, a store given the alerting categories): a check-in with
# nothing to look at further is stored screened, in the same statement and transaction (one index probe
# of the CRO by CNIC per row), so it never needs screening's queue, its lookup or its update of the row
# (a second version of the row and of its five index entries). Only the others are left to screening.
_NAMES = unnest.column_list(_COLUMNS)
_PG_INSERT_SCREENED = text(
    f'INSERT INTO "{t.checkins.name}" ({_NAMES}, "screened_at", "screening") '  # noqa: S608 (metadata)
    "SELECT u.*, CASE WHEN s.plain THEN CAST(:at AS timestamptz) END, "
    "CASE WHEN s.plain THEN CAST(:found AS json) END "
    f"FROM {unnest.rows_sql(t.checkins, _COLUMNS)} AS u({_NAMES}) "
    "CROSS JOIN LATERAL (SELECT u.photo_jpeg IS NULL AND NOT EXISTS ("
    "SELECT 1 FROM cro_persons p WHERE p.cnic = u.cnic AND p.archived_at IS NULL "
    "AND p.category = ANY(CAST(:categories AS text[])))) AS s(plain)" + _RETURNING
).bindparams(bindparam("at", type_=UtcDateTime()), bindparam("found", type_=JSON()))


def _insert_rows(conn: Connection, rows: list[dict[str, Any]], categories: list[str] | None) -> list[Any]:
    """Insert the rows, a repeat (hotel, booking reference) left out; (id, hotel_id, booking_ref,
    screened) of those inserted. PostgreSQL: one statement of constant text (``unnest``), which screens
    the plain ones when given the alerting ``categories``."""
    if conn.dialect.name == "postgresql":
        values = unnest.arrays(rows, _COLUMNS)
        if categories is None:
            return list(conn.execute(_PG_INSERT, values).all())
        screened = {"at": rows[0]["received_at"], "found": PLAIN_SCREENING, "categories": categories}
        return list(conn.execute(_PG_INSERT_SCREENED, values | screened).all())
    returning = (t.checkins.c.id, t.checkins.c.hotel_id, t.checkins.c.booking_ref, false().label("screened"))
    return list(
        conn.execute(
            _insert("sqlite", t.checkins).values(rows).on_conflict_do_nothing().returning(*returning)
        ).all()
    )


def _insert(dialect: str, table: Any) -> Any:
    """INSERT with ON CONFLICT of the dialect (PostgreSQL and SQLite spell it alike)."""
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


def _row(hotel_id: int, checkin: NewCheckin, posted_by: str, received: datetime) -> dict[str, Any]:
    return {
        "hotel_id": hotel_id,
        "booking_ref": checkin.booking_ref,
        "payload_sha256": checkin.digest(),
        "guest_name": checkin.guest_name,
        "cnic": checkin.cnic,
        "phone": checkin.phone,
        "room": checkin.room,
        "guests": checkin.guests,
        "checked_in_at": checkin.checked_in_at,
        "expected_checkout_at": checkin.expected_checkout_at,
        "photo_jpeg": checkin.photo_jpeg,
        "received_at": received,
        "posted_by": posted_by,
    }


_LISTED = [c for c in t.checkins.c if c.name not in ("photo_jpeg",)]


def _listing() -> Any:
    return select(*_LISTED, t.checkins.c.photo_jpeg.is_not(None).label("has_photo"))


# Screening's first pass in one statement (PostgreSQL): the check-ins not yet screened among :ids; those
# without a photo whose CNIC is not on the record in an alerting category marked screened with :found.
# Constant text (arrays, not IN lists), so it is prepared once; a fraction of three SQLAlchemy queries'
# CPU (measured: ~2 ms each for a batch of thirty).
_PG_SCREEN_PLAIN = text(
    """
    WITH todo AS (
        SELECT c.id, c.photo_jpeg IS NULL AND NOT EXISTS (
            SELECT 1 FROM cro_persons p
            WHERE p.cnic = c.cnic AND p.archived_at IS NULL AND p.category = ANY(CAST(:categories AS text[]))
        ) AS plain
        FROM hotel_checkins c WHERE c.id = ANY(CAST(:ids AS bigint[])) AND c.screened_at IS NULL
    ), marked AS (
        UPDATE hotel_checkins h SET screened_at = :at, screening = :found
        FROM todo WHERE h.id = todo.id AND todo.plain AND h.screened_at IS NULL
        RETURNING h.id
    )
    SELECT todo.id, todo.plain, (SELECT count(*) FROM marked) AS marked FROM todo ORDER BY todo.id
    """
).bindparams(bindparam("at", type_=UtcDateTime()), bindparam("found", type_=JSON()))


class CheckinStore:
    def __init__(self, engine: Engine, screen_categories: Iterable[str] | None = None) -> None:
        """``screen_categories``: the CRO categories screening alerts on; given, a check-in with nothing
        to look at further is stored screened (PostgreSQL; see ``_PG_INSERT_SCREENED``)."""
        self._engine = engine
        self._categories = sorted(screen_categories) if screen_categories is not None else None

    def record(self, hotel_id: int, checkin: NewCheckin, posted_by: str) -> tuple[Ack, bool]:
        """(acknowledgement, created); a repeat of the same check-in gets the first acknowledgement."""
        received = now()
        row = _row(hotel_id, checkin, posted_by, received)
        digest = row["payload_sha256"]
        with transactions.begin(self._engine) as conn:
            # A repeat (hotel, booking reference) inserts nothing and fails nothing: no savepoint needed.
            checkin_id = conn.execute(
                _insert(conn.dialect.name, t.checkins)
                .values(**row)
                .on_conflict_do_nothing()
                .returning(t.checkins.c.id)
            ).scalar()
        if checkin_id is None:
            return self._repeat(hotel_id, checkin.booking_ref, digest), False
        return Ack(int(checkin_id), received), True

    def record_many(
        self, hotel_id: int, items: list[NewCheckin], posted_by: str
    ) -> list[tuple[Ack, bool] | RecordsError]:
        """``record`` for many check-ins with one multi-row insert; per item (acknowledgement, created),
        or the error refusing it (a booking reference used with other details)."""
        return self.record_posts([Post(hotel_id, posted_by, items)])[0]

    def record_posts(self, posts: list[Post]) -> list[list[tuple[Ack, bool] | RecordsError]]:
        """``record_many`` for the posts of several hotels (a group commit's): one multi-row insert for
        all of them (per ``_ROWS_PER_INSERT``); per post, per item, as ``record_many`` answers."""
        received = now()
        rows = [_row(post.hotel_id, item, post.posted_by, received) for post in posts for item in post.items]
        new: dict[tuple[int, str], tuple[int, bool]] = {}
        with transactions.begin(self._engine) as conn:
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                new |= {
                    (int(r.hotel_id), r.booking_ref): (int(r.id), bool(r.screened))
                    for r in _insert_rows(conn, rows[start : start + _ROWS_PER_INSERT], self._categories)
                }
        digests = iter(row["payload_sha256"] for row in rows)
        return [
            [self._outcome(post.hotel_id, item, next(digests), received, new) for item in post.items]
            for post in posts
        ]

    def _outcome(
        self,
        hotel_id: int,
        item: NewCheckin,
        digest: str,
        received: datetime,
        new: dict[tuple[int, str], tuple[int, bool]],
    ) -> tuple[Ack, bool] | RecordsError:
        """The first item of a (hotel, booking reference) inserted is created; any other is a repeat."""
        inserted = new.pop((hotel_id, item.booking_ref), None)
        if inserted is not None:
            return Ack(inserted[0], received, screened=inserted[1]), True
        try:
            return self._repeat(hotel_id, item.booking_ref, digest), False
        except RecordsError as exc:
            return exc

    def _repeat(self, hotel_id: int, booking_ref: str, digest: str) -> Ack:
        c = t.checkins.c
        with transactions.connect(self._engine) as conn:
            found = conn.execute(
                select(c.id, c.received_at, c.payload_sha256, c.checked_out_at).where(
                    c.hotel_id == hotel_id, c.booking_ref == booking_ref
                )
            ).first()
        if found is None:
            raise RecordsError("the check-in conflicts with one stored at the same time; post it again")
        if found.payload_sha256 != digest:
            raise CheckinConflictError(
                f"booking reference {booking_ref!r} was already posted with other details; "
                "a correction needs a new booking reference"
            )
        return Ack(found.id, utc(found.received_at) or now(), utc(found.checked_out_at))

    def checkout(self, hotel_id: int, checkin_id: int, at: datetime) -> Ack:
        """Record the guest's departure (the first one posted stands); only the hotel's own check-ins."""
        c = t.checkins.c
        mine = and_(c.id == checkin_id, c.hotel_id == hotel_id)
        with transactions.begin(self._engine) as conn:
            found = conn.execute(select(c.received_at, c.checked_in_at, c.checked_out_at).where(mine)).first()
            if found is None:
                raise PersonNotFoundError(checkin_id, "check-in of your hotel")
            if found.checked_out_at is not None:
                return Ack(checkin_id, utc(found.received_at) or now(), utc(found.checked_out_at))
            if at < (utc(found.checked_in_at) or at):
                raise RecordsError("checked_out_at is before the check-in time")
            conn.execute(update(t.checkins).where(mine).values(checked_out_at=at))
        return Ack(checkin_id, utc(found.received_at) or now(), at)

    def get(self, checkin_id: int) -> Checkin | None:
        with transactions.connect(self._engine) as conn:
            row = conn.execute(_listing().where(t.checkins.c.id == checkin_id)).first()
        return Checkin.from_row(row) if row is not None else None

    def photo(self, checkin_id: int) -> bytes | None:
        with transactions.connect(self._engine) as conn:
            data = conn.execute(select(t.checkins.c.photo_jpeg).where(t.checkins.c.id == checkin_id)).scalar()
        return bytes(data) if data is not None else None

    def unscreened(self, limit: int = 1000, after: int = 0) -> list[int]:
        c = t.checkins.c
        query = select(c.id).where(c.screened_at.is_(None), c.id > after).order_by(c.id).limit(limit)
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(query).all()
        return [row.id for row in rows]

    def unscreened_of(self, checkin_ids: list[int]) -> list[Checkin]:
        """Those of ``checkin_ids`` not yet screened, in id order."""
        c = t.checkins.c
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(
                _listing().where(c.id.in_(checkin_ids), c.screened_at.is_(None)).order_by(c.id)
            ).all()
        return [Checkin.from_row(row) for row in rows]

    def screen_plain(
        self, checkin_ids: list[int], categories: frozenset[str], found: dict[str, Any]
    ) -> tuple[list[int], int] | None:
        """PostgreSQL: those of ``checkin_ids`` not yet screened that have no photo and whose CNIC is not
        on the record in one of ``categories`` marked screened with ``found``, in one statement; (the
        ids of the other unscreened ones, how many were marked). None on another database."""
        if self._engine.dialect.name != "postgresql":
            return None
        values = {"ids": checkin_ids, "categories": sorted(categories), "at": now(), "found": found}
        with transactions.begin(self._engine) as conn:
            rows = conn.execute(_PG_SCREEN_PLAIN, values).all()
        return [int(r.id) for r in rows if not r.plain], int(rows[0].marked) if rows else 0

    def mark_screened_many(self, checkin_ids: list[int], screening: dict[str, Any]) -> int:
        """Record the same finding (nothing found) for many check-ins at once; how many were marked."""
        c = t.checkins.c
        with transactions.begin(self._engine) as conn:
            done = conn.execute(
                update(t.checkins)
                .where(c.id.in_(checkin_ids), c.screened_at.is_(None))
                .values(screened_at=now(), screening=screening)
            ).rowcount
        return int(done)

    def mark_screened(self, checkin_id: int, screening: dict[str, Any]) -> bool:
        c = t.checkins.c
        with transactions.begin(self._engine) as conn:
            done = conn.execute(
                update(t.checkins)
                .where(c.id == checkin_id, c.screened_at.is_(None))
                .values(screened_at=now(), screening=screening)
            ).rowcount
        return bool(done)

    def list(
        self,
        *,
        hotel_id: int | None,
        cnic: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Checkin], int]:
        c = t.checkins.c
        where = []
        if hotel_id is not None:
            where.append(c.hotel_id == hotel_id)
        if cnic is not None:
            where.append(c.cnic == cnic)
        if since is not None:
            where.append(c.checked_in_at >= since)
        if until is not None:
            where.append(c.checked_in_at < until)
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(
                _listing()
                .where(*where)
                .order_by(c.checked_in_at.desc(), c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            total = conn.execute(select(func.count()).select_from(t.checkins).where(*where)).scalar_one()
        return [Checkin.from_row(row) for row in rows], int(total)
