"""Statistics for tuning: verdicts (confirmed vs false positive) per camera, category or profile.

Needs ``stats:read``; district-scoped roles count only their districts' alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel

from command_center.alerts.api.alerts import district_scope
from command_center.alerts.verdicts import GroupBy, VerdictCount, VerdictStats
from command_center.api.deps import ServicesDep
from command_center.dispatch.api.dispatch_deps import StatsReader
from pipeline.types import fields_of

router = APIRouter(prefix="/stats", tags=["statistics"])

DEFAULT_DAYS = 30
MAX_SPAN = timedelta(days=3 * 366)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class VerdictGroup(BaseModel):
    key: str
    label: str
    confirmed: int
    false_positive: int
    open: int
    decided: int
    false_positive_rate: float | None

    @classmethod
    def of(cls, count: VerdictCount) -> VerdictGroup:
        rate = count.false_positive_rate
        return cls.model_validate(
            {
                **fields_of(count),
                "decided": count.decided,
                "false_positive_rate": round(rate, 4) if rate is not None else None,
            }
        )


class VerdictReport(BaseModel):
    group_by: GroupBy
    since: datetime
    until: datetime
    groups: list[VerdictGroup]
    total: VerdictGroup


@router.get("/verdicts", response_model=VerdictReport)
async def verdicts(
    principal: StatsReader,
    services: ServicesDep,
    group_by: GroupBy = "camera",
    since: Annotated[
        AwareDatetime | None, Query(description="Alerts opened from (default: 30 days ago)")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="Alerts opened before (default: now)")] = None,
) -> VerdictReport:
    """Confirmed (resolved) vs false-positive (dismissed) alerts and the false-positive rate per group."""
    end = (until or datetime.now(UTC)).astimezone(UTC)
    start = (since or end - timedelta(days=DEFAULT_DAYS)).astimezone(UTC)
    if start >= end or start < EARLIEST or end - start > MAX_SPAN:
        raise HTTPException(422, "since must come before until, after 2000, and within three years of it")
    stats = VerdictStats(services.engine)
    counts = await run_in_threadpool(stats.count, group_by, start, end, district_scope(principal))
    total = VerdictCount(
        key="total",
        label="all",
        confirmed=sum(c.confirmed for c in counts),
        false_positive=sum(c.false_positive for c in counts),
        open=sum(c.open for c in counts),
    )
    return VerdictReport(
        group_by=group_by,
        since=start,
        until=end,
        groups=[VerdictGroup.of(c) for c in counts],
        total=VerdictGroup.of(total),
    )
