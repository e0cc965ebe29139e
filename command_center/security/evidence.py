"""Evidence files in the audit chain: every stored photo's SHA-256 is in the audit entry that stored it, and
``check`` rehashes what is stored now.

The audit entry of a change that stores a file carries ``details.evidence = {"<kind>:<id>": "<sha256>"}``
(``stored``); one that removes a file on purpose carries ``details.evidence_removed = ["<kind>:<id>"]``
(``removed``); a retention purge is audited per data class (``retention.purge``, target ``data:<class>``).
Since those entries are in the keyed chain, whoever changes a photo in the database cannot make the chain
agree. ``check`` reports, by name, every file whose bytes no longer hash to what the chain recorded, and
every file gone without an audited removal or a purge of its class after it was stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Engine, Table, select

from pipeline.adapters import transactions
from pipeline.adapters.migrations import complete_metadata

_BATCH = 500
_SHOWN = 10  # problems named in a summary line


@dataclass(frozen=True, slots=True)
class Source:
    """Where files of one kind are stored, and which retention classes delete them."""

    table: Table
    blob: str  # the column holding the bytes (NULL once purged)
    purged_by: frozenset[str] = frozenset()
    key: str = "id"  # the column the file's id is
    only: tuple[str, str] | None = None  # (column, value): the rows of this kind in a shared table

    def column(self, name: str) -> Column[Any]:
        return self.table.c[name]


# Each domain declares where its files are (``declare``, next to the tables that hold them): the chain's
# check reads them through these declarations, never knowing the domains' tables by name.
_SOURCES: dict[str, Source] = {}


def declare(kind: str, source: Source) -> None:
    """Files of ``kind`` are stored as ``source`` says (called by the module declaring the table)."""
    if _SOURCES.get(kind, source) != source:
        raise ValueError(f"evidence kind {kind!r} is declared twice")
    _SOURCES[kind] = source


def sources() -> dict[str, Source]:
    """Every kind of evidence file: the table modules of every domain are loaded first."""
    complete_metadata()
    return _SOURCES


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ref(kind: str, item_id: int) -> str:
    if kind not in sources():
        raise ValueError(f"unknown evidence kind {kind!r}")
    return f"{kind}:{item_id}"


def stored(kind: str, *files: tuple[int, bytes | None]) -> dict[str, Any]:
    """Audit details naming stored files (id, bytes) and their hashes (nothing when none was stored)."""
    hashes = {ref(kind, item_id): sha256(data) for item_id, data in files if data}
    return {"evidence": hashes} if hashes else {}


def removed(kind: str, item_id: int) -> dict[str, Any]:
    """Audit details naming a file removed on purpose."""
    return {"evidence_removed": [ref(kind, item_id)]}


@dataclass(slots=True)
class _Ledger:
    """What the chain says: each file's hash and the entry that recorded it, removals, purges."""

    hashes: dict[str, tuple[str, int]] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    purged: dict[str, int] = field(default_factory=dict)  # data class -> last purge's seq

    def read(self, seq: int, action: str, target: str, details: dict[str, Any]) -> None:
        for name, digest in (details.get("evidence") or {}).items():
            self.hashes[name] = (str(digest), seq)
        for name in details.get("evidence_removed") or []:
            self.removed[str(name)] = seq
        if action == "retention.purge" and target.startswith("data:"):
            self.purged[target.removeprefix("data:")] = seq

    def accounted(self, name: str, source: Source, since: int) -> bool:
        """Whether a file recorded at entry ``since`` was later removed on purpose or purged."""
        if self.removed.get(name, 0) > since:
            return True
        return any(self.purged.get(data, 0) > since for data in source.purged_by)


@dataclass(frozen=True, slots=True)
class EvidenceCheck:
    ok: bool
    checked: int  # files rehashed
    problems: list[str]

    def describe(self) -> str:
        if self.ok:
            return f"{self.checked} evidence files match the hashes in the chain"
        more = f" (and {len(self.problems) - _SHOWN} more)" if len(self.problems) > _SHOWN else ""
        return "; ".join(self.problems[:_SHOWN]) + more


def check(engine: Engine, rows: Callable[[], Iterable[Any]]) -> EvidenceCheck:
    """Rehash every file the chain recorded (``rows()``: the audit rows in seq order)."""
    ledger = _Ledger()
    for row in rows():
        ledger.read(int(row.seq), row.action, row.target, json.loads(row.details))
    problems: list[str] = []
    checked = 0
    for kind, source in sources().items():
        wanted = {int(n.split(":", 1)[1]): n for n in ledger.hashes if n.split(":", 1)[0] == kind}
        found = dict(_stored(engine, source, sorted(wanted)))
        for item_id, name in wanted.items():
            digest, seq = ledger.hashes[name]
            data = found.get(item_id)
            if data is not None:
                checked += 1
                if sha256(data) != digest:
                    problems.append(f"changed: {name} no longer matches the sha256 of audit entry {seq}")
            elif not ledger.accounted(name, source, seq):
                problems.append(f"removed: {name} (audit entry {seq}) is gone without an audited purge")
    return EvidenceCheck(not problems, checked, problems)


def _stored(engine: Engine, source: Source, ids: list[int]) -> Iterator[tuple[int, bytes]]:
    """The stored bytes of these ids (ids without a row or without bytes are left out)."""
    key, blob = source.column(source.key), source.column(source.blob)
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        query = select(key, blob).where(key.in_(batch), blob.is_not(None))
        if source.only is not None:
            query = query.where(source.column(source.only[0]) == source.only[1])
        with transactions.connect(engine) as conn:
            for item_id, data in conn.execute(query):
                yield int(item_id), bytes(data)
