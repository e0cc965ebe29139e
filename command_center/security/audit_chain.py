"""The audit chain's hashing and its verification: find the first entry that is not what was written.

Verification walks the entries in seq order, recomputing each hash from the previous entry's hash and
the entry's own fields. At the first break it says what happened:

- **reordered**: the contents that belong at this position (they hash correctly here) sit at another
  seq, e.g. two rows swapped their contents or their seq numbers;
- **removed**: a seq number is missing, the entry here validates only at a later seq (entries were
  deleted and the rest renumbered), or the head says the chain is longer than what is stored;
- **changed**: anything else, e.g. a field edited in place.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.adapters.database import as_utc

GENESIS = "0" * 64
Problem = Literal["changed", "removed", "reordered"]
_RENUMBER_WINDOW = 10_000  # how far a renumbered entry may have moved


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int  # entries verified intact before the first problem (all of them when ok)
    head_seq: int
    head_hash: str
    first_bad_id: int | None = None  # the seq where the chain first breaks
    problem: Problem | None = None
    detail: str = ""


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


_utc = as_utc  # a naive moment (a date-only input) is taken to be UTC


def payload(seq: int, row: Any) -> str:
    """The canonical serialisation of an entry's fields (``row`` has the audit_log column names)."""
    return canonical_json(
        {
            "seq": seq,
            "timestamp": _utc(row.timestamp).isoformat(timespec="microseconds"),
            "actor": row.actor,
            "role": row.role,
            "ip": row.ip,
            "action": row.action,
            "target": row.target,
            "reason": row.reason,
            "details": row.details,
        }
    )


def chain_hash(prev_hash: str, body: str, key: bytes | None = None) -> str:
    """An entry's link: HMAC-SHA-256 under the audit key (entries since the chain was keyed), or plain
    SHA-256 (the entries written before)."""
    message = f"{prev_hash}\n{body}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _key_of(row: Any, key: bytes) -> bytes | None:
    return key if getattr(row, "keyed", False) else None


def _intact(row: Any, seq: int, prev_hash: str, key: bytes) -> bool:
    digest = chain_hash(prev_hash, payload(seq, row), _key_of(row, key))
    return bool(row.prev_hash == prev_hash and hmac.compare_digest(digest, row.hash))


def find_break(rows: Callable[[], Iterable[Any]], head_seq: int, head_hash: str, key: bytes) -> VerifyResult:
    """Verify the rows ``rows()`` yields in seq order against each other and the head. Once an entry is
    keyed every later one must be: an unkeyed entry after a keyed one is a forgery."""
    prev, expected, keyed = GENESIS, 1, False

    def broken(seq: int, problem: Problem, detail: str) -> VerifyResult:
        return VerifyResult(False, expected - 1, head_seq, head_hash, seq, problem, detail)

    for row in rows():
        downgraded = keyed and not getattr(row, "keyed", False)
        if int(row.seq) == expected and not downgraded and _intact(row, expected, prev, key):
            prev, expected = row.hash, expected + 1
            keyed = keyed or bool(getattr(row, "keyed", False))
            continue
        if downgraded:
            return broken(expected, "changed", f"entry {expected} is not keyed, though earlier entries are")
        problem, detail = _classify(row, expected, prev, rows, key)
        return broken(expected, problem, detail)
    last = expected - 1
    if head_seq > last:
        return broken(
            last + 1, "removed", f"the head records {head_seq} entries but the chain ends at {last}"
        )
    if head_seq != last or head_hash != prev:
        return broken(
            last, "changed", f"the head (seq {head_seq}) does not match the last entry (seq {last})"
        )
    return VerifyResult(True, last, head_seq, head_hash)


def _classify(
    row: Any, expected: int, prev: str, rows: Callable[[], Iterable[Any]], key: bytes
) -> tuple[Problem, str]:
    seq = int(row.seq)
    for other in rows():  # a second pass, only once the chain is known to be broken
        if int(other.seq) == seq:
            continue
        here = chain_hash(prev, payload(expected, other), _key_of(other, key))
        if here in (other.hash, row.hash):
            return "reordered", f"the contents of entry {expected} are stored at seq {other.seq}"
    if seq > expected:
        return "removed", f"entry {expected} is missing (the next stored entry is {seq})"
    own = _key_of(row, key)
    for later in range(expected + 1, seq + _RENUMBER_WINDOW):
        if chain_hash(row.prev_hash, payload(later, row), own) == row.hash:
            return (
                "removed",
                f"entry {expected} holds what was written as entry {later}: entries were removed",
            )
    if chain_hash(row.prev_hash, payload(seq, row), own) != row.hash:
        return "changed", f"entry {seq} does not match its hash: its contents were changed"
    return "changed", f"entry {seq} does not link to entry {expected - 1}: its prev_hash was changed"
