"""Verdict statistics: confirmed (resolved) vs false-positive (dismissed) alerts per camera, category or
profile, so that thresholds are tuned, and bias noticed, from evidence rather than impressions.

Counted over alerts opened in ``[since, until)``; alerts without a verdict yet are counted as ``open``.
The false-positive rate is dismissed / (resolved + dismissed), None while nothing has been decided.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, case, func, select

from command_center.alerts.lifecycle import DISMISSED, OPEN, RESOLVED
from command_center.alerts.tables import alerts
from pipeline.adapters import transactions

GroupBy = Literal["camera", "category", "profile"]


@dataclass(frozen=True, slots=True)
class VerdictCount:
    key: str
    label: str
    confirmed: int
    false_positive: int
    open: int

    @property
    def decided(self) -> int:
        return self.confirmed + self.false_positive

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positive / self.decided if self.decided else None


def _count(status: str | Collection[str]) -> Any:
    matches = alerts.c.status == status if isinstance(status, str) else alerts.c.status.in_(sorted(status))
    return func.sum(case((matches, 1), else_=0))


def count_statuses() -> list[Any]:
    """Columns for a grouped query: total, confirmed, false_positive, open."""
    return [
        func.count().label("total"),
        func.coalesce(_count(RESOLVED), 0).label("confirmed"),
        func.coalesce(_count(DISMISSED), 0).label("false_positive"),
        func.coalesce(_count(OPEN), 0).label("open"),
    ]


class VerdictStats:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def count(
        self,
        group_by: GroupBy,
        since: datetime,
        until: datetime,
        districts: Collection[str] | None = None,
    ) -> list[VerdictCount]:
        """One row per group, most decided first."""
        keys: list[Any]
        if group_by == "camera":
            keys = [alerts.c.camera_id]
        elif group_by == "category":
            keys = [alerts.c.category]
        else:
            keys = [alerts.c.kind, alerts.c.profile_id]
        query = (
            select(
                *keys,
                func.max(alerts.c.profile_name).label("name"),
                _count(RESOLVED).label("confirmed"),
                _count(DISMISSED).label("false_positive"),
                _count(OPEN).label("open"),
            )
            .where(alerts.c.created_at >= since, alerts.c.created_at < until)
            .group_by(*keys)
        )
        if districts is not None:
            query = query.where(alerts.c.district.in_(sorted(districts)))
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(query).all()
        found = [_row(group_by, row) for row in rows]
        return sorted(found, key=lambda c: (-c.decided, -c.open, c.key))


def _row(group_by: GroupBy, row: Any) -> VerdictCount:
    if group_by == "camera":
        key = label = str(row.camera_id)
    elif group_by == "category":
        key = label = str(row.category)
    else:
        key, label = f"{row.kind}:{row.profile_id}", str(row.name)
    return VerdictCount(
        key=key,
        label=label,
        confirmed=int(row.confirmed or 0),
        false_positive=int(row.false_positive or 0),
        open=int(row.open or 0),
    )
