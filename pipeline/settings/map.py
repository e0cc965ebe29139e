"""The console map's basemap setting: a raster tile server, or none (the bundled offline outline).

Kept apart from settings.py so the check of the URL template lives beside its type. The console is
served with a Content-Security-Policy that admits images from this URL's origin and no other, so the
value must be a plain http(s) origin with the ``{z}``, ``{x}``, ``{y}`` placeholders Leaflet fills in.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

_PLACEHOLDERS = ("{z}", "{x}", "{y}")
_SAFE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%{}]*$")  # URL characters, no quotes or spaces


def _tile_url(value: str) -> str:
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("map_tile_url must be an http:// or https:// URL (or empty for the offline map)")
    if not _SAFE.match(value):
        raise ValueError("map_tile_url may contain only URL characters (no spaces or quotes)")
    missing = [p for p in _PLACEHOLDERS if p not in value]
    if missing:
        raise ValueError(
            f"map_tile_url must contain {', '.join(missing)} (e.g. https://host/{{z}}/{{x}}/{{y}}.png)"
        )
    return value


def tile_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of a tile URL (what the Content-Security-Policy must admit), or None."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


TileUrl = Annotated[
    str,
    AfterValidator(_tile_url),
    Field(
        max_length=500,
        description="Raster tile URL template for the console map, e.g. "
        "https://tiles.example/{z}/{x}/{y}.png; empty (the default): the bundled offline outline, "
        "no tile server needed.",
    ),
]
