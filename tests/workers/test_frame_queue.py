from __future__ import annotations

import random
import threading

import pytest

from workers.frame_queue import DropOldestQueue
from workers.source import RateGate


def test_full_queue_drops_the_oldest_and_counts() -> None:
    q: DropOldestQueue[int] = DropOldestQueue(2)
    for i in range(5):
        q.put(i)
    assert q.dropped == 3
    assert [q.get(0), q.get(0), q.get(0)] == [3, 4, None]


def test_close_wakes_a_waiting_consumer() -> None:
    q: DropOldestQueue[int] = DropOldestQueue(2)
    got: list[int | None] = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
    t.start()
    q.close()
    t.join(5)
    assert got == [None]
    assert q.closed


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        DropOldestQueue(0)


@pytest.mark.parametrize(
    ("stream_fps", "analysis_fps", "seconds", "expected"),
    [(25, 5, 10, 50), (30, 5, 10, 50), (8, 5, 10, 50), (4, 5, 10, 40), (25, 25, 4, 100), (25, 1, 10, 10)],
)
def test_rate_gate_takes_frames_at_the_analysis_rate(
    stream_fps: int, analysis_fps: float, seconds: int, expected: int
) -> None:
    gate = RateGate(analysis_fps)
    period = 1e9 / stream_fps
    taken = sum(gate.take(int(i * period)) for i in range(stream_fps * seconds))
    assert abs(taken - expected) <= 1


@pytest.mark.parametrize(("stream_fps", "expected"), [(5, 100), (6.25, 100), (25, 100)])
def test_rate_gate_takes_a_jittered_stream_at_the_analysis_rate(stream_fps: float, expected: int) -> None:
    """Frames ±15 ms off their time (a sub-stream sent at the analysis rate, on a loaded network): a
    frame a little early is taken in its turn, not skipped for the next one (94 of 100 were taken at
    5 fps), and the rate taken stays at most the analysis rate."""
    gate = RateGate(5)
    rng = random.Random(7)
    period = 1e9 / stream_fps
    frames = int(stream_fps * 20)
    taken = sum(gate.take(int(i * period + rng.uniform(-15e6, 15e6))) for i in range(1, frames + 1))
    assert expected - 2 <= taken <= expected + 1
