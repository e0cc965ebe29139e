"""Log lines as JSON objects (one per line) carrying camera and event ids, or as plain text.

Ids come from ``extra=`` (``log.info("...", extra={"camera_id": cid, "event_id": str(eid)})``); any
extra field is kept. A camera's own threads are named ``source-<camera>`` and ``analyse-<camera>``
(one thread owns a camera), so their lines get ``camera_id`` without every call having to pass it.
Every line goes through ``camera_credentials.redact``: a URL's credentials, or a camera password read by
this process, never reach a log, whoever wrote the message (FFmpeg, a library, a traceback).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from pipeline.camera_credentials import redact

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}  # uvicorn's ANSI-coloured copy of the message
)
_CAMERA_THREAD = re.compile(r"^(?:source|analyse)-(?P<camera>[A-Za-z0-9_-]{1,64})$")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "camera_id"?, "event_id"?, ..., "exc"?}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        match = _CAMERA_THREAD.match(record.threadName or "")
        if match:
            out["camera_id"] = match["camera"]
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                value = _jsonable(value)
                out[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger: message [camera_id=... event_id=...]`` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        match = _CAMERA_THREAD.match(record.threadName or "")
        if match and "camera_id" not in fields:
            fields["camera_id"] = match["camera"]
        if fields:
            text += " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]"
        return redact(text)


def configure_logging(level: str, fmt: Literal["json", "text"]) -> None:
    """Root logging for a safecity process: one handler on stderr.

    Like ``logging.basicConfig`` it does nothing when the root logger has handlers already (a host
    such as pytest owns logging then), so calling it twice never doubles the lines.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler])
