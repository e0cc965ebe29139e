"""Integration keys in the database (SQLite and PostgreSQL): issue, verify, rotate, revoke, expire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from command_center.security.apikeys import (
    LAST_USED_RESOLUTION,
    ApiKeyStore,
    HotelNotFoundError,
    IntegrationError,
    KeyNotFoundError,
    integration_keys,
    split_key,
)
from command_center.security.permissions import Permission, Role
from pipeline.adapters.database import make_engine

PEPPER = "test-pepper-" + "1" * 32
CHECKINS = [Permission.CHECKINS_POST.value]


@pytest.fixture
def store(database_url: str) -> Iterator[ApiKeyStore]:
    engine = make_engine(database_url)
    keys = ApiKeyStore(engine, PEPPER, cache_s=0)  # these tests change rows under it: no cache
    keys.create_schema()
    yield keys
    engine.dispose()


def add_hotel(store: ApiKeyStore, licence: str = "LHR-HTL-0001") -> int:
    hotel = store.create_hotel("Pearl Continental", licence, "Shahrah-e-Quaid-e-Azam", "Lahore", 31.55, 74.34)
    return hotel.id


def test_issue_and_verify_gives_a_hotel_principal(store: ApiKeyStore) -> None:
    hotel_id = add_hotel(store)
    issued = store.issue_key(hotel_id, CHECKINS, "front desk PMS", "staff:1:admin")
    assert issued.raw_key.startswith(f"sck_{issued.info.key_id}_")
    assert len(split_key(issued.raw_key)[1]) >= 43  # type: ignore[index]  # 32 random bytes

    principal = store.verify(issued.raw_key)
    assert principal is not None
    assert (principal.kind, principal.role, principal.hotel_id) == ("integration", Role.HOTEL, hotel_id)
    assert (principal.id, principal.name, principal.districts) == (
        issued.info.id,
        "Pearl Continental",
        frozenset({"Lahore"}),
    )
    assert principal.can(Permission.CHECKINS_POST) and not principal.can(Permission.ALERTS_READ)


def test_only_an_hmac_of_the_secret_is_stored(store: ApiKeyStore) -> None:
    issued = store.issue_key(add_hotel(store), CHECKINS, "pms", "admin")
    secret = split_key(issued.raw_key)[1]  # type: ignore[index]
    with store.engine.connect() as conn:
        row = conn.execute(select(integration_keys)).one()
    assert secret not in str(tuple(row)) and len(row.secret_hash) == 64
    assert store.list_keys(issued.info.hotel_id)[0].key_id == issued.info.key_id


@pytest.mark.parametrize(
    "tamper",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # wrong secret
        lambda k: "sck_" + "0" * 16 + k[20:],  # unknown key id
        lambda k: k + "x",  # too long
        lambda k: k.replace("sck_", "xyz_"),
        lambda k: "",
        lambda k: "sck_",
        lambda k: k.upper(),
    ],
)
def test_wrong_or_malformed_keys_are_refused(store: ApiKeyStore, tamper) -> None:  # type: ignore[no-untyped-def]
    issued = store.issue_key(add_hotel(store), CHECKINS, "pms", "admin")
    assert store.verify(tamper(issued.raw_key)) is None


def test_a_key_of_another_pepper_is_refused(store: ApiKeyStore) -> None:
    issued = store.issue_key(add_hotel(store), CHECKINS, "pms", "admin")
    other = ApiKeyStore(store.engine, "another-pepper-" + "2" * 32)
    assert other.verify(issued.raw_key) is None


def test_rotation_without_downtime(store: ApiKeyStore) -> None:
    hotel_id = add_hotel(store)
    old = store.issue_key(hotel_id, CHECKINS, "pms 2024", "admin")
    new = store.issue_key(hotel_id, CHECKINS, "pms 2025", "admin")
    # Both work while the hotel's system switches over.
    assert store.verify(old.raw_key) is not None and store.verify(new.raw_key) is not None

    revoked = store.revoke(old.info.key_id)
    assert revoked.revoked_at is not None
    assert store.verify(old.raw_key) is None
    assert store.verify(new.raw_key) is not None
    assert store.revoke(old.info.key_id).revoked_at == revoked.revoked_at  # idempotent
    listed = {k.key_id: k.revoked_at for k in store.list_keys(hotel_id)}
    assert listed == {old.info.key_id: revoked.revoked_at, new.info.key_id: None}


def test_expired_keys_and_inactive_hotels_are_refused(store: ApiKeyStore) -> None:
    hotel_id = add_hotel(store)
    issued = store.issue_key(
        hotel_id, CHECKINS, "pms", "admin", expires_at=datetime.now(UTC) + timedelta(days=1)
    )
    assert store.verify(issued.raw_key) is not None
    with store.engine.begin() as conn:
        past = datetime.now(UTC) - timedelta(seconds=1)
        conn.execute(update(integration_keys).values(expires_at=past))
    assert store.verify(issued.raw_key) is None

    fresh = store.issue_key(hotel_id, CHECKINS, "pms", "admin")
    store.set_hotel_active(hotel_id, False)
    assert store.verify(fresh.raw_key) is None
    with pytest.raises(IntegrationError, match="inactive"):
        store.issue_key(hotel_id, CHECKINS, "pms", "admin")
    store.set_hotel_active(hotel_id, True)
    assert store.verify(fresh.raw_key) is not None


def test_last_used_is_written_at_most_once_a_minute(store: ApiKeyStore) -> None:
    issued = store.issue_key(add_hotel(store), CHECKINS, "pms", "admin")
    assert store.get_key(issued.info.id).last_used_at is None  # type: ignore[union-attr]
    store.verify(issued.raw_key)
    first = store.get_key(issued.info.id).last_used_at  # type: ignore[union-attr]
    assert first is not None
    store.verify(issued.raw_key)
    assert store.get_key(issued.info.id).last_used_at == first  # type: ignore[union-attr]

    with store.engine.begin() as conn:
        earlier = first - LAST_USED_RESOLUTION - timedelta(seconds=1)
        conn.execute(update(integration_keys).values(last_used_at=earlier))
    store.verify(issued.raw_key)
    assert store.get_key(issued.info.id).last_used_at > earlier  # type: ignore[operator,union-attr]


def test_refusals_say_why(store: ApiKeyStore) -> None:
    hotel_id = add_hotel(store)
    with pytest.raises(IntegrationError, match="already registered"):
        add_hotel(store)
    with pytest.raises(IntegrationError, match="at least one scope"):
        store.issue_key(hotel_id, [], "pms", "admin")
    with pytest.raises(IntegrationError, match="cannot be given to a hotel key"):
        store.issue_key(hotel_id, ["alerts:read"], "pms", "admin")
    with pytest.raises(IntegrationError, match="future"):
        store.issue_key(hotel_id, CHECKINS, "pms", "admin", expires_at=datetime.now(UTC))
    with pytest.raises(IntegrationError, match="timezone"):
        store.issue_key(hotel_id, CHECKINS, "pms", "admin", expires_at=datetime(2999, 1, 1))
    with pytest.raises(HotelNotFoundError):
        store.issue_key(hotel_id + 100, CHECKINS, "pms", "admin")
    with pytest.raises(HotelNotFoundError):
        store.list_keys(hotel_id + 100)
    with pytest.raises(KeyNotFoundError):
        store.revoke("0" * 16)


def test_keys_are_unique_and_random(store: ApiKeyStore) -> None:
    hotel_id = add_hotel(store)
    raws = [store.issue_key(hotel_id, CHECKINS, f"k{i}", "admin").raw_key for i in range(20)]
    assert len(set(raws)) == 20
    assert len({split_key(r)[0] for r in raws}) == 20  # type: ignore[index]


def test_a_burst_of_check_ins_looks_the_key_up_once_and_revocation_here_is_at_once(
    store: ApiKeyStore,
) -> None:
    from sqlalchemy import event

    hotel_id = add_hotel(store)
    issued = store.issue_key(hotel_id, CHECKINS, "front desk PMS", "staff:1:admin")
    store = ApiKeyStore(store.engine, PEPPER)  # the command centre's: verified keys kept for a while
    lookups: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM integration_keys JOIN hotels" in statement:
            lookups.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        assert all(store.verify(issued.raw_key) is not None for _ in range(200))
        assert len(lookups) == 1
        store.revoke(issued.info.key_id)
        assert store.verify(issued.raw_key) is None  # this replica: at once
        store.set_hotel_active(hotel_id, True)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_a_key_revoked_on_another_replica_is_refused_here_within_the_cache_time(
    store: ApiKeyStore, database_url: str
) -> None:
    import time

    hotel_id = add_hotel(store)
    issued = store.issue_key(hotel_id, CHECKINS, "front desk PMS", "staff:1:admin")
    engine = make_engine(database_url)
    other = ApiKeyStore(engine, PEPPER, cache_s=0.3)  # another command-centre process on the database
    try:
        assert other.verify(issued.raw_key) is not None  # read and kept
        store.revoke(issued.info.key_id)
        deadline = time.monotonic() + 10
        while other.verify(issued.raw_key) is not None:
            assert time.monotonic() < deadline, "the revoked key was still accepted after 10 s"
            time.sleep(0.05)
        # A hotel stopped on the other replica stops a fresh key here the same way.
        fresh = store.issue_key(hotel_id, CHECKINS, "second desk", "staff:1:admin")
        assert store.verify(fresh.raw_key) is not None
        other.set_hotel_active(hotel_id, False)
        while store.verify(fresh.raw_key) is not None:
            assert time.monotonic() < deadline + 10, "the stopped hotel's key was still accepted"
            time.sleep(0.05)
    finally:
        engine.dispose()
