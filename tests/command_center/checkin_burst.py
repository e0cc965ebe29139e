"""A burst of hotel check-ins through the audit group appender, run as a process of its own by the tests
(``python -m tests.command_center.checkin_burst URL HOTEL_ID TAG COUNT CONCURRENCY``): each check-in
and its ``checkins.post`` entry are stored as the command centre stores them (``checkin_ingest``), and
the id of each one acknowledged (its commit done) is printed at once, one per line, ``ready`` first."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

from command_center.records.api.checkin_ingest import _store_all
from command_center.records.checkins import CheckinStore, NewCheckin
from command_center.security.audit import AuditTrail
from pipeline.adapters.database import make_engine
from tests.services import TEST_SECURITY


class _Records:
    """What ``_store_all`` needs of the records services."""

    def __init__(self, checkins: CheckinStore) -> None:
        self.checkins = checkins


class _Principal:
    actor = "integration:burst"

    class role:
        value = "hotel"


def guest(tag: str, n: int) -> NewCheckin:
    return NewCheckin(
        booking_ref=f"{tag}-{n}",
        guest_name="Burst Guest",
        cnic=f"{35202:05d}-{n % 10**7:07d}-1",
        phone=None,
        room=str(100 + n % 800),
        guests=1,
        checked_in_at=datetime.now(UTC) - timedelta(minutes=1),
        expected_checkout_at=None,
        photo_jpeg=None,
    )


async def burst(url: str, hotel_id: int, tag: str, count: int, concurrency: int) -> None:
    from command_center.records.api.checkin_ingest import Poster

    engine = make_engine(url)
    trail = AuditTrail(engine, TEST_SECURITY["audit_key"].encode())
    records = _Records(CheckinStore(engine))
    poster = Poster(_Principal(), hotel_id, "127.0.0.1")  # type: ignore[arg-type]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    print("ready", flush=True)

    async def client() -> None:
        while not queue.empty():
            item = guest(tag, queue.get_nowait())
            results = await trail.group.run(lambda item=item: _store_all(records, poster, [item], False))  # type: ignore[misc]
            ack = results[0].ack
            assert ack is not None
            print(ack.id, flush=True)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    trail.close_group()
    engine.dispose()


if __name__ == "__main__":
    url, hotel, tag, count, concurrency = sys.argv[1:6]
    asyncio.run(burst(url, int(hotel), tag, int(count), int(concurrency)))
