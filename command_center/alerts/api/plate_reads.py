"""The ANPR read log: where and when a vehicle was read by a camera (investigations).

A search of the log traces a vehicle's movements, so it needs both ``vehicles:read`` and
``alerts:read`` (operators, supervisors, admins; not patrol officers), a stated reason, and is written
to the audit trail before anything is returned. District-scoped roles see reads of their districts'
cameras only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel

from command_center.api.deps import ServicesDep, require
from command_center.security.api.auditing import AuditorDep, ReasonQuery
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.settings import CAMERA_ID_PATTERN

router = APIRouter(prefix="/plates", tags=["plates"])

MAX_PAGE = 500
Investigator = Annotated[Principal, require(Permission.VEHICLES_READ, Permission.ALERTS_READ)]
# A plate, or a prefix/pattern with '*' for any run of characters: LEA12*, *1234.
PlatePattern = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9*][A-Za-z0-9* -]{0,15}$",
        description="Plate text; '*' matches any characters (LEA-12*)",
    ),
]


class PlateReadView(BaseModel):
    read_id: uuid.UUID
    camera_id: str
    plate: str
    display: str
    country: str | None
    confidence: float
    frames_read: int
    first_seen: datetime
    last_seen: datetime
    hotlist_entry_id: int | None
    crop: str


def _key(pattern: str) -> str:
    return "".join(ch for ch in pattern.upper() if ch.isalnum() or ch == "*")


@router.get("/reads", response_model=list[PlateReadView])
async def search_reads(
    services: ServicesDep,
    principal: Investigator,
    auditor: AuditorDep,
    reason: ReasonQuery,
    plate: PlatePattern = None,
    camera_id: Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[PlateReadView]:
    """Reads newest first, by plate (exact or with '*'), camera and time range."""
    key = _key(plate) if plate is not None else None
    if key is not None and not key.strip("*"):
        raise HTTPException(422, "the plate pattern needs at least one letter or digit")
    if plate is None and camera_id is None:
        raise HTTPException(422, "give a plate (pattern) or a camera_id")
    filters = {"plate": key, "camera_id": camera_id, "since": since, "until": until}
    await auditor.record(
        "plates.search_reads",
        f"plate:{key or '*'}",
        reason=reason,
        details={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in filters.items()},
    )
    rows = await run_in_threadpool(services.plate_reads.log.sightings, key, camera_id, since, until, limit)
    districts = services.cameras.districts
    return [
        PlateReadView(
            read_id=row["read_id"],
            camera_id=row["camera_id"],
            plate=row["plate_key"],
            display=row["display"],
            country=row["country"],
            confidence=row["confidence"],
            frames_read=row["frames_read"],
            first_seen=row["first_seen"],
            last_seen=row["last_seen"],
            hotlist_entry_id=row["hotlist_entry_id"],
            crop=f"/plates/reads/{row['read_id']}/crop",
        )
        for row in rows
        if principal.sees_district(districts.get(row["camera_id"], ""))
    ]


@router.get(
    "/reads/{read_id}/crop",
    responses={200: {"content": {"image/jpeg": {}}, "description": "The plate crop"}},
    response_class=Response,
)
async def read_crop(
    read_id: Annotated[uuid.UUID, Path(description="The read's id")],
    services: ServicesDep,
    principal: Investigator,
) -> Response:
    jpeg = await run_in_threadpool(services.plate_reads.log.crop, read_id)
    camera = await run_in_threadpool(services.plate_reads.log.camera_of, read_id)
    districts = services.cameras.districts
    if jpeg is None or camera is None or not principal.sees_district(districts.get(camera, "")):
        raise HTTPException(404, f"no plate read {read_id}")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
