"""Wiring of bulk import jobs in the command centre's lifespan: the store, this replica's runner, and the
relay of every replica's progress announcements to the consoles connected here (``/ws/imports``)."""

from __future__ import annotations

import json
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import ValidationError
from sqlalchemy import Engine

from command_center.alerts.feed import AlertFeed
from command_center.imports.runner import ImportRunner
from command_center.imports.store import ImportJobStore
from command_center.listening import Listening
from pipeline.import_progress import ImportProgress
from pipeline.settings import Settings

log = logging.getLogger(__name__)


class ProgressRelay(Listening):
    """Every replica's ImportProgress, as ``{"type": "import_progress", "job": {...}}`` to this one's
    import consoles (the alert feed's fan-out: bounded queues, a slow client dropped)."""

    def __init__(self, feed: AlertFeed, subject: str) -> None:
        self._feed = feed
        self._subject = subject

    async def _on_message(self, msg: Msg) -> None:
        try:
            progress = ImportProgress.from_bytes(msg.data)
        except ValidationError as exc:
            log.warning("ignored an invalid ImportProgress: %s", exc.errors(include_input=False)[:1])
            return
        self._feed.broadcast(json.dumps({"type": "import_progress", "job": progress.model_dump(mode="json")}))


@dataclass(frozen=True, slots=True)
class ImportServices:
    store: ImportJobStore
    runner: ImportRunner
    feed: AlertFeed  # the consoles watching imports


async def start_imports(
    settings: Settings, engine: Engine, nc: NATS, stack: AsyncExitStack
) -> ImportServices:
    store = ImportJobStore(engine)
    feed = AlertFeed()
    stack.push_async_callback(feed.close)
    relay = ProgressRelay(feed, settings.nats.subjects.import_progress())
    await relay.subscribe(nc)
    stack.push_async_callback(relay.close)
    runner = ImportRunner(settings, engine, nc, store)
    runner.start()
    stack.push_async_callback(runner.close)
    return ImportServices(store, runner, feed)
