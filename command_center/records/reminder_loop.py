"""Tells investigating officers their case reminders as they fall due (``reminders.py``): every
``records.case_reminder_check_s`` the due reminders are read, each one claimed in ``case_reminders``
(once, across replicas and restarts) and sent as a ``case_reminder`` notice on the officer's own durable
channel (``notices.py``), which the officer app shows under Notices even after a day offline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from command_center.records.notices import FollowNotifier
from command_center.records.reminders import Reminder, ReminderStore
from command_center.records.types import now
from pipeline.contracts import PersonNotice

log = logging.getLogger(__name__)


class ReminderLoop:
    def __init__(self, store: ReminderStore, notifier: FollowNotifier, interval_s: float) -> None:
        self._store = store
        self._notifier = notifier
        self._interval_s = interval_s
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.told = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="case-reminders")

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tell_due()
            except Exception:  # the database or the bus is down: the next round tries again
                log.exception("case reminders not told this round")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval_s)

    async def tell_due(self, at: datetime | None = None) -> int:
        """Tell every reminder due at ``at`` (now) that nobody told yet; returns how many were told."""
        at = at or now()
        told = 0
        for reminder in await asyncio.to_thread(self._store.due, at):
            user = await asyncio.to_thread(
                self._notifier.users.by_government_id, reminder.investigating_officer
            )
            if user is None or not user.active:
                continue
            if not await asyncio.to_thread(self._store.claim, reminder, user.id, at):
                continue
            try:
                await self._notifier.tell(user.government_id, _notice(reminder, user.id), _msg_id(reminder))
            except Exception:
                await asyncio.to_thread(self._store.unclaim, reminder)
                raise
            told += 1
        self.told += told
        return told


def _msg_id(reminder: Reminder) -> str:
    return f"case_reminder:{reminder.case_id}:{reminder.kind}:{reminder.due_at.isoformat()}"


def _notice(reminder: Reminder, officer_id: int) -> PersonNotice:
    return PersonNotice(
        kind="case_reminder",
        officer_id=officer_id,
        person_id=reminder.person_id,
        person_name=reminder.person_name,
        category=reminder.category,
        at=reminder.due_at,
        summary=reminder.summary[:500],
        place=reminder.police_station[:500],
        district=reminder.district or "",
        person_url=f"/persons/{reminder.person_id}",
    )
