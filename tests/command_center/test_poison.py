"""Poison messages never stall alerts (on real NATS JetStream and both databases): 1,000 hits that can never
be stored are dead-lettered with their errors, a valid hit sent after them is an alert within seconds, the
consumer is ready, and an administrator reads, replays and drops the dead letters."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from nats.aio.client import Client
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError

from command_center.admin.deadletters import DeadLetters, retryable
from pipeline.contracts import FaceHit
from pipeline.settings import Settings
from tests.command_center.helpers import SCRAPER, Served, camera, eventually, hit
from tests.names import subjects

POISON = 1000


def poisoned(cam: str, n: int) -> bytes:
    """A hit that passes JSON parsing but can never be stored: what the issue's attacker sent."""
    body: dict[str, Any] = json.loads(hit(cam, profile_id=7).to_bytes())
    kind = n % 4
    if kind == 0:
        body["captured_at"] = "9999-12-31T23:59:59Z"
    elif kind == 1:
        body["captured_at"] = "0001-01-01T00:00:00Z"
    elif kind == 2:
        body["profile_id"] = 2**70
    else:
        body["camera_id"] = "another-camera"  # the body lies about where it was seen
    body["event_id"] = f"00000000-0000-4000-8000-{n:012d}"
    return json.dumps(body).encode()


async def alerts_of(served: Served, cam: str) -> list[dict[str, Any]]:
    found = (await served.http.get("/alerts", params={"camera_id": cam})).json()
    return list(found["alerts"] if isinstance(found, dict) else found)


async def test_a_valid_hit_behind_a_thousand_poison_hits_is_an_alert_within_seconds(
    served: Served, nc: Client, settings: Settings
) -> None:
    cam = camera()
    js = nc.jetstream()
    for n in range(POISON):
        await js.publish(subjects.hits("face", cam), poisoned(cam, n), stream=subjects.hits_stream)
    sent = time.monotonic()
    await js.publish(
        subjects.hits("face", cam), hit(cam, profile_id=8).to_bytes(), stream=subjects.hits_stream
    )
    [alert] = await eventually(lambda: alerts_of(served, cam), 30)
    took = time.monotonic() - sent
    assert alert["profile_id"] == 8
    assert took <= 5.0, f"the valid hit waited {took:.1f} s behind the poison"
    print(f"\nvalid hit behind {POISON} poison hits: an alert {took:.2f} s after it was sent")

    letters = DeadLetters(js, subjects)
    mine = [d for d in await letters.list(limit=100_000) if d.original_subject == subjects.hits("face", cam)]
    assert len(mine) == POISON
    errors = [d.error for d in mine]
    assert sum("9999" in e for e in errors) == POISON // 4 and sum("0001" in e for e in errors) == POISON // 4
    assert sum("profile_id" in e for e in errors) == POISON // 4
    assert sum("'another-camera' in a FaceHit" in e for e in errors) == POISON // 4
    assert all(d.consumer == settings.command_center.consumer_name for d in mine)

    async def settled() -> bool:
        info = await js.consumer_info(subjects.hits_stream, settings.command_center.consumer_name)
        return bool(info.num_ack_pending == 0 and info.num_redelivered == 0)

    await eventually(settled, 30)
    ready = await served.anon.get("/readyz")
    assert ready.json()["checks"]["hit_consumer"] == "ok", ready.json()
    metrics = (await served.anon.get("/metrics", headers=SCRAPER)).text
    assert 'safecity_cc_dead_lettered_total{consumer="hits"}' in metrics


async def test_dead_letters_are_read_replayed_and_dropped(served: Served, nc: Client) -> None:
    cam = camera()
    js = nc.jetstream()
    await js.publish(subjects.hits("face", cam), poisoned(cam, 0), stream=subjects.hits_stream)
    valid_later = hit(cam, profile_id=9).to_bytes()  # dead-lettered below as if a bug had refused it
    letters = DeadLetters(js, subjects)

    async def mine() -> list[Any]:
        return [
            d for d in await letters.list(limit=100_000) if d.original_subject == subjects.hits("face", cam)
        ]

    [letter] = await eventually(mine, 15)
    assert "9999" in letter.error
    assert json.loads(letter.data)["captured_at"].startswith("9999")
    dropped = await letters.drop(letter.seq)
    assert dropped.seq == letter.seq and await mine() == []

    # A message refused by a since-fixed bug is replayed on its subject and becomes an alert.
    ack = await js.publish(subjects.deadletter("hits"), valid_later, headers={
        "Safecity-Original-Subject": subjects.hits("face", cam), "Safecity-Error": "a bug, since fixed",
    })  # fmt: skip
    replayed = await letters.replay(ack.seq)
    assert replayed.original_subject == subjects.hits("face", cam)
    [alert] = await eventually(lambda: alerts_of(served, cam), 15)
    assert alert["profile_id"] == 9


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (DataError("INSERT", {}, Exception("integer out of range")), False),
        (IntegrityError("INSERT", {}, Exception("violates not-null")), False),
        (StatementError("bad value", "INSERT", {}, OverflowError("int too big")), False),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), False),
        (ValueError("naive datetime"), False),
    ],
)
def test_only_failures_that_can_pass_are_retried(exc: BaseException, retry: bool) -> None:
    assert retryable(exc) is retry


@pytest.mark.parametrize(
    "change",
    [
        {"captured_at": "9999-12-31T23:59:59Z"},
        {"frame_sent_at": "1969-12-31T23:59:59Z"},
        {"profile_id": 2**31},
        {"profile_name": "x" * 201},
        {"profile_name": "nul\x00name"},
        {"camera_id": "a camera with spaces"},
        {"track_id": 2**40},
    ],
)
def test_the_hit_contract_refuses_what_no_database_can_store(change: dict[str, Any]) -> None:
    body = {**json.loads(hit("cam-1").to_bytes()), **change}
    with pytest.raises(ValueError):
        FaceHit.from_bytes(json.dumps(body).encode())
