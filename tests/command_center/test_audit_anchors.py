"""The audit chain against the attacks that used to pass `audit verify` (issue 19), on both databases and a
real JetStream: without the key a rewritten chain is caught entry by entry; entries cut off the end with the
head moved back, or a chain rewritten by someone holding the key, are caught by the anchored heads."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import nats
import pytest
from sqlalchemy import delete, select, update

from command_center.security.audit import AuditTrail, audit_head, audit_log
from command_center.security.audit_anchor import Anchors
from command_center.security.audit_chain import chain_hash, payload
from pipeline.adapters.database import make_engine
from pipeline.adapters.streams import audit_anchors_stream_config, ensure_stream
from tests.names import subjects


@pytest.fixture
def trail(database_url: str) -> Iterator[AuditTrail]:
    engine = make_engine(database_url)
    # A key of its own: its anchors are on a subject of their own, whatever else runs on this NATS.
    trail = AuditTrail(engine, secrets.token_bytes(32))
    trail.create_schema()
    for n in range(6):
        trail.record("staff:1:sup", "persons.view", f"cro_person:{n}", reason="FIR 12/2026 enquiry")
    yield trail
    engine.dispose()


def rewrite_from(trail: AuditTrail, seq: int, key: bytes | None) -> None:
    """What an insider does: change entry ``seq`` and recompute every later hash and the head with the
    project's own functions (with the key if they hold it, else plain SHA-256)."""
    with trail.engine.begin() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.seq >= seq).order_by(audit_log.c.seq)).all()
        prev = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == seq - 1)).scalar_one()
        for row in rows:
            values = dict(row._mapping)
            if values["seq"] == seq:
                values["reason"] = "routine check"  # the reason changed after the fact
            digest = chain_hash(prev, payload(values["seq"], type("R", (), values)), key)
            conn.execute(
                update(audit_log)
                .where(audit_log.c.seq == values["seq"])
                .values(reason=values["reason"], prev_hash=prev, hash=digest, keyed=key is not None)
            )
            prev = digest
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=prev))


async def anchored(trail: AuditTrail, nats_url: str) -> tuple[Anchors, nats.NATS]:
    nc = await nats.connect(nats_url)
    await ensure_stream(nc.jetstream(), audit_anchors_stream_config(subjects))
    return Anchors(nc.jetstream(), subjects, trail, trail._key, replica="test"), nc


async def test_entries_cut_off_the_end_are_caught_by_the_anchor(trail: AuditTrail, nats_url: str) -> None:
    anchors, nc = await anchored(trail, nats_url)
    try:
        assert await anchors.publish()
        assert (await anchors.check()).ok
        with trail.engine.begin() as conn:  # delete the last two entries and move the head back
            conn.execute(delete(audit_log).where(audit_log.c.seq >= 5))
            back = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == 4)).scalar_one()
            conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=4, hash=back))
        assert trail.verify().ok, "the rows alone look consistent: this is what used to pass"
        check = await anchors.check()
        assert not check.ok and "removed" in check.describe() and "entry 6" in check.describe()
    finally:
        await nc.drain()


async def test_a_rewritten_chain_without_the_key_fails_entry_by_entry(trail: AuditTrail) -> None:
    rewrite_from(trail, 3, key=None)
    result = trail.verify()
    assert not result.ok and result.first_bad_id == 3


async def test_a_chain_rewritten_with_the_key_is_caught_by_the_anchor(
    trail: AuditTrail, nats_url: str
) -> None:
    anchors, nc = await anchored(trail, nats_url)
    try:
        assert await anchors.publish()
        rewrite_from(trail, 3, key=trail._key)  # an insider holding the key too
        assert trail.verify().ok
        check = await anchors.check()
        assert not check.ok and "changed: entry 6" in check.describe()
    finally:
        await nc.drain()


async def test_anchors_cannot_be_deleted_or_purged(trail: AuditTrail, nats_url: str) -> None:
    anchors, nc = await anchored(trail, nats_url)
    try:
        await anchors.publish()
        js = nc.jetstream()
        last = await js.get_last_msg(subjects.audit_anchors_stream, anchors._subject)
        with pytest.raises(Exception, match=r"(?i)delete|denied|not permitted"):
            await js.delete_msg(subjects.audit_anchors_stream, last.seq)
        with pytest.raises(Exception, match=r"(?i)purge|denied|not permitted"):
            await js.purge_stream(subjects.audit_anchors_stream)
        assert json.loads(last.data or b"{}")["seq"] == 6
    finally:
        await nc.drain()
