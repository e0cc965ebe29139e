"""Cameras for the console's map and filters, and the map's basemap settings.

Both need ``alerts:read`` (the people who watch the cameras' alerts). District-scoped roles get only
their districts' cameras, as with alerts. A camera's stream URL is never returned: it may carry the
recorder's credentials, and the console has no use for it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from command_center.alerts.api.alerts import AlertReader
from command_center.api.deps import ServicesDep, require
from command_center.security.api.auditing import AuditorDep, ReasonText
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.adapters.fleet import PasswordNotStorable, camera_bytes, open_catalogue, seed_if_empty
from pipeline.camera_health import CameraHealth
from pipeline.settings import CAMERA_ID_PATTERN, CameraConfig

router = APIRouter(tags=["cameras"])

# Where the map opens when no visible camera has a position: Karachi, the demo's city.
DEFAULT_CENTRE = (24.8607, 67.0011)
DEFAULT_ZOOM = 12
OFFLINE_MAX_ZOOM = 18


class CameraView(BaseModel):
    id: str
    name: str
    district: str
    latitude: float | None
    longitude: float | None
    analytics: list[str]
    face_threshold: float | None = None
    health: str = Field("ok", description="ok, or login_refused: the camera refuses its worker's login")
    health_summary: str = Field("", description="What is wrong, for operators (never a password)")

    @classmethod
    def of(cls, camera: CameraConfig, health: CameraHealth | None = None) -> CameraView:
        return cls(
            id=camera.id,
            name=camera.name or camera.id,
            district=camera.district,
            latitude=camera.latitude,
            longitude=camera.longitude,
            analytics=list(camera.analytics),
            face_threshold=camera.face_threshold,
            health=health.state if health is not None else "ok",
            health_summary=health.summary if health is not None else "",
        )


class MapConfig(BaseModel):
    tile_url: str = Field(description="Raster tile URL template; empty: draw the bundled offline outline")
    attribution: str
    max_zoom: int
    centre: tuple[float, float] = Field(description="Latitude, longitude the map opens on")
    zoom: int
    basemap: str = Field(description="The bundled offline outline (GeoJSON), drawn when tile_url is empty")


@router.get("/cameras", response_model=list[CameraView])
async def list_cameras(principal: AlertReader, services: ServicesDep) -> list[CameraView]:
    """The cameras the caller may see (configured, and the fleet's live catalogue), by id."""
    board = services.camera_health
    return [
        CameraView.of(c, board.get(c.id))
        for c in services.cameras.all()
        if principal.sees_district(c.district)
    ]


@router.get("/map/config", response_model=MapConfig)
async def map_config(principal: AlertReader, services: ServicesDep) -> MapConfig:
    """How to draw the basemap, and where to open it (the middle of the caller's cameras)."""
    settings = services.settings
    placed = [
        (c.latitude, c.longitude)
        for c in services.cameras.all()
        if principal.sees_district(c.district) and c.latitude is not None and c.longitude is not None
    ]
    centre = DEFAULT_CENTRE
    if placed:
        centre = (sum(p[0] for p in placed) / len(placed), sum(p[1] for p in placed) / len(placed))
    cc = settings.command_center
    return MapConfig(
        tile_url=cc.map_tile_url,
        attribution=cc.map_attribution,
        max_zoom=OFFLINE_MAX_ZOOM,
        centre=(round(centre[0], 6), round(centre[1], 6)),
        zoom=DEFAULT_ZOOM,
        basemap="/static/vendor/basemap/pakistan.geojson",
    )


class FaceThresholdBody(BaseModel):
    face_threshold: Annotated[float | None, Field(gt=0, lt=1)] = Field(
        description="Every watch list alerts on this camera only at or above this (null: their own)"
    )
    reason: ReasonText


@router.put("/cameras/{camera_id}/face-threshold", response_model=CameraView)
async def set_face_threshold(
    camera_id: Annotated[str, PathParam(pattern=CAMERA_ID_PATTERN)],
    body: FaceThresholdBody,
    principal: Annotated[Principal, require(Permission.WATCHLISTS_MANAGE)],
    services: ServicesDep,
    auditor: AuditorDep,
) -> CameraView:
    """Raise the face threshold on one camera (a record of false alerts, poor light), or clear it.

    Written to the fleet's camera catalogue: the worker analysing the camera picks it up at once. A fleet
    whose catalogue is still empty (no worker started yet) is seeded with the configured cameras first,
    as its first worker would do: one camera alone in the catalogue would hide the others from workers.
    """
    current = services.cameras.get(camera_id)
    if current is None or not principal.sees_district(current.district):
        raise HTTPException(404, f"no camera {camera_id!r}")
    updated = current.model_copy(update={"face_threshold": body.face_threshold})
    js = services.nats.jetstream()
    try:
        value = camera_bytes(updated)
    except PasswordNotStorable as exc:
        raise HTTPException(409, str(exc)) from None
    try:
        kv = await open_catalogue(js, services.settings.nats.subjects, services.settings.worker.fleet)
        await seed_if_empty(kv, list(services.settings.cameras))
        await kv.put(camera_id, value)
    except Exception as exc:
        raise HTTPException(503, f"the camera catalogue (NATS) is unavailable: {exc}") from None
    services.cameras.put(updated)  # this replica answers with it at once; the catalogue watch agrees
    await auditor.record(
        "cameras.face_threshold",
        f"camera:{camera_id}",
        reason=body.reason,
        details={"before": current.face_threshold, "after": body.face_threshold},
    )
    return CameraView.of(updated)
