"""An import job's uploaded files: checked when they arrive (a clear 413 or 422 with the reason, before a
job exists), laid out in a scratch directory when a replica runs the job (the rows file under its own
name, since its name says its format; the photos flat, by file name, as ``--photos DIR`` holds them)."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from command_center.records.import_rows import JSON_SUFFIXES, CsvFormatError, row_numbers

ROW_SUFFIXES = (".csv", *JSON_SUFFIXES)
MAX_PHOTOS = 1_000_000  # entries in one zip
MAX_NAME = 200  # bytes of a file name kept (and written to a scratch directory)


class UploadRefused(Exception):
    """An upload that cannot become a job: ``status`` 413 (too large) or 422 (not what it should be)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def rows_file_name(name: str | None) -> str:
    """The uploaded rows file's own name (no directories), refused unless CSV or JSON lines."""
    clean = PurePosixPath((name or "").replace("\\", "/")).name
    if len(clean.encode()) > MAX_NAME or any(ord(c) < 32 for c in clean):
        raise UploadRefused(422, "the file's name is too long or holds control characters: rename it")
    if not clean.lower().endswith(ROW_SUFFIXES):
        raise UploadRefused(
            422, f"{clean or 'the file'}: an import file is CSV (.csv) or JSON lines (.jsonl)"
        )
    return clean


def count_rows(name: str, data: bytes, most: int, scratch: Path) -> int:
    """The data rows of the file (its header and format checked as the import reads them)."""
    if not data.strip():
        raise UploadRefused(422, f"{name}: the file is empty")
    path = scratch / name
    path.write_bytes(data)
    try:
        rows = sum(1 for _ in row_numbers(path))
    except CsvFormatError as exc:
        raise UploadRefused(422, f"{name}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise UploadRefused(422, f"{name}: not UTF-8 text (byte {exc.start})") from None
    except (csv.Error, ValueError) as exc:  # e.g. a NUL byte, a line longer than the CSV reader takes
        raise UploadRefused(422, f"{name}: not a readable import file ({exc})") from None
    if rows == 0:
        raise UploadRefused(422, f"{name}: no data rows")
    if rows > most:
        raise UploadRefused(413, f"{name}: {rows} rows; one import takes at most {most} (split the file)")
    return rows


def check_photos(data: bytes, max_total: int) -> int:
    """How many photos the zip holds; refused when it is no zip or unpacks to more than ``max_total``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if _photo_name(m) is not None]
    except (zipfile.BadZipFile, ValueError) as exc:
        raise UploadRefused(422, f"the photos are not a zip file ({exc})") from None
    total = sum(m.file_size for m in members)
    if total > max_total:
        raise UploadRefused(413, f"the photos unpack to {total} bytes; at most {max_total}")
    if len(members) > MAX_PHOTOS:
        raise UploadRefused(413, f"the zip holds {len(members)} files; at most {MAX_PHOTOS}")
    return len(members)


def extract_photos(data: bytes, into: Path, max_total: int) -> None:
    """The zip's files into ``into`` by their own names (folders inside the zip are ignored; of two
    files of one name the first is kept), never more than ``max_total`` bytes in all."""
    left = max_total
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            name = _photo_name(member)
            target = into / name if name is not None else None
            if target is None or target.exists():
                continue
            with archive.open(member) as source, target.open("wb") as sink:
                shutil.copyfileobj(_Capped(source, left), sink)
            left -= target.stat().st_size


def _photo_name(member: zipfile.ZipInfo) -> str | None:
    if member.is_dir():
        return None
    name = PurePosixPath(member.filename.replace("\\", "/")).name
    if not name or name.startswith(".") or name.startswith("__MACOSX"):
        return None
    if len(name.encode()) > MAX_NAME or any(ord(c) < 32 for c in name):
        return None  # no row can name it (rows name photos by their file name alone)
    return name


class _Capped(io.RawIOBase):
    """A reader that refuses to give more than ``left`` bytes (a zip whose sizes lie)."""

    def __init__(self, source: IO[bytes], left: int) -> None:
        self._source = source
        self._left = left

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._source.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise UploadRefused(413, "the photos unpack to more than their limit")
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)
