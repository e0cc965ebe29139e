"""A burst of face hits sent as a worker sends them (workers/publisher.py: JetStream, deduplicated by event
id, retried until acknowledged), run on a worker host: ``python -m tests.fleet.burst COUNT PREFIX``.

Hit i names camera ``PREFIX-<i % 10>`` and profile ``1 + i // 10``, so each hit makes an alert of its own.
Prints one line when every hit was acknowledged, and exits 0.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pipeline.adapters.bus import connect
from tests.command_center.helpers import hit
from tests.names import subjects
from workers.publisher import HitPublisher

CAMERAS = 10


async def main(count: int, prefix: str) -> None:
    nc = await connect(os.environ["SAFECITY_NATS_URL"], "fleet-burst")
    done = asyncio.Event()

    def published(_hit: object, _seconds: float) -> None:
        if publisher.published >= count:
            done.set()

    publisher = HitPublisher(nc.jetstream(), subjects, asyncio.get_running_loop(), count, published)
    for i in range(count):
        publisher.submit(hit(f"{prefix}-{i % CAMERAS}", profile_id=1 + i // CAMERAS))
    stop = asyncio.Event()
    run = asyncio.create_task(publisher.run(stop))
    # A worker keeps retrying while it runs (a publisher told to stop gives up at the first failure).
    await done.wait()
    stop.set()
    await run
    print(f"published {publisher.published} dropped {publisher.dropped}", flush=True)
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
