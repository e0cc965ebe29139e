"""The audit trail's hash chain on SQLite and PostgreSQL: appends, queries, tamper detection, races."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from command_center.security.audit import GENESIS, AuditTrail
from pipeline.adapters.database import make_engine
from tests.services import AUDIT_KEY


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def trail(engine: Engine) -> AuditTrail:
    trail = AuditTrail(engine, AUDIT_KEY)
    trail.create_schema()
    return trail


def fill(trail: AuditTrail, n: int = 5) -> None:
    for i in range(1, n + 1):
        trail.record(
            f"staff:{i % 2 + 1}:officer",
            "watchlist.view",
            f"watchlist_profile:{i}",
            reason=f"case file {i}",
            details={"n": i, "nested": {"b": 2, "a": 1}},
            ip="10.0.0.7",
            role="supervisor",
        )


def sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def test_entries_chain_and_verify(trail: AuditTrail) -> None:
    assert trail.verify().ok and trail.verify().checked == 0
    fill(trail)
    entries = trail.query(limit=10)
    assert [e.seq for e in entries] == [5, 4, 3, 2, 1], "newest first"
    first = entries[-1]
    assert first.prev_hash == GENESIS and entries[-2].prev_hash == first.hash
    assert first.details == {"n": 1, "nested": {"a": 1, "b": 2}} and first.timestamp.tzinfo is not None
    assert (first.actor, first.role, first.ip, first.reason) == (
        "staff:2:officer",
        "supervisor",
        "10.0.0.7",
        "case file 1",
    )
    result = trail.verify()
    assert result.ok and result.checked == 5 and result.head_seq == 5 and result.head_hash == entries[0].hash


def test_query_filters_and_pages(trail: AuditTrail) -> None:
    fill(trail, 6)
    trail.record("staff:9:clerk", "watchlist.propose_add", "watchlist_profile:1")
    assert [e.seq for e in trail.query(actor="staff:2:officer")] == [5, 3, 1]
    assert [e.seq for e in trail.query(action="watchlist.propose_add")] == [7]
    assert [e.seq for e in trail.query(target="watchlist_profile:1")] == [7, 1]
    assert [e.seq for e in trail.query(limit=2, before_id=5)] == [4, 3]
    now = datetime.now(UTC)
    assert len(trail.query(since=now - timedelta(minutes=1))) == 7
    assert trail.query(until=now - timedelta(minutes=1)) == []
    with pytest.raises(ValueError, match="actor is required"):
        trail.record("", "x", "y")


def test_verify_detects_a_changed_entry(trail: AuditTrail, engine: Engine) -> None:
    fill(trail)
    sql(engine, "UPDATE audit_log SET actor = 'staff:3:someone_else' WHERE seq = 3")
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3 and result.problem == "changed"
    assert result.checked == 2


def test_verify_detects_a_changed_detail_or_link(trail: AuditTrail, engine: Engine) -> None:
    fill(trail)
    sql(engine, "UPDATE audit_log SET details = :d WHERE seq = 4", d='{"n":99}')
    assert (trail.verify().first_bad_id, trail.verify().problem) == (4, "changed")
    sql(engine, "UPDATE audit_log SET details = :d WHERE seq = 4", d='{"n":4,"nested":{"a":1,"b":2}}')
    assert trail.verify().ok, "restoring the exact canonical contents restores the chain"
    sql(engine, "UPDATE audit_log SET prev_hash = :h WHERE seq = 2", h="f" * 64)
    assert (trail.verify().first_bad_id, trail.verify().problem) == (2, "changed")


def test_verify_detects_a_removed_entry(trail: AuditTrail, engine: Engine) -> None:
    fill(trail)
    sql(engine, "DELETE FROM audit_log WHERE seq = 2")
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 2 and result.problem == "removed"


def test_verify_detects_removal_with_renumbering(trail: AuditTrail, engine: Engine) -> None:
    fill(trail)
    sql(engine, "DELETE FROM audit_log WHERE seq = 2")
    for seq in (3, 4, 5):
        sql(engine, "UPDATE audit_log SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)
    sql(engine, "UPDATE audit_head SET seq = 4")
    result = trail.verify()
    assert (result.first_bad_id, result.problem) == (2, "removed")


def test_verify_detects_the_last_entries_cut_off(trail: AuditTrail, engine: Engine) -> None:
    fill(trail)
    sql(engine, "DELETE FROM audit_log WHERE seq >= 4")
    result = trail.verify()
    assert (result.first_bad_id, result.problem, result.checked) == (4, "removed", 3)


class _AppendAfterHead(AuditTrail):
    """A trail whose verification reads the head, and then a live append lands before the walk."""

    def __init__(self, engine: Engine, writer: AuditTrail) -> None:
        super().__init__(engine, AUDIT_KEY)
        self.writer, self.appended = writer, 0

    def head(self) -> tuple[int, str]:
        seen = super().head()
        if not self.appended:
            self.appended = 1
            self.writer.record("staff:9:clerk", "checkins.batch", "hotel:1", details={"n": 1})
        return seen


def test_verify_while_entries_are_appended_is_not_a_break(trail: AuditTrail, engine: Engine) -> None:
    fill(trail)
    result = _AppendAfterHead(engine, trail).verify()
    assert result.ok and result.checked == result.head_seq == 5, result  # the new entry: next time
    assert trail.verify().ok and trail.verify().checked == 6


def test_verify_detects_an_entry_past_a_head_that_did_not_move(trail: AuditTrail, engine: Engine) -> None:
    fill(trail)
    sql(
        engine,
        "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4) WHERE id = 1",
    )
    result = trail.verify()
    assert (result.ok, result.first_bad_id, result.problem, result.checked) == (False, 5, "changed", 4)


COLUMNS = ("timestamp", "actor", "role", "ip", "action", "target", "reason", "details", "prev_hash", "hash")


def _swap(engine: Engine, a: int, b: int, columns: tuple[str, ...]) -> None:
    with engine.begin() as conn:
        rows = {
            seq: conn.execute(
                text(f"SELECT {', '.join(columns)} FROM audit_log WHERE seq = :s"), {"s": seq}
            ).one()
            for seq in (a, b)
        }
        assignments = ", ".join(f"{c} = :{c}" for c in columns)
        for seq, other in ((a, b), (b, a)):
            values = dict(zip(columns, rows[other], strict=True))
            conn.execute(text(f"UPDATE audit_log SET {assignments} WHERE seq = :s"), {**values, "s": seq})


@pytest.mark.parametrize("columns", [COLUMNS, COLUMNS[:-2]], ids=["whole_rows", "contents_only"])
def test_verify_detects_reordered_entries(
    trail: AuditTrail, engine: Engine, columns: tuple[str, ...]
) -> None:
    fill(trail)
    _swap(engine, 2, 4, columns)
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 2 and result.problem == "reordered", result
    assert "seq 4" in result.detail


def test_verify_detects_swapped_seq_numbers(trail: AuditTrail, engine: Engine) -> None:
    fill(trail)
    sql(engine, "UPDATE audit_log SET seq = 1000 WHERE seq = 2")
    sql(engine, "UPDATE audit_log SET seq = 2 WHERE seq = 4")
    sql(engine, "UPDATE audit_log SET seq = 4 WHERE seq = 1000")
    result = trail.verify()
    assert (result.first_bad_id, result.problem) == (2, "reordered")


def test_concurrent_writers_never_fork_the_chain(trail: AuditTrail, database_url: str) -> None:
    """Two 'replicas' (separate engines), four threads each, appending at once."""
    engines = [make_engine(database_url) for _ in range(2)]
    trails = [AuditTrail(e, AUDIT_KEY) for e in engines]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(t: AuditTrail, n: int) -> None:
        try:
            start.wait()
            for i in range(15):
                t.record(f"staff:{n}:w", "test.write", f"thread:{n}:{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(trails[n % 2], n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for e in engines:
        e.dispose()
    assert errors == []
    result = trail.verify()
    assert result.ok, result
    assert result.checked == result.head_seq == 120
