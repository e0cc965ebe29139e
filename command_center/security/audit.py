"""The audit trail: who did what, when, from where and why, as a keyed hash chain in the database.

Entry ``n`` (``seq``, gapless from 1) stores ``hash = HMAC-SHA-256(key, prev_hash || "\\n" || payload)``
(``security.audit_key``, a secret that is not in the database; entries written before the chain was keyed
carry plain SHA-256 and ``keyed`` false) where
``prev_hash`` is entry ``n-1``'s hash (64 zeros for the first) and ``payload`` is the canonical JSON
(sorted keys, no spaces, UTF-8) of seq, timestamp (UTC, microseconds), actor, role, ip, action,
target, reason and details (itself canonical JSON text). ``audit_head`` holds the last seq and hash,
so cutting entries off the end is detected as well.

An entry is appended inside the transaction of the change it records when there is one (``record_in``, or
``record`` inside ``unit()``, which the command centre opens around every audited change): the change and
its entry commit together or not at all. Appends are serialised across threads, processes and replicas:
a transaction-level advisory lock on
PostgreSQL, the database write lock (BEGIN IMMEDIATE) on SQLite; the seq primary key makes a fork
impossible even if that were bypassed. Without the key, whoever can write to the database cannot
recompute a changed chain; with it, cutting entries off the end and moving the head back would still
look consistent, which the heads anchored in JetStream (``command_center.security.audit_anchor``) catch.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import false as false_
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from command_center.security.audit_chain import (
    GENESIS,
    Problem,
    VerifyResult,
    canonical_json,
    chain_hash,
    find_break,
    payload,
)
from pipeline.adapters import transactions, unnest
from pipeline.adapters.database import UtcDateTime, as_utc, metadata
from pipeline.adapters.migrations import upgrade
from pipeline.settings import Settings

if TYPE_CHECKING:
    from command_center.security.audit_group import GroupAppender

__all__ = ["GENESIS", "AuditEntry", "AuditTrail", "Problem", "VerifyResult"]

MAX_ACTOR = 200
MAX_ACTION = 64
MAX_TARGET = 200
MAX_REASON = 2000
MAX_IP = 64
MAX_QUERY = 500
_BATCH = 1000
_PG_LOCK_KEY = 0x5AFEC17A  # advisory lock id of the audit chain
_LOCK_HEAD = text(
    "SELECT h.seq, h.hash FROM audit_head h CROSS JOIN LATERAL (SELECT pg_advisory_xact_lock(:key)) l "
    "WHERE h.id = 1 FOR UPDATE OF h"
)


audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("timestamp", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(MAX_ACTOR), nullable=False, index=True),
    Column("role", String(32), nullable=True),
    Column("ip", String(MAX_IP), nullable=True),
    Column("action", String(MAX_ACTION), nullable=False, index=True),
    Column("target", String(MAX_TARGET), nullable=False, index=True),
    Column("reason", Text, nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("keyed", Boolean, nullable=False, server_default=false_()),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("hash", String(64), nullable=False),
)


_COLUMNS = [c.name for c in audit_log.c]
# The entries and the chain's new head in one statement of constant text (see pipeline.adapters.unnest).
_PG_APPEND = text(
    f"WITH appended AS ({unnest.insert_sql(audit_log, _COLUMNS)}) "  # noqa: S608 (metadata, not input)
    "UPDATE audit_head SET seq = :head_seq, hash = :head_hash WHERE id = 1"
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    timestamp: datetime
    actor: str
    role: str | None
    ip: str | None
    action: str
    target: str
    reason: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


_utc = as_utc  # a naive moment (a date-only input) is taken to be UTC


def _bounded(name: str, value: str | None, maximum: int, required: bool = False) -> str | None:
    """The value as stored: a long one is clipped (marked with an ellipsis), never refused, so that a
    change can never go unaudited for the length of a name; the identity leads (``staff:<id>:...``)."""
    if value is None or value == "":
        if required:
            raise ValueError(f"audit {name} is required")
        return None
    return value if len(value) <= maximum else value[: maximum - 1] + "\u2026"


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=int(row.seq),
        timestamp=_utc(row.timestamp),
        actor=row.actor,
        role=row.role,
        ip=row.ip,
        action=row.action,
        target=row.target,
        reason=row.reason,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class Extra(TypedDict, total=False):
    """What an entry may say besides who did what to which target."""

    reason: str | None
    details: dict[str, Any] | None
    ip: str | None
    role: str | None


def entry_fields(actor: str, action: str, target: str, **extra: Unpack[Extra]) -> _Fields:
    """An entry's fields as they will be stored (bounded, timestamped now), for ``append_many``."""
    return _fields(actor, action, target, **extra)


def _fields(actor: str, action: str, target: str, **extra: Unpack[Extra]) -> _Fields:
    return _Fields(
        timestamp=datetime.now(UTC),
        actor=str(_bounded("actor", actor, MAX_ACTOR, required=True)),
        role=_bounded("role", extra.get("role"), 32),
        ip=_bounded("ip", extra.get("ip"), MAX_IP),
        action=str(_bounded("action", action, MAX_ACTION, required=True)),
        target=str(_bounded("target", target, MAX_TARGET, required=True)),
        reason=_bounded("reason", extra.get("reason"), MAX_REASON),
        details=canonical_json(extra.get("details") or {}),
    )


@dataclass(frozen=True, slots=True)
class _Fields:
    timestamp: datetime
    actor: str
    role: str | None
    ip: str | None
    action: str
    target: str
    reason: str | None
    details: str


class AuditTrail:
    def __init__(self, engine: Engine, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the audit key must be at least 16 bytes")
        self.engine = engine
        self._key = key
        self._group: GroupAppender | None = None

    @property
    def group(self) -> GroupAppender:
        """This process's group-commit appender of audited writes (started at first use)."""
        if self._group is None:
            from command_center.security.audit_group import GroupAppender

            self._group = GroupAppender(self)
        return self._group

    def close_group(self) -> None:
        """Commit what was handed to the group appender, then stop it (at shutdown)."""
        if self._group is not None:
            self._group.close()

    @classmethod
    def of(cls, engine: Engine, settings: Settings) -> AuditTrail:
        """The deployment's trail, keyed by ``security.audit_key``."""
        return cls(engine, settings.security.audit_key.get_secret_value().encode())

    def create_schema(self) -> None:
        """Create the tables and the chain head; safe to call from several processes."""
        upgrade(self.engine)
        with transactions.connect(self.engine) as conn:
            if conn.execute(select(audit_head.c.id)).first() is not None:
                return
        try:
            with transactions.begin(self.engine) as conn:
                conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
        except IntegrityError:
            pass  # another process created it first

    def record(self, actor: str, action: str, target: str, **extra: Unpack[Extra]) -> AuditEntry:
        """Append one entry to the chain and return it: inside a unit of work of this engine (``unit``)
        as part of it, committed with the change it records; otherwise committed on its own."""
        found = transactions.current(self.engine)
        if found is not None:
            return self.record_in(found.connection(), actor, action, target, **extra)
        with self.engine.begin() as conn:
            return self.record_in(conn, actor, action, target, **extra)

    def record_in(
        self, conn: Connection, actor: str, action: str, target: str, **extra: Unpack[Extra]
    ) -> AuditEntry:
        """Append one entry within the caller's transaction on ``conn``: it commits or rolls back with it.
        On SQLite the transaction must not have read before (or must hold the write lock already)."""
        return self._append(conn, _fields(actor, action, target, **extra))

    @contextmanager
    def unit(self) -> Iterator[transactions.Unit]:
        """A unit of work whose stores' writes and audit entries commit together (or not at all); it
        takes the chain's lock at its first statement."""
        with transactions.unit(self.engine, on_open=self.lock) as found:
            yield found

    @asynccontextmanager
    async def unit_async(self) -> AsyncIterator[transactions.Unit]:
        """``unit`` for asynchronous code (its threads share it)."""
        async with transactions.unit_async(self.engine, on_open=self.lock) as found:
            yield found

    def _append(self, conn: Connection, fields: _Fields) -> AuditEntry:
        self.lock(conn)
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
        seq, prev = int(head.seq) + 1, str(head.hash)
        digest = chain_hash(prev, payload(seq, fields), self._key)
        row = {**_as_dict(fields), "seq": seq, "prev_hash": prev, "hash": digest, "keyed": True}
        conn.execute(insert(audit_log).values(**row))
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
        return _entry(_Row(row))

    def append_many(
        self, conn: Connection, entries: list[_Fields], head: tuple[int, str] | None = None
    ) -> list[AuditEntry]:
        """Append ``entries`` in order within the caller's transaction, which must hold the chain's lock
        (``lock``, or ``lock_head``, which also gives the ``head`` to pass here): one read of the head
        unless given, then the rows and the new head written together (one statement on PostgreSQL)."""
        if not entries:
            return []
        if head is None:
            head = self._read_head(conn)
        seq, prev = head
        rows = []
        for fields in entries:
            seq += 1
            digest = chain_hash(prev, payload(seq, fields), self._key)
            rows.append({**_as_dict(fields), "seq": seq, "prev_hash": prev, "hash": digest, "keyed": True})
            prev = digest
        if conn.dialect.name == "postgresql":
            conn.execute(_PG_APPEND, {**unnest.arrays(rows, _COLUMNS), "head_seq": seq, "head_hash": prev})
        else:
            conn.execute(insert(audit_log), rows)
            conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))
        return [_entry(_Row(row)) for row in rows]

    @staticmethod
    def _read_head(conn: Connection) -> tuple[int, str]:
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
        return int(head.seq), str(head.hash)

    @classmethod
    def lock_head(cls, conn: Connection) -> tuple[int, str]:
        """``lock``, then the chain's head as it is under the lock (for ``append_many``): one round trip
        on PostgreSQL. The head row is read FOR UPDATE, so however the two are ordered in the plan the
        newest committed head is returned (READ COMMITTED rereads a row locked after a concurrent
        update), and the advisory lock keeps every other appender out until this transaction ends."""
        if conn.dialect.name != "postgresql":
            cls.lock(conn)
            return cls._read_head(conn)
        row = conn.execute(_LOCK_HEAD, {"key": _PG_LOCK_KEY}).one()
        return int(row.seq), str(row.hash)

    @staticmethod
    def lock(conn: Connection) -> None:
        """Serialise appends until the transaction ends (taking it again in one transaction is harmless)."""
        dialect = conn.dialect.name
        if dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        elif dialect == "sqlite" and not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            # pysqlite would open a deferred transaction at the first write; take the write lock now,
            # before reading the head, so two writers cannot both read the same head.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def query(
        self,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, newest first; page back with ``before_id`` (a seq)."""
        query = select(audit_log)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        if since is not None:
            query = query.where(audit_log.c.timestamp >= _utc(since))
        if until is not None:
            query = query.where(audit_log.c.timestamp < _utc(until))
        if before_id is not None:
            query = query.where(audit_log.c.seq < before_id)
        query = query.order_by(audit_log.c.seq.desc()).limit(max(1, min(limit, MAX_QUERY)))
        with transactions.connect(self.engine) as conn:
            return [_entry(row) for row in conn.execute(query)]

    def head(self) -> tuple[int, str]:
        with transactions.connect(self.engine) as conn:
            row = conn.execute(
                select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
            ).first()
        return (int(row.seq), str(row.hash)) if row is not None else (0, GENESIS)

    def rows(self, until: int | None = None) -> Iterator[Any]:
        """Every stored row in seq order (up to seq ``until``, when given), read in batches."""
        after = 0
        while True:
            query = select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(_BATCH)
            if until is not None:
                query = query.where(audit_log.c.seq <= until)
            with transactions.connect(self.engine) as conn:
                batch = conn.execute(query).all()
            yield from batch
            if len(batch) < _BATCH:
                return
            after = int(batch[-1].seq)

    def verify(self) -> VerifyResult:
        """Walk the chain from the first entry up to the head as it is when the walk starts; report the
        first changed, removed or reordered one.

        The chain is verified while it grows: entries appended during the walk (each with the head, in
        one transaction) are left to the next verification, which used to report a live system's chain
        as broken ("the head does not match the last entry"). An entry past the head while the head has
        not moved was written around the appender, and is reported."""
        head_seq, head_hash = self.head()
        result = find_break(lambda: self.rows(until=head_seq), head_seq, head_hash, self._key)
        if result.ok and self._written_past(head_seq) and self.head()[0] == head_seq:
            return replace(
                result,
                ok=False,
                first_bad_id=head_seq + 1,
                problem="changed",
                detail=f"entries after the head (seq {head_seq}) that the head does not record",
            )
        return result

    def _written_past(self, seq: int) -> bool:
        with transactions.connect(self.engine) as conn:
            return (
                conn.execute(select(audit_log.c.seq).where(audit_log.c.seq > seq).limit(1)).first()
                is not None
            )

    def hash_at(self, seq: int) -> str | None:
        """The stored hash of entry ``seq`` (None when there is none)."""
        with transactions.connect(self.engine) as conn:
            value = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar()
        return str(value) if value is not None else None


def _as_dict(fields: _Fields) -> dict[str, Any]:
    return {name: getattr(fields, name) for name in _Fields.__slots__}


class _Row:
    """Attribute access over a dict, so a freshly written row reads like a fetched one."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
