"""Kill -9 of the command centre in a burst of hotel check-ins over HTTP, on SQLite and PostgreSQL.

The real command centre (``safecity command-center``, a process of its own) takes check-ins from many
keep-alive connections at once, as hotel systems post them; once some have been acknowledged it is
SIGKILLed with requests still in flight, and started again. Then every check-in that was answered
201 is stored, under its id, with its one ``checkins.post`` audit entry; no check-in is stored without
its entry nor an entry without its check-in; ``safecity audit verify`` passes. The hotel systems then
post everything again, as they do when they got no answer: the acknowledged ones come back 200 with the
first id, the others are stored now, each booking once; the chain verifies again; every check-in is
screened (the ones committed before the crash and never screened included).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from command_center.security.apikeys import ApiKeyStore
from command_center.security.audit import AuditTrail, VerifyResult
from pipeline.adapters.database import make_engine
from tests.e2e.private_servers import PrivateNats
from tests.e2e.procs import Processes, exchange, wait_http, write_system_config
from tests.e2e.test_faults import wait_for
from tests.services import TEST_SECURITY

pytestmark = pytest.mark.e2e

CONCURRENCY = 16
KILL_AFTER = 60  # acknowledgements before the kill: batches are committing and gathering


def _body(tag: str, n: int) -> bytes:
    at = datetime.now(UTC) - timedelta(minutes=5)
    return json.dumps(
        {
            "booking_ref": f"{tag}-{n}",
            "guest_name": "Crash Guest",
            "cnic": f"35202-{n:07d}-1",
            "room": str(100 + n % 800),
            "checked_in_at": at.isoformat(),
        }
    ).encode()


class Hotel:
    """Hotel systems posting over keep-alive HTTP/1.1 connections (raw sockets: no client library
    retries or pools behind the test's back)."""

    def __init__(self, port: int, key: str, tag: str) -> None:
        self.head = (
            f"POST /checkins HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.port = port
        self.tag = tag
        self.bodies: dict[str, bytes] = {}  # booking ref → what was sent (a retry sends the same)

    async def post(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ref: str
    ) -> tuple[int, Any]:
        status, answer = await exchange(reader, writer, self.head, self.bodies[ref])
        return status, json.loads(answer)

    async def burst(self, proc: subprocess.Popen[bytes]) -> dict[str, int]:
        """Post new check-ins from CONCURRENCY connections until the command centre dies; SIGKILL it
        once KILL_AFTER are acknowledged. The acknowledged ones: booking ref → id."""
        acked: dict[str, int] = {}
        numbers = itertools.count()

        async def connection() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                while True:
                    ref = f"{self.tag}-{next(numbers)}"
                    self.bodies[ref] = _body(self.tag, len(self.bodies))
                    status, answer = await self.post(reader, writer, ref)
                    assert status == 201, (status, answer)
                    acked[ref] = int(answer["id"])
                    if len(acked) >= KILL_AFTER and proc.poll() is None:
                        proc.kill()
            except (OSError, asyncio.IncompleteReadError, IndexError):
                return  # the command centre is gone: this request got no answer
            finally:
                writer.close()

        await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
        return acked

    async def post_again(self) -> dict[str, tuple[int, int]]:
        """Every check-in posted again: booking ref → (status, id)."""
        refs = list(self.bodies)
        answers: dict[str, tuple[int, int]] = {}

        async def connection(mine: list[str]) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                for ref in mine:
                    status, answer = await self.post(reader, writer, ref)
                    answers[ref] = (status, int(answer["id"]))
            finally:
                writer.close()

        await asyncio.gather(*(connection(refs[i::CONCURRENCY]) for i in range(CONCURRENCY)))
        return answers


def _stored(database_url: str, hotel_id: int) -> tuple[dict[str, int], Counter[int], int]:
    """The hotel's check-ins (booking ref → id), each check-in's number of first (not repeat)
    ``checkins.post`` entries, and how many of its check-ins are not screened yet."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, booking_ref, screened_at FROM hotel_checkins WHERE hotel_id = :h"),
                {"h": hotel_id},
            ).all()
            entries = conn.execute(
                text("SELECT target, details FROM audit_log WHERE action = 'checkins.post'")
            ).all()
    finally:
        engine.dispose()
    first: Counter[int] = Counter()
    for target, details in entries:
        found = json.loads(details)
        if found["hotel_id"] == hotel_id and not found["repeat"]:
            first[int(target.removeprefix("checkin:"))] += 1
    unscreened = sum(row.screened_at is None for row in rows)
    return {row.booking_ref: int(row.id) for row in rows}, first, unscreened


def _hotel_key(database_url: str, tag: str) -> tuple[int, str]:
    """A hotel and its key, made as ``safecity integrations add-hotel`` / ``issue-key`` make them (in this
    process: each CLI start costs seconds of imports)."""
    engine = make_engine(database_url)
    try:
        keys = ApiKeyStore(engine, str(TEST_SECURITY["api_key_pepper"]))
        hotel = keys.create_hotel(f"Crash Inn {tag}", f"CRASH-{tag}", "1 Mall Road", "Lahore", 31.55, 74.34)
        return int(hotel.id), keys.issue_key(hotel.id, ["checkins:post"], "crash PMS", "test:crash").raw_key
    finally:
        engine.dispose()


def _verified(database_url: str, config: Path) -> VerifyResult:
    engine = make_engine(database_url)
    try:
        key = yaml.safe_load(config.read_text())["security"]["audit_key"]
        return AuditTrail(engine, key.encode()).verify()
    finally:
        engine.dispose()


def test_command_centre_killed_in_a_checkin_burst_keeps_every_acknowledged_checkin(
    tmp_path: Path, database_url: str, private_nats: PrivateNats, redis_url: str, models_dir: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    config, _, port = write_system_config(
        tmp_path, nats_url=private_nats.url, database_url=database_url, models_dir=models_dir,
        videos={}, tag=tag, redis_url=redis_url,
    )  # fmt: skip
    procs = Processes(tmp_path, config)
    hotel_id, key = _hotel_key(database_url, tag)
    hotels = Hotel(port, key, tag)
    try:
        cc = procs.start("cc", "command-center")
        wait_http(f"http://127.0.0.1:{port}/readyz", 60, cc)
        acked = asyncio.run(hotels.burst(cc))
        assert cc.wait(10) < 0, "the command centre was not killed"
        stored, first, _ = _stored(database_url, hotel_id)
        in_flight = len(hotels.bodies) - len(acked)
        print(f"\nkill -9 after {len(acked)} acknowledged, {in_flight} in flight, {len(stored)} stored")
        assert in_flight > 0, "the kill did not land mid-burst"
        assert all(stored.get(ref) == checkin_id for ref, checkin_id in acked.items()), "acknowledged, lost"
        assert first == Counter(stored.values()), "a check-in without its one audit entry, or the reverse"
        assert _verified(database_url, config).ok

        again = procs.start("cc-again", "command-center")
        wait_http(f"http://127.0.0.1:{port}/readyz", 60, again)
        answers = asyncio.run(hotels.post_again())
        for ref, checkin_id in acked.items():
            assert answers[ref] == (200, checkin_id), "a repeat of an acknowledged check-in"
        assert all(status in (200, 201) for status, _ in answers.values())
        stored, first, _ = _stored(database_url, hotel_id)
        assert stored == {ref: checkin_id for ref, (_, checkin_id) in answers.items()}  # each booking once
        assert first == Counter(stored.values())
        wait_for(lambda: _stored(database_url, hotel_id)[2] == 0, 30, "every check-in screened", procs)
    finally:
        procs.stop_all()
    verify = procs.run("audit", "verify")  # the whole chain, and its heads anchored in JetStream
    assert verify.returncode == 0, verify.stdout + verify.stderr
