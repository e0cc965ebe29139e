"""camera_sim's fault API, beside its probes (camera_sim_metrics.py); JSON in and out.

``GET /faults[/<camera>]``            faults scheduled or in effect
``POST /faults/<camera>``             inject one, ``{"kind": "stall", "duration_s": 5}`` (see faults.py)
``DELETE /faults[/<camera>[/<id>]]``  clear all, a camera's, or one

An unknown camera or fault id answers 404, a malformed body 400, an invalid fault 422, each with
``{"error": reason}``.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from camera_sim.faults import ActiveFault, FaultError

_MAX_BODY = 64 * 1024
PREFIX = "/faults"


class FaultControl(Protocol):
    """What the API uses of a CameraSimulator."""

    def inject(self, camera_id: str, data: object) -> ActiveFault: ...

    def faults(self, camera_id: str | None = None) -> list[ActiveFault]: ...

    def clear_faults(self, camera_id: str | None = None, fault_id: int | None = None) -> int: ...


def handle(simulator: FaultControl, environ: dict[str, Any]) -> tuple[str, dict[str, object]]:
    """(HTTP status line, JSON body) of a request under /faults."""
    try:
        return _route(simulator, environ)
    except FaultError as exc:
        return _status(exc.status), {"error": exc.reason}


def _route(simulator: FaultControl, environ: dict[str, Any]) -> tuple[str, dict[str, object]]:
    parts = [p for p in environ.get("PATH_INFO", "")[len(PREFIX) :].split("/") if p]
    method = environ.get("REQUEST_METHOD", "GET")
    if len(parts) > 2 or (len(parts) == 2 and method != "DELETE"):
        raise FaultError("no such path", 404)
    camera_id = parts[0] if parts else None
    if method == "GET":
        now = time.monotonic()
        return _status(200), {"faults": [f.view(now) for f in simulator.faults(camera_id)]}
    if method == "POST":
        if camera_id is None:
            raise FaultError("POST /faults/<camera> with the fault as a JSON object", 405)
        fault = simulator.inject(camera_id, _json_body(environ))
        return _status(201), fault.view(time.monotonic())
    if method == "DELETE":
        fault_id = None
        if len(parts) == 2:
            if not parts[1].isdigit():
                raise FaultError(f"fault ids are numbers, not {parts[1]!r}", 404)
            fault_id = int(parts[1])
        cleared = simulator.clear_faults(camera_id, fault_id)
        if fault_id is not None and not cleared:
            raise FaultError(f"camera {camera_id} has no fault {fault_id}", 404)
        return _status(200), {"cleared": cleared}
    raise FaultError("only GET, POST and DELETE", 405)


def _json_body(environ: dict[str, Any]) -> object:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise FaultError("bad Content-Length") from None
    if length > _MAX_BODY:
        raise FaultError(f"a fault is at most {_MAX_BODY} bytes", 413)
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        return json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FaultError(f"the body is not JSON: {exc}") from None


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    422: "Unprocessable Content",
}


def _status(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'Error')}"
