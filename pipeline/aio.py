"""Stopping a background task for certain.

Cancelling a task once is not always enough on Python 3.11: ``asyncio.wait_for`` returns the result of an
inner awaitable that finished at the moment of the cancellation and drops the cancellation, so a loop that
checks a dependency with ``wait_for`` carries on as if never told to stop, and whoever awaited it (a service's
shutdown, an application's lifespan) waits for ever. This was seen once: the command centre's health watchdog
kept polling after its cancellation, and the test that stopped the app hung in teardown.
"""

from __future__ import annotations

import asyncio
import contextlib

RETRY_S = 0.5


async def cancel_and_wait(
    task: asyncio.Task[object] | asyncio.Future[object], retry_s: float = RETRY_S
) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling it again every ``retry_s`` while it carries
    on. What it raised on its way out (its cancellation included) is swallowed; a cancellation of the
    caller itself is not."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_s)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
