"""Watchlist snapshots: a matcher's whole state in one file, loaded by a worker instead of the database.

File layout (little-endian)::

    MAGIC | section | section | ... | header (JSON, UTF-8) | header length (8 bytes) | MAGIC

A section is the FAISS structure exactly as ``faiss.write_index`` writes it, or one numpy array's raw
bytes. The header lists every section (offset, length, dtype, shape, CRC-32) and says what the snapshot
is: its watermark (the watchlist revision and the time it was taken), the backend, the embedding model
and dimension. It sits at the end so the file is written in one pass, the FAISS structure streamed
without a second copy in memory. Every CRC is checked before anything is parsed: FAISS trusts its input,
so a damaged file must be refused here rather than crash or silently corrupt the reader.

Nothing is unpickled: arrays are raw bytes with the dtype and shape from the header, and the only other
parser is FAISS's own, reached after the checks.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import faiss
import numpy as np
import numpy.typing as npt

from watchlist.index_base import IdArray, IndexState

MAGIC = b"SCWLSNP1"
FORMAT = 2  # 2: each profile's watch lists (a table of distinct sets in the header, a code per profile)
NO_EXPIRY = np.iinfo(np.int64).max  # an owner whose expiry is unknown (a change from an old publisher)
_BLOCK = 8 << 20
_LENGTH = struct.Struct("<Q")
_ALLOWED_DTYPES = {"<f4", "<i8", "|u1"}
_SECTION_FIELDS = {"name": str, "kind": str, "offset": int, "length": int, "crc32": int}


class SnapshotError(ValueError):
    """The file is not a readable snapshot: truncated, damaged, another format or inconsistent."""


@dataclass(frozen=True)
class Owners:
    """Who each embedding belongs to, column by column: what the matcher keeps beside its index."""

    embedding_ids: IdArray
    embedding_profiles: IdArray  # the profile of each embedding
    profile_ids: IdArray
    names: list[str]  # per profile, like the three below
    categories: list[str]
    expires_us: IdArray  # microseconds since the epoch; NO_EXPIRY when unknown
    lists: list[tuple[int, ...]]  # the watch lists each profile is on

    def __post_init__(self) -> None:
        if len(self.embedding_ids) != len(self.embedding_profiles):
            raise SnapshotError("owners: one profile per embedding expected")
        columns = (self.names, self.categories, self.expires_us, self.lists)
        if any(len(column) != len(self.profile_ids) for column in columns):
            raise SnapshotError("owners: the profile columns differ in length")


@dataclass(frozen=True)
class WatchlistState:
    """A matcher's content at ``revision``; ``taken_at`` is when the revision was read (the watermark)."""

    revision: int
    taken_at: datetime
    model: str
    dim: int
    index: IndexState
    owners: Owners


@dataclass(frozen=True)
class SnapshotHeader:
    revision: int
    taken_at: datetime
    model: str
    dim: int
    index_kind: str
    embeddings: int
    profiles: int
    sections: tuple[dict[str, Any], ...] = ()

    def describe(self) -> dict[str, Any]:
        """The header without its section table: what an object store lists about the snapshot."""
        return {
            "format": FORMAT,
            "revision": self.revision,
            "taken_at": self.taken_at.isoformat(),
            "model": self.model,
            "dim": self.dim,
            "index_kind": self.index_kind,
            "embeddings": self.embeddings,
            "profiles": self.profiles,
        }

    @classmethod
    def parse(cls, data: Mapping[str, Any], sections: tuple[dict[str, Any], ...] = ()) -> SnapshotHeader:
        try:
            if data["format"] != FORMAT:
                raise SnapshotError(f"snapshot format {data['format']!r}; this reader knows {FORMAT}")
            taken_at = datetime.fromisoformat(data["taken_at"])
            return cls(
                revision=int(data["revision"]),
                taken_at=taken_at if taken_at.tzinfo else taken_at.replace(tzinfo=UTC),
                model=str(data["model"]),
                dim=int(data["dim"]),
                index_kind=str(data["index_kind"]),
                embeddings=int(data["embeddings"]),
                profiles=int(data["profiles"]),
                sections=sections,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SnapshotError):
                raise
            raise SnapshotError(f"malformed snapshot header: {exc!r}") from None


# -- writing -------------------------------------------------------------------------------------------


class _SectionWriter:
    """Appends sections to an open file, recording each one's offset, length and CRC-32."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.sections: list[dict[str, Any]] = []

    def _section(
        self, name: str, kind: str, write: Callable[[Callable[[bytes], int]], None]
    ) -> dict[str, Any]:
        offset, crc, length = self._f.tell(), 0, 0

        def sink(data: bytes) -> int:
            nonlocal crc, length
            self._f.write(data)
            crc = zlib.crc32(data, crc)
            length += len(data)
            return len(data)

        write(sink)
        entry = {"name": name, "kind": kind, "offset": offset, "length": length, "crc32": crc}
        self.sections.append(entry)
        return entry

    def faiss_index(self, name: str, index: faiss.Index) -> None:
        def write(sink: Callable[[bytes], int]) -> None:
            faiss.write_index(index, faiss.PyCallbackIOWriter(sink))  # type: ignore[attr-defined]

        self._section(name, "faiss", write)

    def array(self, name: str, array: npt.NDArray[Any]) -> None:
        data = np.ascontiguousarray(array)
        data = data.astype(data.dtype.newbyteorder("<"), copy=False)
        flat = data.reshape(-1).view(np.uint8)

        def write(sink: Callable[[bytes], int]) -> None:
            for start in range(0, len(flat), _BLOCK):
                sink(flat[start : start + _BLOCK].tobytes())

        entry = self._section(name, "array", write)
        entry.update(dtype=data.dtype.str, shape=list(data.shape))


def write_snapshot(state: WatchlistState, path: Path) -> SnapshotHeader:
    owners = state.owners
    names = [n.encode() for n in owners.names]
    name_offsets = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum([len(n) for n in names], out=name_offsets[1:])
    categories = sorted(set(owners.categories))
    code = {c: i for i, c in enumerate(categories)}
    if len(categories) > 255:
        raise ValueError("more than 255 categories")
    memberships = sorted(set(owners.lists))  # profiles share a handful of list sets
    membership_code = {m: i for i, m in enumerate(memberships)}
    header = SnapshotHeader(
        state.revision,
        state.taken_at,
        state.model,
        state.dim,
        state.index.kind,
        len(owners.embedding_ids),
        len(owners.profile_ids),
    )
    with path.open("wb") as f:
        f.write(MAGIC)
        out = _SectionWriter(f)
        if state.index.faiss_index is not None:
            out.faiss_index("index", state.index.faiss_index)
        for name, array in state.index.arrays.items():
            out.array(f"index.{name}", array)
        out.array("embedding_ids", owners.embedding_ids)
        out.array("embedding_profiles", owners.embedding_profiles)
        out.array("profile_ids", owners.profile_ids)
        out.array("expires_us", owners.expires_us)
        out.array("category_codes", np.asarray([code[c] for c in owners.categories], dtype=np.uint8))
        out.array("membership_codes", np.asarray([membership_code[m] for m in owners.lists], dtype=np.int64))
        out.array("name_offsets", name_offsets)
        out.array("names", np.frombuffer(b"".join(names), dtype=np.uint8))
        document = header.describe() | {
            "categories": categories,
            "memberships": [list(m) for m in memberships],
            "sections": out.sections,
        }
        encoded = json.dumps(document).encode()
        f.write(encoded)
        f.write(_LENGTH.pack(len(encoded)))
        f.write(MAGIC)
    return SnapshotHeader.parse(document, tuple(out.sections))


# -- reading -------------------------------------------------------------------------------------------


def read_header(path: Path) -> tuple[SnapshotHeader, list[str], list[tuple[int, ...]]]:
    """The header, the category table and the membership table; SnapshotError if the file does not
    end like a snapshot."""
    size = path.stat().st_size
    tail = len(MAGIC) + _LENGTH.size
    with path.open("rb") as f:
        if size < 2 * len(MAGIC) + _LENGTH.size or f.read(len(MAGIC)) != MAGIC:
            raise SnapshotError(f"{path.name} is not a watchlist snapshot (no magic at the start)")
        f.seek(size - tail)
        (length,) = _LENGTH.unpack(f.read(_LENGTH.size))
        if f.read(len(MAGIC)) != MAGIC or length > size - tail - len(MAGIC):
            raise SnapshotError(f"{path.name} is truncated or damaged (no header at the end)")
        f.seek(size - tail - length)
        try:
            document = json.loads(f.read(length))
            sections = tuple(document["sections"])
            categories = [str(c) for c in document["categories"]]
            memberships = [tuple(int(i) for i in m) for m in document.get("memberships", [])]
        except (ValueError, KeyError, TypeError) as exc:
            raise SnapshotError(f"{path.name}: unreadable header ({exc!r})") from None
    header = SnapshotHeader.parse(document, sections)
    end = size - tail - length
    for s in sections:
        if not isinstance(s, dict) or not all(isinstance(s.get(k), t) for k, t in _SECTION_FIELDS.items()):
            raise SnapshotError(f"{path.name}: a section entry is malformed: {str(s)[:200]}")
        if s["kind"] not in ("faiss", "array") or (s["kind"] == "array") != ("dtype" in s and "shape" in s):
            raise SnapshotError(f"{path.name}: section {s['name']!r} is of an unknown kind")
        if s["offset"] < len(MAGIC) or s["length"] < 0 or s["offset"] + s["length"] > end:
            raise SnapshotError(f"{path.name}: section {s['name']!r} lies outside the file")
    return header, categories, memberships


def _check(f: IO[bytes], section: dict[str, Any]) -> None:
    f.seek(section["offset"])
    crc, remaining = 0, section["length"]
    while remaining:
        block = f.read(min(_BLOCK, remaining))
        if not block:
            raise SnapshotError(f"section {section['name']!r} is truncated")
        crc = zlib.crc32(block, crc)
        remaining -= len(block)
    if crc != section["crc32"]:
        raise SnapshotError(f"section {section['name']!r} is damaged (CRC mismatch)")


def _read_array(f: IO[bytes], section: dict[str, Any]) -> npt.NDArray[Any]:
    dtype = np.dtype(section.get("dtype", ""))  # raises on garbage; checked below
    if dtype.str not in _ALLOWED_DTYPES:
        raise SnapshotError(f"section {section['name']!r} has an unexpected dtype {dtype.str}")
    shape = tuple(int(n) for n in section["shape"])
    count = int(np.prod(shape, dtype=np.int64))
    if count * dtype.itemsize != section["length"]:
        raise SnapshotError(f"section {section['name']!r}: {section['length']} bytes do not hold {shape}")
    f.seek(section["offset"])
    return np.fromfile(f, dtype=dtype, count=count).reshape(shape)


def _read_faiss(f: IO[bytes], section: dict[str, Any]) -> faiss.Index:
    f.seek(section["offset"])
    remaining = section["length"]

    def read(n: int) -> bytes:
        nonlocal remaining
        data = f.read(min(n, remaining))
        remaining -= len(data)
        return data

    try:
        index = faiss.read_index(faiss.PyCallbackIOReader(read))  # type: ignore[attr-defined]
    except RuntimeError as exc:
        raise SnapshotError(f"section {section['name']!r}: FAISS cannot read it ({exc})") from None
    if remaining:
        raise SnapshotError(f"section {section['name']!r}: {remaining} bytes left unread")
    return index


def read_snapshot(path: Path) -> WatchlistState:
    """The state in ``path``; SnapshotError (never a crash) if it is damaged or inconsistent."""
    header, categories, memberships = read_header(path)
    by_name = {s["name"]: s for s in header.sections}
    with path.open("rb") as f:
        for section in header.sections:
            _check(f, section)
        try:
            arrays = {n: _read_array(f, s) for n, s in by_name.items() if s["kind"] == "array"}
            index = _read_faiss(f, by_name["index"]) if "index" in by_name else None
            codes = arrays.pop("category_codes")
            membership_codes = arrays.pop("membership_codes")
            if len(membership_codes) != len(codes) or (
                membership_codes.size
                and not 0 <= int(membership_codes.min()) <= int(membership_codes.max()) < len(memberships)
            ):
                raise SnapshotError("the membership codes do not match the membership table")
            offsets, blob = arrays.pop("name_offsets"), arrays.pop("names").tobytes()
            if codes.size and int(codes.max()) >= len(categories):
                raise SnapshotError("a category code is outside the category table")
            if len(offsets) != len(codes) + 1 or int(offsets[-1]) != len(blob):
                raise SnapshotError("the name table does not match the profiles")
            owners = Owners(
                embedding_ids=arrays.pop("embedding_ids"),
                embedding_profiles=arrays.pop("embedding_profiles"),
                profile_ids=arrays.pop("profile_ids"),
                names=[
                    blob[a:b].decode()
                    for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
                ],
                categories=[categories[c] for c in codes.tolist()],
                expires_us=arrays.pop("expires_us"),
                lists=[memberships[c] for c in membership_codes.tolist()],
            )
        except (KeyError, TypeError, ValueError) as exc:  # SnapshotError is a ValueError: passes through
            if isinstance(exc, SnapshotError):
                raise
            raise SnapshotError(f"{path.name}: inconsistent snapshot ({exc!r})") from None
    if len(owners.embedding_ids) != header.embeddings or len(owners.profile_ids) != header.profiles:
        raise SnapshotError("the header's counts do not match the owner tables")
    index_arrays = {n.removeprefix("index."): a for n, a in arrays.items() if n.startswith("index.")}
    return WatchlistState(
        header.revision,
        header.taken_at,
        header.model,
        header.dim,
        IndexState(header.index_kind, index, index_arrays),
        owners,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime | None) -> int:
    """Microseconds since the epoch, exactly (no float rounding); NO_EXPIRY for None."""
    return NO_EXPIRY if moment is None else (moment - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime | None:
    return None if value == NO_EXPIRY else _EPOCH + value * _MICROSECOND
