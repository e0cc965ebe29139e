"""What a message the command centre stores may carry, checked when it is read off the bus.

Timestamps a database holds in any backend, integers of 64 bits, no NUL (PostgreSQL refuses it), text and
images of sane sizes. A message outside these can never be stored: consumers dead-letter it at once instead
of retrying it for ever (``command_center.admin.deadletters``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Self

from pydantic import BaseModel, model_validator

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # the Unix epoch: every clock and conversion handles it
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_INT = 2**63 - 1
MAX_DB_ID = 2**31 - 1  # ids stored in INTEGER columns
MAX_TEXT = 4_000
MAX_IMAGE_BYTES = 4_000_000
CAMERA_ID = r"^[A-Za-z0-9_-]{1,64}$"  # what a subject token may be (pipeline.subjects)


def _storable(value: object, where: str) -> None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        if not EARLIEST <= moment < LATEST:
            raise ValueError(f"{where}: {value.isoformat()} is outside {EARLIEST.year}-{LATEST.year - 1}")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -MAX_INT <= value <= MAX_INT:
            raise ValueError(f"{where}: {value} does not fit 64 bits")
    elif isinstance(value, str):
        if len(value) > MAX_TEXT or "\x00" in value:
            raise ValueError(f"{where}: text of {len(value)} characters, or with a NUL, cannot be stored")
    elif isinstance(value, bytes):
        if len(value) > MAX_IMAGE_BYTES:
            raise ValueError(f"{where}: {len(value)} bytes; at most {MAX_IMAGE_BYTES}")
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _storable(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _storable(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(item, f"{where}.{key}")


class Storable(BaseModel):
    """A message the command centre stores: every field must fit the database (``_storable``)."""

    @model_validator(mode="after")
    def _fits_the_database(self) -> Self:
        for name in type(self).model_fields:
            _storable(getattr(self, name), name)
        return self
