"""Alert statistics for the console's "graphs and statistics" (M-CCTNS): counts of alerts opened in a
period, per hour of the day, per day, per camera, type, category or district, each with its verdicts.

One row per group carries the total and how many were confirmed (resolved), dismissed as false positives,
or are still open, so one table answers both "how many, where, when" and "how often was it wrong".
Columns group in SQL; time buckets are counted here over the ``created_at`` column alone, because
"hour of the day in Karachi" needs the operator's time zone, which SQLite cannot apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, case, func, select

from command_center.alerts.lifecycle import DISMISSED, OPEN, RESOLVED
from command_center.alerts.tables import alerts
from pipeline.adapters import transactions
from pipeline.adapters.database import as_utc

StatsGroup = Literal["hour", "day", "camera", "kind", "category", "district"]
TIME_GROUPS = frozenset({"hour", "day"})
_COLUMNS = {
    "camera": alerts.c.camera_id,
    "kind": alerts.c.kind,
    "category": alerts.c.category,
    "district": alerts.c.district,
}
_VERDICTS = {RESOLVED: "confirmed", DISMISSED: "false_positive"}


@dataclass(frozen=True, slots=True)
class AlertCount:
    key: str
    label: str
    total: int
    confirmed: int
    false_positive: int
    open: int

    @property
    def false_positive_rate(self) -> float | None:
        """Dismissed / decided; None while nothing in the group has a verdict."""
        decided = self.confirmed + self.false_positive
        return self.false_positive / decided if decided else None

    def __add__(self, other: AlertCount) -> AlertCount:
        return AlertCount(
            key=self.key,
            label=self.label,
            total=self.total + other.total,
            confirmed=self.confirmed + other.confirmed,
            false_positive=self.false_positive + other.false_positive,
            open=self.open + other.open,
        )


def _summed(status: str | Collection[str]) -> Any:
    matches = alerts.c.status == status if isinstance(status, str) else alerts.c.status.in_(sorted(status))
    return func.sum(case((matches, 1), else_=0))


class AlertStats:
    def __init__(self, engine: Engine, camera_names: dict[str, str] | None = None) -> None:
        self._engine = engine
        self._camera_names = camera_names or {}

    def count(
        self,
        group_by: StatsGroup,
        since: datetime,
        until: datetime,
        districts: Collection[str] | None = None,
        tz: ZoneInfo | None = None,
    ) -> list[AlertCount]:
        """Rows for alerts opened in ``[since, until)``: time buckets in order, other groups largest first.

        ``districts`` limits the count to those (None: every district); ``tz`` is where hours and days
        are read (default UTC).
        """
        zone = tz or ZoneInfo("UTC")
        if group_by in TIME_GROUPS:
            return self._by_time(group_by, since, until, districts, zone)
        return self._by_column(group_by, since, until, districts)

    def _where(self, query: Any, since: datetime, until: datetime, districts: Collection[str] | None) -> Any:
        query = query.where(alerts.c.created_at >= since, alerts.c.created_at < until)
        if districts is not None:
            query = query.where(alerts.c.district.in_(sorted(districts)))
        return query

    def _by_column(
        self, group_by: StatsGroup, since: datetime, until: datetime, districts: Collection[str] | None
    ) -> list[AlertCount]:
        column = _COLUMNS[group_by]
        query = select(
            column.label("key"),
            func.count().label("total"),
            _summed(RESOLVED).label("confirmed"),
            _summed(DISMISSED).label("false_positive"),
            _summed(OPEN).label("open"),
        ).group_by(column)
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(self._where(query, since, until, districts)).all()
        found = [
            AlertCount(
                key=str(row.key),
                label=self._label(group_by, str(row.key)),
                total=int(row.total),
                confirmed=int(row.confirmed or 0),
                false_positive=int(row.false_positive or 0),
                open=int(row.open or 0),
            )
            for row in rows
        ]
        return sorted(found, key=lambda c: (-c.total, c.key))

    def _label(self, group_by: StatsGroup, key: str) -> str:
        if group_by == "camera":
            return self._camera_names.get(key) or key
        if group_by == "district" and not key:
            return "(no district)"
        return key

    def _by_time(
        self,
        group_by: StatsGroup,
        since: datetime,
        until: datetime,
        districts: Collection[str] | None,
        zone: ZoneInfo,
    ) -> list[AlertCount]:
        query = select(alerts.c.created_at, alerts.c.status)
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(self._where(query, since, until, districts)).all()
        stamps = ((as_utc(row.created_at).astimezone(zone), str(row.status)) for row in rows)
        if group_by == "hour":
            keys = [f"{hour:02d}" for hour in range(24)]
            return _tally(((f"{at.hour:02d}", status) for at, status in stamps), keys, lambda k: f"{k}:00")
        days = _days(since.astimezone(zone), until.astimezone(zone))
        return _tally(((at.date().isoformat(), status) for at, status in stamps), days, lambda k: k)


def _days(start: datetime, end: datetime) -> list[str]:
    """Every calendar day touched by ``[start, end)``, in order."""
    day, last = start.date(), (end - timedelta(microseconds=1)).date()
    found = []
    while day <= last:
        found.append(day.isoformat())
        day += timedelta(days=1)
    return found


def _tally(pairs: Iterable[tuple[str, str]], keys: list[str], label: Any) -> list[AlertCount]:
    """Counts per key (every key listed, empty ones as zero, so a chart has no gaps)."""
    totals: Counter[str] = Counter()
    verdicts: dict[str, Counter[str]] = {key: Counter() for key in keys}
    for key, status in pairs:
        totals[key] += 1
        bucket = verdicts.setdefault(key, Counter())
        bucket[_VERDICTS.get(status, "open" if status in OPEN else "other")] += 1
    return [
        AlertCount(
            key=key,
            label=label(key),
            total=totals[key],
            confirmed=verdicts[key]["confirmed"],
            false_positive=verdicts[key]["false_positive"],
            open=verdicts[key]["open"],
        )
        for key in keys
    ]
