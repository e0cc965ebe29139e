"""The web pages: the operator console at ``/`` and the officer app at ``/officer`` (scripts, styles and
vendored libraries are under /static). The pages themselves are public; every call they make is not.

Each page is sent with its own Content-Security-Policy: the app-wide one (headers.py), plus the origin
of the configured map tile server in ``img-src`` when there is one, so tiles load from there and
nowhere else. With no tile server the policy is the app-wide one, unchanged.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from command_center.alerts import kinds
from command_center.api.deps import SettingsDep
from command_center.security.headers import CONTENT_SECURITY_POLICY
from pipeline.settings.map import tile_origin

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
IMG_SRC = "img-src 'self' data:"

router = APIRouter(tags=["console"])


def page_policy(tile_url: str) -> str:
    """The Content-Security-Policy of a page that may show tiles from ``tile_url``."""
    origin = tile_origin(tile_url)
    if origin is None:
        return CONTENT_SECURITY_POLICY
    assert IMG_SRC in CONTENT_SECURITY_POLICY, "headers.py changed its img-src; update page_policy"
    return CONTENT_SECURITY_POLICY.replace(IMG_SRC, f"{IMG_SRC} {origin}", 1)


def _page(name: str, settings: SettingsDep) -> FileResponse:
    headers = {
        "Content-Security-Policy": page_policy(settings.command_center.map_tile_url),
        "Cache-Control": "no-cache",
    }
    return FileResponse(STATIC_DIR / name, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/", include_in_schema=False)
async def index(settings: SettingsDep) -> FileResponse:
    return _page("index.html", settings)


@router.get("/officer", include_in_schema=False)
async def officer(settings: SettingsDep) -> FileResponse:
    return _page("officer.html", settings)


class KindName(BaseModel):
    kind: str
    title: str = Field(description="How the pages name the kind of alert")


class PageConfig(BaseModel):
    time_zone: str = Field(description="IANA time zone the pages show times in; empty: the browser's own")
    alert_kinds: list[KindName] = Field(description="Every kind of alert, in order")


@router.get("/console/config", response_model=PageConfig)
async def page_config(settings: SettingsDep) -> PageConfig:
    """What the pages need to know of the deployment before they show anything (public: no secrets)."""
    return PageConfig(
        time_zone=settings.command_center.time_zone,
        alert_kinds=[KindName(kind=k.kind, title=k.title) for k in kinds.check_every_kind()],
    )
