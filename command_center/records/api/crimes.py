"""Crime reports (M-CCTNS crime mapping): officers report crimes with GPS, type, time and photos
(``crimes:report``); staff search them with a stated reason and read the hotspot grid for the map and
charts (``crimes:read``).

* ``GET /crimes?type=&since=&until=&lat=&lon=&radius_m=&police_station=&fir=&limit=&offset=&reason=``:
  a page of reports, most recent first (``total`` counts every match).
* ``GET /crimes/hotspots?since=&until=&type=&district=&cell_m=500``: reports counted on a grid of
  ``cell_m`` squares, ``{"cell_m", "cells": [{"lat", "lon", "count", "by_type"}], "total"}``, the cell
  centre given. Counts only, no records: audited without a reason.
* ``GET /crimes/stats?group_by=police_station|district|type&since=&until=&type=&district=&format=csv``:
  reports per group with the types within each, ``{"group_by", "groups": [{"key", "count",
  "by_type"}], "total"}``, largest first; counts only, audited without a reason.
* ``GET /crimes/types``: the vocabulary of crime types (``records.crime_types``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, File, HTTPException, Path, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from command_center.api.deps import SettingsDep, require
from command_center.records.api.arrests import CaseworkDep
from command_center.records.api.casework_common import (
    MAX_ID,
    NO_STORE,
    SENT_AGAIN,
    IdempotencyKey,
    call,
    iso,
    key_of,
    not_in_future,
    photo_from_upload,
    staff_only,
)
from command_center.records.api.crime_views import (
    CrimeCreate,
    CrimePage,
    CrimeStats,
    CrimeTally,
    CrimeTypeView,
    CrimeView,
    HotspotCell,
    Hotspots,
    PhotoAdded,
    crime_stats_csv,
)
from command_center.records.crime_types import CRIME_TYPES, TYPE_PATTERN
from command_center.records.crimes import CrimeFilters, Near, NewCrime
from command_center.security import evidence
from command_center.security.api.auditing import AuditorDep, ReasonQuery
from command_center.security.permissions import Permission
from command_center.security.principal import Principal

router = APIRouter(prefix="/crimes", tags=["crime reports"])

MAX_PAGE = 500
MAX_AGE = timedelta(days=5 * 366)  # a report of an older crime is archive work, not mapping
ReportId = Annotated[int, Path(ge=1, le=MAX_ID, description="Crime report id")]
Reader = Annotated[Principal, require(Permission.CRIMES_READ)]
Reporter = Annotated[Principal, require(Permission.CRIMES_REPORT)]
TypeQuery = Annotated[str | None, Query(pattern=TYPE_PATTERN, description="A crime type (GET /crimes/types)")]
When = Annotated[AwareDatetime | None, Query()]


def _window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise HTTPException(422, "until must be after since")


@router.post(
    "",
    status_code=201,
    response_model=CrimeView,
    responses={200: {"model": CrimeView, "description": SENT_AGAIN}},
)
async def report_crime(
    body: CrimeCreate,
    principal: Reporter,
    auditor: AuditorDep,
    casework: CaseworkDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CrimeView:
    """Report a crime at a GPS position; photos follow with ``POST /crimes/{id}/photos``. With an
    ``Idempotency-Key`` the report is stored once: sent again, the first report comes back (200)."""
    officer_id = staff_only(principal)
    occurred_at = not_in_future(body.occurred_at, "occurred_at")
    if occurred_at < datetime.now(UTC) - MAX_AGE:
        raise HTTPException(422, "occurred_at is more than five years ago")
    if body.type == "other" and body.type_detail is None:
        raise HTTPException(422, "type_detail: say what the crime was when the type is 'other'")
    new = NewCrime(
        crime_type=body.type,
        type_detail=body.type_detail,
        occurred_at=occurred_at,
        latitude=body.latitude,
        longitude=body.longitude,
        place=body.place,
        district=body.district,
        police_station=body.police_station,
        fir_number=body.fir_number,
        description=body.description,
        idempotency_key=key_of(idempotency_key),
    )
    report, created = await call(casework.crimes.add, new, officer_id, principal.actor)
    if not created:
        response.status_code = 200
        return CrimeView.of(report)
    details = {
        "type": report.crime_type,
        "fir_number": report.fir_number,
        "police_station": report.police_station,
    }
    await auditor.record("crimes.report", f"crime:{report.id}", details=details)
    return CrimeView.of(report)


@router.get("/types", response_model=list[CrimeTypeView])
async def crime_types(_: Reader) -> list[CrimeTypeView]:
    """The crime types a report can have (``other`` needs ``type_detail``)."""
    return [
        CrimeTypeView(type=key, label=label, description=text) for key, (label, text) in CRIME_TYPES.items()
    ]


@router.get("/hotspots", response_model=Hotspots)
async def hotspots(
    _: Reader,
    auditor: AuditorDep,
    casework: CaseworkDep,
    since: When = None,
    until: When = None,
    type: TypeQuery = None,
    district: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    cell_m: Annotated[int, Query(ge=50, le=50_000, description="Side of a grid cell in metres")] = 500,
) -> Hotspots:
    """Reports counted per grid cell and per type, for the console's map and charts."""
    _window(since, until)
    filters = CrimeFilters(crime_type=type, since=since, until=until, district=district)
    cells, total = await run_in_threadpool(casework.crimes.hotspots, filters, float(cell_m))
    audit = iso({"type": type, "since": since, "until": until, "district": district, "cell_m": cell_m})
    await auditor.record(
        "crimes.hotspots", "crime_reports", details={"filters": audit, "cells": len(cells), "total": total}
    )
    return Hotspots(cell_m=cell_m, cells=[HotspotCell.of(c) for c in cells], total=total)


@router.get(
    "/stats",
    response_model=CrimeStats,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
async def crime_stats(
    _: Reader,
    auditor: AuditorDep,
    casework: CaseworkDep,
    group_by: Literal["police_station", "district", "type"] = "police_station",
    since: When = None,
    until: When = None,
    type: TypeQuery = None,
    district: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    format: Literal["json", "csv"] = "json",
) -> CrimeStats | Response:
    """Reports counted per police station, district or type, with the types within each (M-CCTNS
    "graphs and statistics": crime by area and type). Counts only: audited without a reason."""
    _window(since, until)
    filters = CrimeFilters(crime_type=type, since=since, until=until, district=district)
    tallies, total = await run_in_threadpool(casework.crimes.counts, filters, group_by)
    audit = iso({"type": type, "since": since, "until": until, "district": district})
    await auditor.record(
        "crimes.stats", "crime_reports", details={"group_by": group_by, "filters": audit, "total": total}
    )
    stats = CrimeStats(group_by=group_by, groups=[CrimeTally.of(t) for t in tallies], total=total)
    if format == "csv":
        return Response(
            crime_stats_csv(stats),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="crimes-by-{group_by}.csv"',
                "Cache-Control": "no-store",
            },
        )
    return stats


@router.get("", response_model=CrimePage)
async def search_crimes(
    _: Reader,
    auditor: AuditorDep,
    casework: CaseworkDep,
    reason: ReasonQuery,
    type: TypeQuery = None,
    since: When = None,
    until: When = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_m: Annotated[float | None, Query(gt=0, le=100_000)] = None,
    police_station: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    fir: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> CrimePage:
    """Crime reports, most recent first; the reason is audited. ``lat``, ``lon`` and ``radius_m`` go
    together (an area around a point)."""
    _window(since, until)
    given = [v is not None for v in (lat, lon, radius_m)]
    if any(given) and not all(given):
        raise HTTPException(422, "lat, lon and radius_m go together")
    near = Near(lat, lon, radius_m) if lat is not None and lon is not None and radius_m is not None else None
    filters = CrimeFilters(
        crime_type=type,
        since=since,
        until=until,
        near=near,
        police_station=" ".join(police_station.split()) if police_station else None,
        fir_number=" ".join(fir.split()) if fir else None,
    )
    found, total = await run_in_threadpool(casework.crimes.search, filters, limit, offset)
    audit = iso({"type": type, "since": since, "until": until, "lat": lat, "lon": lon, "radius_m": radius_m})
    audit |= {"police_station": filters.police_station, "fir": filters.fir_number}
    await auditor.record(
        "crimes.search",
        "crime_reports",
        reason=reason,
        details={"filters": audit, "returned": [r.id for r in found]},
    )
    views = [CrimeView.of(r, near.distance_m(r.latitude, r.longitude) if near else None) for r in found]
    return CrimePage(reports=views, total=total, limit=limit, offset=offset)


@router.get("/{report_id}", response_model=CrimeView)
async def get_crime(
    report_id: ReportId, _: Reader, auditor: AuditorDep, casework: CaseworkDep, reason: ReasonQuery
) -> CrimeView:
    report = await call(casework.crimes.require, report_id)
    await auditor.record("crimes.view", f"crime:{report_id}", reason=reason)
    return CrimeView.of(report)


@router.post("/{report_id}/photos", status_code=201, response_model=PhotoAdded)
async def add_crime_photo(
    report_id: ReportId,
    principal: Reporter,
    auditor: AuditorDep,
    casework: CaseworkDep,
    settings: SettingsDep,
    photo: Annotated[UploadFile, File(description="A JPEG or PNG photo of the scene; stored as JPEG")],
) -> PhotoAdded:
    clean = await photo_from_upload(photo, settings)
    photo_id = await call(casework.crimes.add_photo, report_id, clean, principal.actor)
    details = {"photo_id": photo_id, **evidence.stored("crime_photo", (photo_id, clean.jpeg))}
    await auditor.record("crimes.photo_add", f"crime:{report_id}", details=details)
    return PhotoAdded(id=photo_id, url=f"/crimes/{report_id}/photos/{photo_id}")


@router.get(
    "/{report_id}/photos/{photo_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def get_crime_photo(
    report_id: ReportId,
    photo_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    _: Reader,
    auditor: AuditorDep,
    casework: CaseworkDep,
) -> Response:
    data = await run_in_threadpool(casework.crimes.photo, report_id, photo_id)
    if data is None:
        raise HTTPException(404, f"no photo {photo_id} of crime report {report_id}")
    await auditor.record("crimes.photo_view", f"crime:{report_id}", details={"photo_id": photo_id})
    return Response(data, media_type="image/jpeg", headers=NO_STORE)
