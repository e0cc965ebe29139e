"""Listing the vehicle hotlist on SQLite and PostgreSQL: filters, life states, order and paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from pipeline.adapters.database import make_engine
from watchlist.vehicle_tables import vehicle_hotlist
from watchlist.vehicles import (
    InvalidVehicleError,
    Listing,
    ListState,
    NewVehicle,
    VehicleHotlist,
    VehicleStatus,
)

CLERK = "staff:2:clerk"


@pytest.fixture
def hotlist(database_url: str) -> Iterator[VehicleHotlist]:
    engine = make_engine(database_url)
    store = VehicleHotlist(engine)
    store.create_schema()
    yield store
    engine.dispose()


def add(hotlist: VehicleHotlist, plate: str, status: str, priority: int) -> int:
    vehicle = NewVehicle(plate, status, "seen leaving a robbery", f"FIR {plate}/2025", priority=priority)
    return hotlist.add(vehicle, CLERK).id


@pytest.fixture
def listed(hotlist: VehicleHotlist) -> dict[str, int]:
    """Six entries: one removed, one expired (its expiry moved into the past behind the API's back)."""
    ids = {
        plate: add(hotlist, plate, status, priority)
        for plate, status, priority in [
            ("LEA-1001", "stolen", 2),
            ("LEA-1002", "wanted", 1),
            ("LEA-1003", "stolen", 2),
            ("LEA-1004", "recovered", 3),
            ("LEA-1005", "stolen", 1),
            ("LEA-1006", "crime_involved", 2),
        ]
    }
    hotlist.remove(ids["LEA-1005"], CLERK, "entered under the wrong case")
    with hotlist.engine.begin() as conn:
        past = datetime.now(UTC) - timedelta(days=1)
        conn.execute(
            update(vehicle_hotlist).where(vehicle_hotlist.c.id == ids["LEA-1006"]).values(expires_at=past)
        )
    return ids


def plates(hotlist: VehicleHotlist, **filters: object) -> tuple[int, list[str]]:
    total, page = hotlist.listing(Listing(**filters))  # type: ignore[arg-type]
    return total, [e.plate for e in page]


def test_active_by_default_most_urgent_then_newest(hotlist: VehicleHotlist, listed: dict[str, int]) -> None:
    assert plates(hotlist) == (4, ["LEA-1002", "LEA-1003", "LEA-1001", "LEA-1004"])


def test_states(hotlist: VehicleHotlist, listed: dict[str, int]) -> None:
    assert plates(hotlist, state=ListState.EXPIRED) == (1, ["LEA-1006"])
    assert plates(hotlist, state=ListState.REMOVED) == (1, ["LEA-1005"])
    total, every = plates(hotlist, state=ListState.ALL)
    assert total == 6 and every[:2] == ["LEA-1005", "LEA-1002"]


def test_status_and_priority_filters(hotlist: VehicleHotlist, listed: dict[str, int]) -> None:
    stolen = frozenset({VehicleStatus.STOLEN})
    assert plates(hotlist, statuses=stolen) == (2, ["LEA-1003", "LEA-1001"])
    either = frozenset({VehicleStatus.WANTED, VehicleStatus.RECOVERED})
    assert plates(hotlist, statuses=either) == (2, ["LEA-1002", "LEA-1004"])
    assert plates(hotlist, priority=2) == (2, ["LEA-1003", "LEA-1001"])
    assert plates(hotlist, priority=5) == (0, [])
    assert plates(hotlist, statuses=stolen, priority=2, state=ListState.ALL) == (2, ["LEA-1003", "LEA-1001"])


def test_paging_is_stable_and_counts_everything(hotlist: VehicleHotlist, listed: dict[str, int]) -> None:
    pages = [plates(hotlist, limit=3, offset=offset) for offset in (0, 3, 6)]
    assert [p[0] for p in pages] == [4, 4, 4]
    assert pages[0][1] + pages[1][1] == plates(hotlist)[1] and pages[2][1] == []


@pytest.mark.parametrize(
    ("filters", "why"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
        ({"priority": 6}, "priority"),
    ],
)
def test_out_of_bounds_listing_is_refused(filters: dict[str, int], why: str) -> None:
    with pytest.raises(InvalidVehicleError, match=why):
        Listing(**filters)  # type: ignore[arg-type]
