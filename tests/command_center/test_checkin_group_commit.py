"""The audit chain's group commit under load, on both databases: check-ins and their audit entries
posted by two processes at once stay one linear, verifiable chain, and a process killed (SIGKILL) in
the middle of a burst loses no acknowledged check-in and leaves no check-in without its entry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import select

from command_center.records import tables as t
from command_center.security.apikeys import ApiKeyStore
from command_center.security.audit import AuditTrail, audit_log
from pipeline.adapters.database import make_engine
from tests.services import TEST_SECURITY

REPO = Path(__file__).resolve().parents[2]


def _setup(url: str) -> tuple[AuditTrail, int]:
    engine = make_engine(url)
    trail = AuditTrail(engine, TEST_SECURITY["audit_key"].encode())
    trail.create_schema()
    keys = ApiKeyStore(engine, TEST_SECURITY["api_key_pepper"])
    hotel = keys.create_hotel("Burst Inn", f"LIC-{uuid.uuid4().hex[:8]}", "1 Mall Road", "Lahore", 31.5, 74.3)
    return trail, int(hotel.id)


def _burst(url: str, hotel_id: int, count: int, concurrency: int = 16) -> subprocess.Popen[str]:
    tag = f"B{uuid.uuid4().hex[:6]}"
    args = [sys.executable, "-m", "tests.command_center.checkin_burst", url, str(hotel_id), tag]
    return subprocess.Popen(
        [*args, str(count), str(concurrency)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )


def _stored(trail: AuditTrail, hotel_id: int) -> tuple[set[int], dict[int, int]]:
    """Ids of the hotel's check-ins, and each audited check-in's number of ``checkins.post`` entries."""
    with trail.engine.connect() as conn:
        ids = {
            int(r.id) for r in conn.execute(select(t.checkins.c.id).where(t.checkins.c.hotel_id == hotel_id))
        }
        targets = conn.execute(
            select(audit_log.c.target, audit_log.c.details).where(audit_log.c.action == "checkins.post")
        ).all()
    entries: dict[int, int] = {}
    for target, details in targets:
        if f'"hotel_id":{hotel_id},' in details:
            checkin_id = int(target.removeprefix("checkin:"))
            entries[checkin_id] = entries.get(checkin_id, 0) + 1
    return ids, entries


def test_a_burst_from_two_processes_keeps_one_verifiable_chain(database_url: str) -> None:
    trail, hotel_id = _setup(database_url)
    first, second = _burst(database_url, hotel_id, 120), _burst(database_url, hotel_id, 120)
    acked: list[int] = []
    for proc in (first, second):
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0
        acked += [int(line) for line in out.split() if line.isdigit()]
    assert len(acked) == len(set(acked)) == 240
    ids, entries = _stored(trail, hotel_id)
    assert ids == set(acked)
    assert entries == dict.fromkeys(acked, 1)  # each check-in exactly one entry, none without
    result = trail.verify()
    assert result.ok, result
    seqs = [e.seq for e in trail.query(action="checkins.post", limit=500)]
    assert len(seqs) == 240 and len(set(seqs)) == 240


def test_a_process_killed_mid_burst_loses_no_acknowledged_checkin(database_url: str) -> None:
    trail, hotel_id = _setup(database_url)
    proc = _burst(database_url, hotel_id, 5000)
    assert proc.stdout is not None
    acked: set[int] = set()
    assert proc.stdout.readline().strip() == "ready"
    while len(acked) < 60:  # kill it in full flow: batches are committing and gathering
        line = proc.stdout.readline()
        assert line, "the burst ended before the kill"
        acked.add(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    acked |= {int(line) for line in proc.stdout.read().split() if line.isdigit()}
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    ids, entries = _stored(trail, hotel_id)
    assert acked <= ids  # every acknowledged check-in is stored ...
    assert entries == dict.fromkeys(ids, 1)  # ... and every stored one has its one entry, nothing else
    assert len(ids) < 5000
    assert trail.verify().ok
    again = _burst(database_url, hotel_id, 20)  # the chain goes on after the crash
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and len(out.split()) == 21
    assert trail.verify().ok
