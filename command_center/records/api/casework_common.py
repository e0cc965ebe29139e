"""What the casework routers (arrests, missing persons and bodies, crime reports) share: photos in
(base64 in a JSON body, or a multipart upload), store calls mapped to HTTP refusals, the caller as an
officer, and the time rules of a report."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Header, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

from command_center.records.casework_photos import CleanPhoto, clean_photo
from command_center.records.types import PersonNotFoundError, RecordsError
from command_center.security.principal import Principal
from pipeline.settings import Settings
from watchlist.photos import PhotoError

FUTURE_SLACK = timedelta(minutes=10)  # phones' clocks drift
MAX_ID = 2**31 - 1
NO_STORE = {"Cache-Control": "private, no-store"}
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=UUID_PATTERN,
        description="A UUID the phone made for this report: the same key again returns the first record "
        "(200) instead of storing a second one",
    ),
]
SENT_AGAIN = "Sent again with the same Idempotency-Key: the first record"


def key_of(idempotency_key: str | None) -> str | None:
    """The stored form of a key (UUIDs compare lower-case)."""
    return idempotency_key.lower() if idempotency_key else None


async def call(work: Any, *args: Any) -> Any:
    """Run a store call in a thread, mapping its refusals to 404/422."""
    try:
        return await run_in_threadpool(work, *args)
    except PersonNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except RecordsError as exc:
        raise HTTPException(422, str(exc)) from None


async def refusing(work: Any) -> Any:
    """Await a service call, mapping its refusals to 404/422."""
    try:
        return await work
    except PersonNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except RecordsError as exc:
        raise HTTPException(422, str(exc)) from None


def staff_only(principal: Principal) -> int:
    """The staff account id of the caller (arrests and reports name the officer who made them)."""
    if principal.kind != "staff":
        raise HTTPException(403, "only a member of staff can record this")
    return principal.id


async def photo_from_base64(encoded: str, what: str, settings: Settings) -> CleanPhoto:
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, f"{what}: not valid base64") from None
    return await _clean(what, data, settings)


async def photo_from_upload(upload: UploadFile, settings: Settings) -> CleanPhoto:
    data = await upload.read(settings.records.max_photo_bytes + 1)
    return await _clean("photo", data, settings)


async def _clean(what: str, data: bytes, settings: Settings) -> CleanPhoto:
    try:
        return await asyncio.to_thread(clean_photo, what, data, settings)
    except PhotoError as exc:
        raise HTTPException(422, str(exc)) from None


def not_in_future(value: datetime, what: str) -> datetime:
    if value > datetime.now(UTC) + FUTURE_SLACK:
        raise HTTPException(422, f"{what} is in the future: check the device's clock")
    return value.astimezone(UTC)


def both_or_neither(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise HTTPException(422, "give latitude and longitude together, or neither")


def plain(value: Any) -> Any:
    """A value as the audit trail keeps it (JSON)."""
    if isinstance(value, tuple):
        return list(value)
    return value.isoformat() if hasattr(value, "isoformat") else value


def iso(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in filters.items()}
