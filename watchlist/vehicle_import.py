"""Import of hotlist entries from CSV: all rows or none, idempotent, every problem reported by row.

The file is UTF-8 text (a byte-order mark is fine) with a header row. Column names are matched
without regard to case, spaces or dashes:

==============  ========  =====================================================================
column          required  content
==============  ========  =====================================================================
plate           yes       registration number as written, e.g. ``LEA-1234`` (aliases:
                          ``registration``, ``registration_number``, ``plate_number``)
status          yes       stolen, crime_involved (or crime-involved), wanted, recovered, abandoned
reason          yes       why the vehicle is listed (3-500 characters)
case_reference  yes       case or FIR reference, e.g. ``FIR 112/2025 PS Gulberg`` (aliases:
                          ``case``, ``fir``, ``fir_reference``)
owner           no        registered owner's name
vehicle         no        make, model, colour
priority        no        1 (most urgent) to 5; default 3
expires_at      no        date (``YYYY-MM-DD``, midnight UTC) or ISO time; empty for no expiry
                          (aliases: ``expires``, ``expiry``)
==============  ========  =====================================================================

Rows are numbered as a spreadsheet shows them: the header is row 1. A row whose plate and case match
a live entry updates that entry (so importing the same file twice changes nothing the second time);
two rows with the same plate and case in one file are an error. Unless ``partial`` is set, one bad row
means nothing is imported; with it, the good rows are imported and the bad ones reported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pipeline.adapters import transactions
from watchlist.governance import utc
from watchlist.vehicle_tables import vehicle_hotlist
from watchlist.vehicle_types import InvalidVehicleError, NewVehicle, ValidVehicle, validate_actor
from watchlist.vehicles import VehicleHotlist, live

MAX_ROWS = 50_000
MAX_REPORTED_ERRORS = 200
COLUMNS = ("plate", "status", "reason", "case_reference", "owner", "vehicle", "priority", "expires_at")
REQUIRED = ("plate", "status", "reason", "case_reference")
ALIASES = {
    "registration": "plate",
    "registration_number": "plate",
    "registration_no": "plate",
    "plate_number": "plate",
    "case": "case_reference",
    "fir": "case_reference",
    "fir_reference": "case_reference",
    "expires": "expires_at",
    "expiry": "expires_at",
}
_COMPARED = ("plate", "status", "reason", "case_reference", "owner", "vehicle", "priority", "expires_at")
_CHUNK = 500


class CsvFormatError(ValueError):
    """The file as a whole cannot be read as a hotlist (encoding, header, size)."""


class ImportConflictError(Exception):
    """The hotlist changed under the import (another writer added the same plate and case): retry."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    message: str


@dataclass(slots=True)
class ImportReport:
    rows: int = 0  # data rows read (blank rows are skipped)
    created: list[int] = field(default_factory=list)  # entry ids
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0  # all errors, also those beyond the MAX_REPORTED_ERRORS listed
    applied: bool = False  # False: refused whole for bad rows (without ``partial``), nothing written

    def error(self, row: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, message))

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "errors": self.error_count,
            "applied": self.applied,
        }


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFormatError(f"the file is not UTF-8 text (byte {exc.start} is not valid UTF-8)") from None


def header_columns(
    header: Sequence[str],
    columns: Sequence[str] = COLUMNS,
    required: Sequence[str] = REQUIRED,
    aliases: Mapping[str, str] = ALIASES,
) -> list[str]:
    """The canonical column name of each header cell; CsvFormatError for unknown, repeated or missing.
    Names are matched without regard to case, spaces, dashes or apostrophes (other imports pass theirs)."""
    names = [
        aliases.get(n, n)
        for n in ("_".join(h.strip().lower().replace("-", " ").replace("'", "").split()) for h in header)
    ]
    unknown = [h for h, n in zip(header, names, strict=True) if n not in columns]
    if unknown:
        raise CsvFormatError(f"row 1: unknown column(s) {unknown}; the columns are: {', '.join(columns)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise CsvFormatError(f"row 1: column(s) given twice: {', '.join(repeated)}")
    missing = [n for n in required if n not in names]
    if missing:
        raise CsvFormatError(f"row 1: required column(s) missing: {', '.join(missing)}")
    return names


Progress = Callable[[int], None]
"""Told how many more rows were read (e.g. a progress bar's advance)."""


def parse_rows(
    text: str, report: ImportReport, now: datetime, progress: Progress | None = None
) -> list[tuple[int, ValidVehicle]]:
    """The valid rows with their row numbers; problems go to ``report``."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise CsvFormatError("the file is empty; it needs a header row: " + ",".join(COLUMNS))
        columns = header_columns(header)
        return _rows(reader, columns, report, now, progress)
    except csv.Error as exc:
        raise CsvFormatError(f"row {reader.line_num}: not valid CSV: {exc}") from None


def _rows(
    reader: Any, columns: list[str], report: ImportReport, now: datetime, progress: Progress | None
) -> list[tuple[int, ValidVehicle]]:
    valid: list[tuple[int, ValidVehicle]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        report.rows += 1
        if progress is not None:
            progress(1)
        if report.rows > MAX_ROWS:
            raise CsvFormatError(f"more than {MAX_ROWS} rows; split the file")
        if len(cells) != len(columns):
            report.error(number, f"has {len(cells)} fields; the header has {len(columns)}")
            continue
        values = dict(zip(columns, cells, strict=True))
        try:
            vehicle = _new_vehicle(values).validated(now)
        except InvalidVehicleError as exc:
            report.error(number, str(exc))
            continue
        key = (vehicle.plate_key, vehicle.case_key)
        if key in seen:
            report.error(
                number, f"{vehicle.plate} under case {vehicle.case_reference!r} repeats row {seen[key]}"
            )
            continue
        seen[key] = number
        valid.append((number, vehicle))
    return valid


def _new_vehicle(values: dict[str, str]) -> NewVehicle:
    priority = values.get("priority", "").strip()
    return NewVehicle(
        plate=values["plate"],
        status=values["status"],
        reason=values["reason"],
        case_reference=values["case_reference"],
        owner=values.get("owner"),
        vehicle=values.get("vehicle"),
        priority=priority or 3,
        expires_at=values.get("expires_at") or None,
    )


def import_csv(
    store: VehicleHotlist,
    data: bytes,
    actor: str,
    *,
    partial: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate every row, then write them in one transaction (or nothing, if any row is bad and not
    ``partial``). Raises CsvFormatError for a file that is not a hotlist at all, ImportConflictError if a
    concurrent writer added one of the same entries meanwhile."""
    actor = validate_actor(actor)
    now = now or datetime.now(UTC)
    report = ImportReport()
    valid = parse_rows(decode(data), report, now, progress)
    if report.error_count and not partial:
        return report
    try:
        with transactions.begin(store.engine) as conn:
            _write(conn, valid, actor, now, report)
            if report.created or report.updated:
                store.bump(conn)
    except IntegrityError:
        raise ImportConflictError(
            "another change to the same plates was saved during the import; "
            "nothing was imported, run it again"
        ) from None
    report.applied = True
    return report


def _write(
    conn: Connection, valid: list[tuple[int, ValidVehicle]], actor: str, now: datetime, report: ImportReport
) -> None:
    existing = _live_rows(conn, {v.plate_key for _, v in valid})
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for _, vehicle in valid:
        row = existing.get((vehicle.plate_key, vehicle.case_key))
        values = vehicle.row()
        if row is None:
            new_rows.append(
                {**values, "created_by": actor, "created_at": now, "updated_by": actor, "updated_at": now}
            )
        elif _same(row, values):
            report.unchanged.append(int(row.id))
        else:
            changed.append({**values, "entry_id": row.id, "updated_by": actor, "updated_at": now})
            report.updated.append(int(row.id))
    if new_rows:  # one batched INSERT ... RETURNING, ids in row order
        adding = insert(vehicle_hotlist).returning(vehicle_hotlist.c.id, sort_by_parameter_order=True)
        report.created.extend(int(i) for i in conn.execute(adding, new_rows).scalars())
    if changed:
        changing = update(vehicle_hotlist).where(vehicle_hotlist.c.id == bindparam("entry_id"))
        conn.execute(changing, changed)


def _live_rows(conn: Connection, keys: set[str]) -> dict[tuple[str, str], Any]:
    found: dict[tuple[str, str], Any] = {}
    wanted = sorted(keys)
    for start in range(0, len(wanted), _CHUNK):
        query = select(vehicle_hotlist).where(
            vehicle_hotlist.c.plate_key.in_(wanted[start : start + _CHUNK]), live()
        )
        for row in conn.execute(query):
            found[(row.plate_key, row.case_key)] = row
    return found


def _same(row: Any, values: dict[str, Any]) -> bool:
    for name in _COMPARED:
        stored = getattr(row, name)
        if name == "expires_at" and stored is not None:
            stored = utc(stored)
        if stored != values[name]:
            return False
    return True
