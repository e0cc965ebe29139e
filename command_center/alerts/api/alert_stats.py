"""``GET /stats/alerts``: alerts per hour, day, camera, type, category or district, with verdicts and the
false-positive rate of each group, as JSON for the console's charts or as a CSV file to take away.

Needs ``stats:read``; district-scoped roles count only their districts' alerts. Counts carry no personal
data (no names, no images), so, like ``/stats/verdicts``, they are not written to the audit trail.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel

from command_center.alerts.api.alerts import district_scope
from command_center.alerts.stats import AlertCount, AlertStats, StatsGroup
from command_center.api.deps import ServicesDep
from command_center.dispatch.api.dispatch_deps import StatsReader
from pipeline.types import fields_of

router = APIRouter(prefix="/stats", tags=["statistics"])

DEFAULT_DAYS = 7
MAX_SPAN = timedelta(days=3 * 366)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # far enough; keeps day arithmetic away from year 9999
CSV_COLUMNS = ("key", "label", "total", "confirmed", "false_positive", "open", "false_positive_rate")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class AlertGroup(BaseModel):
    key: str
    label: str
    total: int
    confirmed: int
    false_positive: int
    open: int
    false_positive_rate: float | None

    @classmethod
    def of(cls, count: AlertCount) -> AlertGroup:
        rate = count.false_positive_rate
        return cls.model_validate(
            {**fields_of(count), "false_positive_rate": round(rate, 4) if rate is not None else None}
        )


class AlertReport(BaseModel):
    group_by: StatsGroup
    since: datetime
    until: datetime
    tz: str
    groups: list[AlertGroup]
    total: AlertGroup


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(422, f"tz: {name!r} is not a known time zone (e.g. Asia/Karachi, UTC)") from None


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = (until or datetime.now(UTC)).astimezone(UTC)
    start = (since or end - timedelta(days=DEFAULT_DAYS)).astimezone(UTC)
    if start >= end or start < EARLIEST or end > LATEST or end - start > MAX_SPAN:
        raise HTTPException(
            422,
            "since must come before until, both between 2000 and 2100, and within three years of each other",
        )
    return start, end


@router.get(
    "/alerts",
    response_model=AlertReport,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
async def alert_stats(
    principal: StatsReader,
    services: ServicesDep,
    group_by: StatsGroup = "hour",
    since: Annotated[
        AwareDatetime | None, Query(description="Alerts opened from (default: 7 days ago)")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="Alerts opened before (default: now)")] = None,
    tz: Annotated[
        str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$", description="IANA time zone")
    ] = "UTC",
    format: Literal["json", "csv"] = "json",
) -> AlertReport | Response:
    """Alerts opened in the period per group, with confirmed / false positive / open and the rate."""
    zone = _zone(tz)
    start, end = _period(since, until)
    names = {camera.id: camera.name for camera in services.cameras.all() if camera.name}
    stats = AlertStats(services.engine, names)
    counts = await run_in_threadpool(stats.count, group_by, start, end, district_scope(principal), zone)
    total = sum(counts, AlertCount("total", "all", 0, 0, 0, 0))
    report = AlertReport(
        group_by=group_by,
        since=start,
        until=end,
        tz=tz,
        groups=[AlertGroup.of(c) for c in counts],
        total=AlertGroup.of(total),
    )
    if format == "csv":
        filename = f"alerts-by-{group_by}-{start.date().isoformat()}-{end.date().isoformat()}.csv"
        return Response(
            as_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )
    return report


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text that starts like a formula is quoted with '."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def as_csv(report: AlertReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for group in [*report.groups, report.total]:
        writer.writerow([_cell(getattr(group, column)) for column in CSV_COLUMNS])
    return out.getvalue()
