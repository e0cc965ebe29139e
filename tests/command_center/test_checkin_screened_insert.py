"""Screening's plain case decided by the check-in insert (PostgreSQL): a guest without a photo whose CNIC
is not on the record in an alerting category is stored screened, with what screening would record; a
guest on the record in one, an archived person's CNIC aside, or one with a photo is left to screening.
On SQLite, and for a store not given the categories, every check-in is left to screening as before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from command_center.records import tables as t
from command_center.records.checkins import PLAIN_SCREENING, Ack, CheckinStore, NewCheckin, Post
from command_center.records.store import PersonStore
from command_center.records.types import PersonFields
from pipeline.adapters.database import make_engine

ALERTING = ["wanted", "proclaimed_offender"]


@pytest.fixture
def persons(database_url: str) -> Iterator[PersonStore]:
    """The CRO (its schema made) of a database of this test's own."""
    store = PersonStore(make_engine(database_url))
    store.create_schema()
    yield store
    store.engine.dispose()


def _guest(ref: str, cnic: str, photo: bytes | None = None) -> NewCheckin:
    at = datetime.now(UTC)
    return NewCheckin(ref, "Guest Name", cnic, None, "101", 1, at, None, photo)


def _acks(engine: Engine, store: CheckinStore, guests: list[NewCheckin]) -> dict[str, Ack]:
    (outcomes,) = store.record_posts([Post(7, "integration:1:test", guests)])
    acks = {}
    for guest, outcome in zip(guests, outcomes, strict=True):
        assert not isinstance(outcome, Exception)
        acks[guest.booking_ref] = outcome[0]
    return acks


def test_plain_checkins_are_stored_screened_and_the_others_left_to_screening(persons: PersonStore) -> None:
    engine = persons.engine
    persons.add(PersonFields(category="wanted", name="Wanted Man", cnic="35202-0000001-1"), "test")
    persons.add(PersonFields(category="history_sheeter", name="Known Man", cnic="35202-0000002-1"), "test")
    gone = persons.add(PersonFields(category="wanted", name="Archived Man", cnic="35202-0000003-1"), "test")
    persons.archive(gone.id, "test")
    guests = [
        _guest("BK-plain", "35202-0000009-1"),
        _guest("BK-wanted", "35202-0000001-1"),
        _guest("BK-other-category", "35202-0000002-1"),
        _guest("BK-archived", "35202-0000003-1"),
        _guest("BK-photo", "35202-0000008-1", photo=b"\xff\xd8 a photo"),
    ]
    acks = _acks(engine, CheckinStore(engine, ALERTING), guests)
    postgres = engine.dialect.name == "postgresql"
    expected = {"BK-plain", "BK-other-category", "BK-archived"} if postgres else set()
    assert {ref for ref, ack in acks.items() if ack.screened} == expected
    c = t.checkins.c
    with engine.connect() as conn:
        rows = {r.booking_ref: r for r in conn.execute(select(c.booking_ref, c.screened_at, c.screening))}
    assert {ref for ref, row in rows.items() if row.screened_at is not None} == expected
    assert all(rows[ref].screening == PLAIN_SCREENING for ref in expected)
    assert rows["BK-wanted"].screening is None
    # a repeat is acknowledged as before; a store without the categories screens nothing as it stores
    again = _acks(engine, CheckinStore(engine, ALERTING), guests[:1])["BK-plain"]
    assert (again.id, again.screened) == (acks["BK-plain"].id, False)
    assert not _acks(engine, CheckinStore(engine), [_guest("BK-later", "35202-0000007-1")])[
        "BK-later"
    ].screened
