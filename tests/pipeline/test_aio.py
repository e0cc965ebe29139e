"""A background task is stopped for certain, even one that lost its first cancellations (as a loop does when
Python 3.11's asyncio.wait_for drops a cancellation that came as its inner awaitable finished)."""

from __future__ import annotations

import asyncio

from pipeline.aio import cancel_and_wait


async def test_a_task_that_swallows_cancellations_is_cancelled_until_it_ends() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed == 3:
                    raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, retry_s=0.05), 10)
    assert task.cancelled() and swallowed == 3


async def test_a_task_that_failed_or_ended_is_waited_for_without_raising() -> None:
    async def fails() -> None:
        raise RuntimeError("gone")

    failed = asyncio.create_task(fails())
    await asyncio.wait({failed})
    await cancel_and_wait(failed)
    plain = asyncio.create_task(asyncio.sleep(30))
    await cancel_and_wait(plain)
    assert plain.cancelled()
