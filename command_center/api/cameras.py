"""Cameras for the console's map and filters, and the map's basemap settings.

Both need ``alerts:read`` (the people who watch the cameras' alerts). District-scoped roles get only
their districts' cameras, as with alerts. A camera's stream URL is never returned: it may carry the
recorder's credentials, and the console has no use for it.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from command_center.api.alerts import AlertReader
from command_center.api.deps import ServicesDep
from pipeline.settings import CameraConfig

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

    @classmethod
    def of(cls, camera: CameraConfig) -> CameraView:
        return cls(
            id=camera.id,
            name=camera.name or camera.id,
            district=camera.district,
            latitude=camera.latitude,
            longitude=camera.longitude,
            analytics=list(camera.analytics),
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
    return [CameraView.of(c) for c in services.cameras.all() if principal.sees_district(c.district)]


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
