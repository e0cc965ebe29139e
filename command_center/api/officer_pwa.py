"""The officer app as an installable web app: its manifest and its service worker.

* ``GET /officer.webmanifest``: name, icons, theme colour, ``start_url`` /officer, ``display: standalone``.
* ``GET /officer-sw.js``: the service worker (``static/js/officer/sw.js``) with the app shell it keeps:
  the page, its styles, icons and every script the app imports (found by following the ``import``
  lines from ``main.js``, so a new module is kept without editing a list), and a version that is a hash
  of them all, so a changed file makes a new cache and the phone takes the new app on its next start.

The worker is served from the site's root so it may control ``/officer``; it keeps the shell only,
never an API answer (records stay on the server; what the phone keeps offline is the officer's own queue
and the library documents pinned for offline reading).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from command_center.api.console import STATIC_DIR

router = APIRouter(tags=["console"])

THEME = "#0d1117"
ENTRY = STATIC_DIR / "js" / "officer" / "main.js"
WORKER = STATIC_DIR / "js" / "officer" / "sw.js"
SHELL_FILES = ("officer.html", "console.css", "officer.css", "icons/officer-192.png", "icons/officer-512.png")
IMPORT = re.compile(r"""^\s*import\s[^'"]*['"](\.{1,2}/[^'"]+)['"]""", re.MULTILINE)
NO_CACHE = {"Cache-Control": "no-cache"}

MANIFEST: dict[str, Any] = {
    "name": "safecity officer",
    "short_name": "safecity",
    "description": "Dispatches, reports from the field, searches and the library for patrol officers",
    "id": "/officer",
    "start_url": "/officer",
    "scope": "/officer",
    "display": "standalone",
    "orientation": "portrait",
    "theme_color": THEME,
    "background_color": THEME,
    "icons": [
        {
            "src": f"/static/icons/officer-{size}.png",
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": purpose,
        }
        for size in (192, 512)
        for purpose in ("any", "maskable")
    ],
}


def scripts(entry: Path = ENTRY) -> list[Path]:
    """``entry`` and every module it imports, directly or not (relative imports only)."""
    found: list[Path] = []
    todo = [entry.resolve()]
    while todo:
        module = todo.pop()
        if module in found:
            continue
        found.append(module)
        todo += [(module.parent / name).resolve() for name in IMPORT.findall(module.read_text())]
    return sorted(found)


@functools.cache
def worker_script() -> str:
    """The worker with its shell list and version (computed once: the files ship with the release)."""
    files = [STATIC_DIR / name for name in SHELL_FILES] + scripts()
    urls = ["/officer", "/officer.webmanifest", "/console/config"]
    urls += [f"/static/{f.relative_to(STATIC_DIR).as_posix()}" for f in files if f.name != "officer.html"]
    digest = hashlib.sha256(WORKER.read_bytes() + json.dumps(MANIFEST).encode())
    for f in files:
        digest.update(f.read_bytes())
    head = f"const VERSION = {json.dumps(digest.hexdigest()[:16])};\nconst SHELL = {json.dumps(urls)};\n"
    return head + WORKER.read_text()


@router.get("/officer.webmanifest", include_in_schema=False)
async def manifest() -> Response:
    return Response(json.dumps(MANIFEST), media_type="application/manifest+json", headers=NO_CACHE)


@router.get("/officer-sw.js", include_in_schema=False)
async def service_worker() -> Response:
    return Response(worker_script(), media_type="text/javascript; charset=utf-8", headers=NO_CACHE)
