"""Scheduled purges: each class of data deleted once its retention (``Settings.retention``) has passed.

Every purge deletes in batches (short transactions: alerts keep flowing meanwhile) and is written to the
audit trail with what it deleted and the cut-off, as ``system:retention``; a purge that finds nothing is not
audited. Deletions are idempotent, so two replicas purging at once delete each row once and can only
overlap in what they report. The audit chain itself is never purged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, exists, select, update
from sqlalchemy.sql.elements import ColumnElement

from command_center.alerts.lifecycle_tables import alert_escalations, alert_transitions
from command_center.alerts.store import CLOSED_STATUSES
from command_center.alerts.tables import alert_evidence, alerts, plate_reads
from command_center.dispatch.tables import dispatches
from command_center.records.tables import checkins
from command_center.security.audit import AuditTrail
from pipeline.adapters import transactions
from pipeline.aio import cancel_and_wait
from pipeline.settings.retention import RetentionSettings

log = logging.getLogger(__name__)

ACTOR = "system:retention"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Purged:
    data: str  # which class
    rows: int
    before: datetime  # the cut-off


class Purger:
    def __init__(
        self,
        engine: Engine,
        retention: RetentionSettings,
        audit: AuditTrail,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._engine = engine
        self._r = retention
        self._audit = audit
        self._clock = clock

    def purge(self) -> list[Purged]:
        """Run every purge whose retention is set; returns what each deleted. Each class is purged in one
        transaction with its audit entry (when it deleted anything): no purge goes unaudited."""
        now = self._clock()
        r = self._r
        steps: list[Callable[[], Purged | None]] = [
            lambda: self._plate_reads(now, r.plate_reads_days, hotlisted=False),
            lambda: self._plate_reads(now, r.hotlisted_plate_reads_days, hotlisted=True),
            lambda: self._checkin_photos(now, r.checkin_photos_days),
            lambda: self._checkins(now, r.checkins_days),
            lambda: self._closed_alert_images(now, r.closed_alert_images_days),
            lambda: self._dismissed_alerts(now, r.dismissed_alerts_days),
        ]
        found = [p for p in map(self._audited, steps) if p is not None]
        for p in found:
            if p.rows:
                log.info("retention: %d %s older than %s deleted", p.rows, p.data, p.before.isoformat())
        return found

    def _audited(self, step: Callable[[], Purged | None]) -> Purged | None:
        with self._audit.unit():
            p = step()
            if p is not None and p.rows:
                self._audit.record(
                    ACTOR,
                    "retention.purge",
                    f"data:{p.data}",
                    details={"rows": p.rows, "before": p.before.isoformat()},
                    role="system",
                )
        return p

    # -- one class each ------------------------------------------------------------------------------

    def _plate_reads(self, now: datetime, days: int, hotlisted: bool) -> Purged | None:
        if not days:
            return None
        before = now - timedelta(days=days)
        on_list = (
            plate_reads.c.hotlist_entry_id.is_not(None)
            if hotlisted
            else plate_reads.c.hotlist_entry_id.is_(None)
        )
        rows = self._batched(plate_reads.c.id, on_list, plate_reads.c.last_seen < before)
        return Purged("hotlisted_plate_reads" if hotlisted else "plate_reads", rows, before)

    def _checkin_photos(self, now: datetime, days: int) -> Purged | None:
        if not days:
            return None
        before = now - timedelta(days=days)
        rows = 0
        while True:
            with transactions.begin(self._engine) as conn:
                ids = (
                    conn.execute(
                        select(checkins.c.id)
                        .where(checkins.c.photo_jpeg.is_not(None), checkins.c.checked_in_at < before)
                        .limit(self._r.batch)
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    return Purged("checkin_photos", rows, before)
                conn.execute(update(checkins).where(checkins.c.id.in_(ids)).values(photo_jpeg=None))
                rows += len(ids)

    def _checkins(self, now: datetime, days: int) -> Purged | None:
        if not days:
            return None
        before = now - timedelta(days=days)
        return Purged("checkins", self._batched(checkins.c.id, checkins.c.checked_in_at < before), before)

    def _closed_alert_images(self, now: datetime, days: int) -> Purged | None:
        if not days:
            return None
        before = now - timedelta(days=days)
        closed = select(alerts.c.id).where(
            alerts.c.status.in_(sorted(CLOSED_STATUSES)), alerts.c.updated_at < before
        )
        rows = 0
        while True:
            with transactions.begin(self._engine) as conn:
                ids = (
                    conn.execute(
                        select(alert_evidence.c.alert_id)
                        .where(alert_evidence.c.alert_id.in_(closed))
                        .distinct()
                        .limit(self._r.batch)
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    return Purged("closed_alert_images", rows, before)
                done = conn.execute(delete(alert_evidence).where(alert_evidence.c.alert_id.in_(ids)))
                rows += done.rowcount or 0

    def _dismissed_alerts(self, now: datetime, days: int) -> Purged | None:
        if not days:
            return None
        before = now - timedelta(days=days)
        dispatched = exists().where(dispatches.c.alert_id == alerts.c.id)
        rows = 0
        while True:
            with transactions.begin(self._engine) as conn:
                ids = (
                    conn.execute(
                        select(alerts.c.id)
                        .where(alerts.c.status == "dismissed", alerts.c.updated_at < before, ~dispatched)
                        .limit(self._r.batch)
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    return Purged("dismissed_alerts", rows, before)
                # The alert's hits and images go with it (ON DELETE CASCADE); its timeline rows too.
                conn.execute(delete(alert_transitions).where(alert_transitions.c.alert_id.in_(ids)))
                conn.execute(delete(alert_escalations).where(alert_escalations.c.alert_id.in_(ids)))
                rows += conn.execute(delete(alerts).where(alerts.c.id.in_(ids))).rowcount or 0

    def _batched(self, key: Any, *where: ColumnElement[bool]) -> int:
        """Delete the rows matching ``where`` in batches of ``retention.batch``; how many went."""
        table = key.table
        rows = 0
        while True:
            with transactions.begin(self._engine) as conn:
                ids = conn.execute(select(key).where(*where).limit(self._r.batch)).scalars().all()
                if not ids:
                    return rows
                rows += conn.execute(delete(table).where(key.in_(ids))).rowcount or 0


FIRST_PURGE_S = 60.0  # after a start, once the consumers have caught up


def start_purges(purger: Purger, every_s: float, stack: AsyncExitStack) -> None:
    """Purge a minute after start, then every ``every_s`` seconds until ``stack`` closes; a failed purge
    is retried at the next run."""

    async def run() -> None:
        await asyncio.sleep(min(FIRST_PURGE_S, every_s))
        while True:
            try:
                await asyncio.to_thread(purger.purge)
            except Exception:
                log.exception("retention purge failed; retrying at the next run")
            await asyncio.sleep(every_s)

    task = asyncio.create_task(run(), name="retention")

    async def stop() -> None:
        await cancel_and_wait(task)

    stack.push_async_callback(stop)
