"""The vehicle hotlist store, CSV import and search on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from pipeline.adapters.database import make_engine
from watchlist.plate_match import HotlistMatcher
from watchlist.vehicle_import import MAX_REPORTED_ERRORS, CsvFormatError, import_csv
from watchlist.vehicle_search import InvalidQueryError, search_vehicles
from watchlist.vehicles import (
    InvalidVehicleError,
    NewVehicle,
    VehicleConflictError,
    VehicleHotlist,
    VehicleNotFoundError,
    VehicleRemovedError,
    VehicleStatus,
)

CLERK = "staff:2:clerk"
SUPERVISOR = "staff:3:supervisor"
HEADER = "plate,status,reason,case_reference,owner,vehicle,priority,expires_at\n"


@pytest.fixture
def hotlist(database_url: str) -> Iterator[VehicleHotlist]:
    engine = make_engine(database_url)
    store = VehicleHotlist(engine)
    store.create_schema()
    store.create_schema()  # idempotent
    yield store
    engine.dispose()


def vehicle(plate: str = "LEA-1234", case: str = "FIR 112/2025 PS Gulberg", **fields: Any) -> NewVehicle:
    values: dict[str, Any] = {
        "plate": plate,
        "status": "stolen",
        "reason": "stolen from Liberty Market parking",
        "case_reference": case,
    }
    values.update(fields)
    return NewVehicle(**values)


def future(days: int = 30) -> str:
    return str(date.today() + timedelta(days=days))


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode()


# -- entries ---------------------------------------------------------------------------------------------


def test_add_get_update_remove_with_who_and_when(hotlist: VehicleHotlist) -> None:
    start = hotlist.revision()
    entry = hotlist.add(vehicle(owner="Ali  Khan", vehicle="Toyota Corolla, white", priority=2), CLERK)
    assert (entry.plate, entry.plate_key, entry.status) == ("LEA-1234", "LEA1234", VehicleStatus.STOLEN)
    assert (entry.owner, entry.priority, entry.expires_at) == ("Ali Khan", 2, None)
    assert entry.created_by == entry.updated_by == CLERK and entry.alerting()
    assert hotlist.get(entry.id) == entry and hotlist.revision() == start + 1

    updated = hotlist.update(entry.id, {"status": "recovered", "owner": None}, SUPERVISOR)
    assert updated.after.status is VehicleStatus.RECOVERED and updated.after.owner is None
    assert updated.after.updated_by == SUPERVISOR and updated.after.created_by == CLERK
    assert updated.changes() == {"status": ["stolen", "recovered"], "owner": ["Ali Khan", None]}
    assert not updated.after.alerting(), "recovered stops alerting"
    assert hotlist.revision() == start + 2

    same = hotlist.update(entry.id, {"status": "recovered"}, SUPERVISOR)
    assert same.changes() == {} and hotlist.revision() == start + 2, "no change, no write"

    removed = hotlist.remove(entry.id, SUPERVISOR, "entered under the wrong case")
    assert removed.removed and removed.removed_by == SUPERVISOR
    assert removed.removal_reason == "entered under the wrong case"
    assert hotlist.get(entry.id) == removed, "kept for history"
    with pytest.raises(VehicleRemovedError):
        hotlist.update(entry.id, {"priority": 1}, SUPERVISOR)
    with pytest.raises(VehicleRemovedError):
        hotlist.remove(entry.id, SUPERVISOR, "again and again")
    with pytest.raises(VehicleNotFoundError):
        hotlist.remove(10**6, SUPERVISOR, "no such entry")


def test_one_live_entry_per_plate_and_case(hotlist: VehicleHotlist) -> None:
    first = hotlist.add(vehicle("LEA-1234", "FIR 112/2025"), CLERK)
    with pytest.raises(VehicleConflictError, match=f"entry {first.id}"):
        hotlist.add(vehicle("lea 1234", "fir  112/2025"), CLERK)  # same plate and case, other spelling
    other_case = hotlist.add(vehicle("LEA-1234", "FIR 7/2024"), CLERK)
    with pytest.raises(VehicleConflictError):
        hotlist.update(other_case.id, {"case_reference": "FIR 112/2025"}, CLERK)
    hotlist.remove(first.id, CLERK, "closed case")
    again = hotlist.add(vehicle("LEA-1234", "FIR 112/2025"), CLERK)
    assert again.id != first.id, "a removed entry does not block a new one"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"plate": "LEA_1234"}, "plate"),
        ({"plate": "X"}, "plate"),
        ({"status": "lost"}, "unknown status"),
        ({"reason": " a "}, "reason is required"),
        ({"case_reference": "#12"}, "case_reference"),
        ({"priority": 0}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"expires_at": "2020-01-01"}, "not in the future"),
        ({"expires_at": "2099-01-01"}, "five years"),
        ({"expires_at": "next week"}, "not a date"),
        ({"owner": "Ali\x00"}, "owner"),
    ],
)
def test_invalid_fields_are_refused(hotlist: VehicleHotlist, fields: dict[str, Any], why: str) -> None:
    with pytest.raises(InvalidVehicleError, match=why):
        hotlist.add(vehicle(**fields), CLERK)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"plate": None}, "cannot be cleared"),
        ({"status": 5}, "must be text"),
        ({"priority": True}, "whole number"),
        ({"created_by": "me"}, "cannot change"),
    ],
)
def test_invalid_changes_are_refused(hotlist: VehicleHotlist, changes: dict[str, object], why: str) -> None:
    entry = hotlist.add(vehicle(), CLERK)
    with pytest.raises(InvalidVehicleError, match=why):
        hotlist.update(entry.id, changes, CLERK)


def test_matching_entries_and_the_matcher(hotlist: VehicleHotlist) -> None:
    stolen = hotlist.add(vehicle("KA-22-P-3368", expires_at=future(10)), CLERK)
    hotlist.add(vehicle("LEA-1234", status="recovered"), CLERK)
    removed = hotlist.add(vehicle("BFR-123"), CLERK)
    hotlist.remove(removed.id, CLERK, "entered in error")
    assert [e.id for e in hotlist.matching_entries()] == [stolen.id]
    assert hotlist.matching_entries(datetime.now(UTC) + timedelta(days=11)) == [], "expired"

    matcher = HotlistMatcher.from_store(hotlist)
    assert matcher.revision == hotlist.revision() and len(matcher) == 1
    assert [(m.entry.id, m.kind) for m in matcher.match("KA22P3368")] == [(stolen.id, "exact")]
    assert [m.kind for m in matcher.match("KA22P33G8")] == ["confusion"]
    assert [m.kind for m in matcher.match("A22P3368")] == ["partial"]
    assert matcher.match("LEA1234") == [], "recovered"
    assert not matcher.refresh(hotlist)
    hotlist.update(stolen.id, {"status": "recovered"}, CLERK)
    assert matcher.refresh(hotlist) and matcher.match("KA22P3368") == []


# -- CSV import ------------------------------------------------------------------------------------------


GOOD = (
    f"LEA-1234,stolen,stolen from Liberty Market,FIR 112/2025 PS Gulberg,Ali Khan,Corolla white,1,{future()}",
    "KA22P3368,crime-involved,used in a robbery,FIR 9/2025 PS Saddar,,,,",
    "ABC 123,Wanted,driver absconded,FIR 10/2025,,,5,",
)


def test_import_good_file_then_again_is_idempotent(hotlist: VehicleHotlist) -> None:
    report = import_csv(hotlist, csv_bytes(*GOOD), CLERK)
    assert report.applied and report.rows == 3 and len(report.created) == 3 and report.errors == []
    found = {e.plate_key: e for e in hotlist.list_entries()}
    assert found["KA22P3368"].status is VehicleStatus.CRIME_INVOLVED and found["KA22P3368"].priority == 3
    assert found["LEA1234"].owner == "Ali Khan" and found["LEA1234"].expires_at is not None
    assert found["ABC123"].plate == "ABC 123" and found["ABC123"].created_by == CLERK
    revision = hotlist.revision()

    again = import_csv(hotlist, csv_bytes(*GOOD), SUPERVISOR)
    assert again.applied and (len(again.created), len(again.updated), len(again.unchanged)) == (0, 0, 3)
    assert hotlist.revision() == revision, "nothing changed, nothing written"

    changed = GOOD[1].replace("crime-involved", "recovered").replace("KA22P3368", "KA 22 P 3368")
    third = import_csv(hotlist, csv_bytes(GOOD[0], changed), SUPERVISOR)
    assert (len(third.created), len(third.updated), len(third.unchanged)) == (0, 1, 1)
    entry = hotlist.get(third.updated[0])
    assert entry is not None and entry.status is VehicleStatus.RECOVERED and entry.plate == "KA 22 P 3368"
    assert entry.updated_by == SUPERVISOR and entry.created_by == CLERK
    assert hotlist.count() == 3


def test_import_bad_rows_reported_by_row_and_nothing_imported(hotlist: VehicleHotlist) -> None:
    rows = (
        GOOD[0],
        "LEA_99,stolen,reason here,FIR 1/2025,,,,",
        "",  # blank rows are skipped, but still counted in the row numbers
        "BFR-123,lost,reason here,FIR 1/2025,,,,",
        "BFR-124,stolen,reason here,FIR 1/2025,,,9,",
        "BFR-125,stolen,reason here,FIR 1/2025,,,,2001-01-01",
        "BFR-126,stolen,too few fields",
        "lea 1234,stolen,the same again,fir 112/2025 ps gulberg,,,,",
        GOOD[2],
    )
    report = import_csv(hotlist, csv_bytes(*rows), CLERK)
    assert not report.applied and hotlist.count() == 0
    assert [(e.row, e.message.split(":")[0].split(" ")[0]) for e in report.errors] == [
        (3, "plate"),
        (5, "unknown"),
        (6, "priority"),
        (7, "expires_at"),
        (8, "has"),
        (9, "LEA"),
    ]
    assert "repeats row 2" in report.errors[-1].message

    partial = import_csv(hotlist, csv_bytes(*rows), CLERK, partial=True)
    assert partial.applied and len(partial.created) == 2 and partial.error_count == 6
    assert {e.plate_key for e in hotlist.list_entries()} == {"LEA1234", "ABC123"}


def test_import_header_aliases_and_order(hotlist: VehicleHotlist) -> None:
    data = "\ufeffFIR,Registration Number,Status,Reason\nFIR 3/2025,BFR-123,wanted,hit and run\n"
    report = import_csv(hotlist, data.encode(), CLERK)
    assert report.applied and len(report.created) == 1
    assert hotlist.list_entries()[0].case_reference == "FIR 3/2025"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (b"plate,status,reason\nLEA-1,stolen,why\n", "required column"),
        (b"plate,status,reason,case_reference,colour\n", "unknown column"),
        (b"plate,plate,status,reason,case_reference\n", "given twice"),
        (b"plate,status,reason,case_reference\n\xff\xfe,,,\n", "not UTF-8"),
        (b'plate,status,reason,case_reference\n"LEA,stolen,x,y\n', "not valid CSV"),
    ],
)
def test_import_refuses_files_that_are_no_hotlist(hotlist: VehicleHotlist, data: bytes, why: str) -> None:
    with pytest.raises(CsvFormatError, match=why):
        import_csv(hotlist, data, CLERK)
    assert hotlist.count() == 0


@pytest.mark.parametrize("column", range(4))
def test_import_nul_characters_are_a_row_error(hotlist: VehicleHotlist, column: int) -> None:
    cells = ["LEA-1234", "stolen", "stolen from a market", "FIR 1/2025"]
    cells[column] = cells[column][:3] + "\x00" + cells[column][3:]
    report = import_csv(
        hotlist, csv_bytes(",".join(cells), header="plate,status,reason,case_reference\n"), CLERK
    )
    assert not report.applied and [e.row for e in report.errors] == [2]


def test_import_reports_a_bounded_number_of_errors(hotlist: VehicleHotlist) -> None:
    rows = [f"BAD_{n},stolen,reason,FIR 1/2025" for n in range(MAX_REPORTED_ERRORS + 50)]
    report = import_csv(hotlist, csv_bytes(*rows, header="plate,status,reason,case_reference\n"), CLERK)
    assert report.error_count == MAX_REPORTED_ERRORS + 50 and len(report.errors) == MAX_REPORTED_ERRORS


# -- search ----------------------------------------------------------------------------------------------


@pytest.fixture
def listed(hotlist: VehicleHotlist) -> dict[str, int]:
    ids = {}
    for plate, status, case in [
        ("LEA-1234", "stolen", "FIR 1/2025"),
        ("LEA-1234", "wanted", "FIR 2/2025"),
        ("LEA-1299", "crime_involved", "FIR 3/2025"),
        ("LEB-1234", "recovered", "FIR 4/2025"),
        ("KA22P3368", "stolen", "FIR 5/2025"),
        ("BSB-0399", "abandoned", "FIR 6/2025"),
        ("ZZZ-999", "stolen", "FIR 7/2025"),
    ]:
        ids[f"{plate}/{case}"] = hotlist.add(vehicle(plate, case, status=status), CLERK).id
    removed = hotlist.add(vehicle("LEA-1288", "FIR 8/2025"), CLERK)
    hotlist.remove(removed.id, CLERK, "entered in error")
    ids["removed"] = removed.id
    return ids


def found(hotlist: VehicleHotlist, text: str, **kw: bool) -> list[tuple[str, str, str]]:
    return [(r.entry.plate, r.entry.case_reference, r.kind) for r in search_vehicles(hotlist, text, **kw)]


def test_search_exact_first_with_every_case(hotlist: VehicleHotlist, listed: dict[str, int]) -> None:
    results = found(hotlist, "lea 1234")
    assert results[:2] == [("LEA-1234", "FIR 1/2025", "exact"), ("LEA-1234", "FIR 2/2025", "exact")]
    assert ("LEB-1234", "FIR 4/2025", "fuzzy") in results, "recovered vehicles stay searchable"
    assert all(kind != "exact" for _, _, kind in results[2:])


def test_search_wildcard(hotlist: VehicleHotlist, listed: dict[str, int]) -> None:
    assert {p for p, _, k in found(hotlist, "LEA-12*")} == {"LEA-1234", "LEA-1299"}
    assert {k for _, _, k in found(hotlist, "LEA-12*")} == {"wildcard"}
    assert {p for p, _, _ in found(hotlist, "*3368")} == {"KA22P3368"}
    assert {p for p, _, _ in found(hotlist, "LE?-1234")} == {"LEA-1234", "LEB-1234"}
    assert {p for p, _, _ in found(hotlist, "LEA-12*", include_removed=True)} == {
        "LEA-1234",
        "LEA-1299",
        "LEA-1288",
    }


def test_search_confusions_partials_and_fuzzy(hotlist: VehicleHotlist, listed: dict[str, int]) -> None:
    assert found(hotlist, "8SB0399")[0] == ("BSB-0399", "FIR 6/2025", "confusion")
    assert found(hotlist, "A22P3368")[0] == ("KA22P3368", "FIR 5/2025", "partial")
    assert found(hotlist, "P336")[0] == ("KA22P3368", "FIR 5/2025", "partial")
    assert found(hotlist, "KA22P3386")[0] == ("KA22P3368", "FIR 5/2025", "fuzzy")  # transposed
    assert found(hotlist, "QQQ111") == []
    assert "LEA-1288" not in {p for p, _, _ in found(hotlist, "LEA1288")}, "removed"
    assert found(hotlist, "LEA1288", include_removed=True)[0] == ("LEA-1288", "FIR 8/2025", "exact")


def test_search_results_carry_the_entry_and_the_match(
    hotlist: VehicleHotlist, listed: dict[str, int]
) -> None:
    result = search_vehicles(hotlist.engine, "LEA-1299")[0]
    data = result.as_dict()
    assert data["status"] == "crime_involved" and data["case_reference"] == "FIR 3/2025"
    assert data["match"] == {"kind": "exact", "distance": 0.0, "score": 1.0}
    assert data["alerting"] is True and isinstance(data["created_at"], str)


@pytest.mark.parametrize(
    "text", ["", "*", "A*", "??*", "LEA_12*", "LEA%", "\u041b\u0415\u04101234", "L" * 30]
)
def test_search_refuses_unusable_queries(hotlist: VehicleHotlist, text: str) -> None:
    with pytest.raises(InvalidQueryError):
        search_vehicles(hotlist, text)
