"""The rows of a CRO persons import file (``safecity persons import``), read and checked one at a time.

Two formats, told apart by the file's name:

* **CSV** (UTF-8, header row; column names matched without regard to case, spaces, dashes or
  apostrophes). Rows are numbered as a spreadsheet shows them: the header is row 1.

  ==============  ========  ===================================================================
  column          required  content
  ==============  ========  ===================================================================
  name            yes       the person's name
  category        yes       hbt_offender, local, non_local, rowdy_sheeter, history_sheeter,
                            wanted, missing
  father_name     no        (aliases: ``father``, ``fathers_name``)
  cnic            no        13 digits, with or without dashes; unique on the records
  gender          no        male, female, other
  district        no
  address         no
  date_of_birth   no        YYYY-MM-DD (alias ``dob``)
  aliases         no        other names, separated by ``;``
  notes           no
  photo           no        a file name in the photos directory (JPEG or PNG)
  cases           no        cases separated by ``;``, each ``FIR|police station|sections|status``
                            with sections separated by ``,`` and an optional ``|FIR date``
  vehicles        no        registration numbers separated by ``;``, each optionally
                            ``PLATE|description``
  ==============  ========  ===================================================================

* **JSON lines** (``.jsonl`` / ``.ndjson``): one object per line, the body of ``POST /persons`` (cases
  and vehicles as lists of objects) plus ``photo``; rows are numbered by line.

Each row is checked by the persons API's own request model, so an import accepts exactly what the API
accepts (except links it sets itself: the watchlist profile comes from the photo).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from command_center.records.api.person_views import PersonCreate
from watchlist.vehicle_import import CsvFormatError, header_columns

COLUMNS = (
    "name",
    "category",
    "father_name",
    "cnic",
    "gender",
    "district",
    "address",
    "date_of_birth",
    "aliases",
    "notes",
    "photo",
    "cases",
    "vehicles",
)
REQUIRED = ("name", "category")
ALIASES = {"father": "father_name", "fathers_name": "father_name", "dob": "date_of_birth"}
JSON_SUFFIXES = (".jsonl", ".ndjson")
_LOWERED = ("category", "gender")
_LISTS = ";"
_PARTS = "|"

__all__ = ["CsvFormatError", "ImportRow", "RowProblem", "read_rows", "row_numbers"]


@dataclass(frozen=True, slots=True)
class ImportRow:
    number: int
    person: PersonCreate
    photo: str | None  # a file name in the photos directory


@dataclass(frozen=True, slots=True)
class RowProblem:
    number: int
    reason: str


def is_json_lines(path: Path) -> bool:
    return path.suffix.lower() in JSON_SUFFIXES


def row_numbers(path: Path) -> Iterator[int]:
    """The number of every data row in the file (for a progress bar's total; a resume's remainder)."""
    return (number for number, _ in _raw(path))


def read_rows(path: Path, after: int = 0) -> Iterator[ImportRow | RowProblem]:
    """Each row numbered above ``after``, checked: an ImportRow, or a RowProblem saying what is wrong.
    Raises CsvFormatError when the file is not an import file at all (nothing is read then)."""
    for number, raw in _raw(path):
        if number > after:
            yield _checked(number, raw)


def _raw(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, the row as a body to check, or why it cannot be one) for every non-blank row."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            yield from (_json_lines(file) if is_json_lines(path) else _csv_rows(file))
    except UnicodeDecodeError as exc:
        raise CsvFormatError(f"the file is not UTF-8 text (byte {exc.start} is not valid UTF-8)") from None


def _json_lines(file: Any) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, line in enumerate(file, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON: {exc.msg} at column {exc.colno}"
            continue
        yield number, value if isinstance(value, dict) else "not a JSON object"


def _csv_rows(file: Any) -> Iterator[tuple[int, dict[str, Any] | str]]:
    reader = csv.reader(file, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise CsvFormatError("the file is empty; it needs a header row: " + ",".join(COLUMNS))
        columns = header_columns(header, COLUMNS, REQUIRED, ALIASES)
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                yield number, f"has {len(cells)} fields; the header has {len(columns)}"
                continue
            yield number, _body(dict(zip(columns, cells, strict=True)))
    except csv.Error as exc:
        raise CsvFormatError(f"row {reader.line_num}: not valid CSV: {exc}") from None


def _body(cells: dict[str, str]) -> dict[str, Any] | str:
    """A CSV row as the API's request body (blank cells left out)."""
    body: dict[str, Any] = {}
    for name, cell in cells.items():
        text = cell.strip()
        if not text:
            continue
        if name in _LOWERED:
            body[name] = text.lower()
        elif name == "aliases":
            body[name] = _split(text)
        elif name == "cases":
            cases = [_case(item) for item in _split(text)]
            problems = [c for c in cases if isinstance(c, str)]
            if problems:
                return problems[0]
            body[name] = cases
        elif name == "vehicles":
            body[name] = [_vehicle(item) for item in _split(text)]
        else:
            body[name] = text
    return body


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(_LISTS) if item.strip()]


def _case(item: str) -> dict[str, Any] | str:
    parts = [p.strip() for p in item.split(_PARTS)]
    if len(parts) not in (4, 5):
        return f"cases: {item!r} is not 'FIR|police station|sections|status' (with an optional '|FIR date')"
    case: dict[str, Any] = {
        "fir_number": parts[0],
        "police_station": parts[1],
        "sections": [s.strip() for s in parts[2].split(",") if s.strip()],
        "status": parts[3].lower(),
    }
    if len(parts) == 5 and parts[4]:
        case["fir_date"] = parts[4]
    return case


def _vehicle(item: str) -> dict[str, Any]:
    plate, _, description = (p.strip() for p in item.partition(_PARTS))
    return {"plate": plate, "description": description} if description else {"plate": plate}


def _checked(number: int, raw: dict[str, Any] | str) -> ImportRow | RowProblem:
    if isinstance(raw, str):
        return RowProblem(number, raw)
    body = dict(raw)
    photo = body.pop("photo", None)
    if photo is not None and (not isinstance(photo, str) or not photo.strip()):
        return RowProblem(number, "photo: a file name")
    if body.get("watchlist_profile_id") is not None:
        return RowProblem(number, "watchlist_profile_id: set by the import from the row's photo")
    vehicles = body.get("vehicles")
    if isinstance(vehicles, list) and any(
        isinstance(v, dict) and v.get("hotlist_entry_id") for v in vehicles
    ):
        return RowProblem(number, "vehicles: hotlist_entry_id cannot be imported; link it in the console")
    try:
        person = PersonCreate.model_validate(body)
    except ValidationError as exc:
        return RowProblem(number, _reason(exc))
    plates = [v.key() for v in person.vehicles]
    firs = [(c.fir_number, c.police_station) for c in person.cases]
    if len(set(plates)) != len(plates) or len(set(firs)) != len(firs):
        return RowProblem(number, "the same FIR or registration number twice in one row")
    return ImportRow(number, person, photo.strip() if photo else None)


def _reason(exc: ValidationError) -> str:
    """A validation failure as one line: ``field: message; ...``."""
    parts = []
    for error in exc.errors(include_url=False, include_context=False):
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)
