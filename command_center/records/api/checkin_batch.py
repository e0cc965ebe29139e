"""``POST /checkins/batch``: a hotel system posts many guests at once (a night's arrivals, a backlog
after an outage), with the hotel's API key.

The batch is bounded (``records.checkin_batch_max_items`` check-ins, ``records.checkin_batch_max_bytes``
bytes); a batch over the bounds, empty, or not a list is refused whole (413/422 with the reason). Each
item is judged on its own and answered in ``results`` at its index: 201 stored, 200 a repeat of one
stored before (the first acknowledgement: a retried batch is answered as the first one was and stores
nothing twice), 409 its booking reference was used with other details, 403 another hotel's, 422 not a
valid check-in (the reason says which field). Each stored or repeated item has its own
``checkins.post`` audit entry, and the batch one ``checkins.batch`` entry naming what was refused; all
of them commit with the check-ins in one group commit before the answer.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from command_center.api.deps import AuditDep, SettingsDep, require
from command_center.records.api import checkin_ingest as ingest
from command_center.records.api.person_views import CheckinPost
from command_center.records.api.persons import RecordsDep
from command_center.records.checkins import NewCheckin
from command_center.security.api.auditing import audit_failed, client_ip
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.settings import Settings

router = APIRouter(prefix="/checkins", tags=["checkins"])

Hotel = Annotated[Principal, require(Permission.CHECKINS_POST)]
HARD_MAX_ITEMS = 1000  # the schema's bound; the deployment's (settings) is at most this


class CheckinBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checkins: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=HARD_MAX_ITEMS,
        description="The check-ins, each as POST /checkins takes it; judged one by one",
    )


class ItemResult(BaseModel):
    index: int
    status: int = Field(description="201 stored, 200 repeat, 403, 409 or 422 refused")
    id: int | None = None
    received_at: datetime | None = None
    error: str | None = None


class BatchAck(BaseModel):
    results: list[ItemResult]
    created: int
    repeats: int
    refused: int


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _judge(
    items: list[dict[str, Any]], principal: Principal, settings: Settings
) -> tuple[list[tuple[int, NewCheckin]], dict[int, ItemResult]]:
    """The valid items (with their index) and the refused ones' results (blocking: photos)."""
    valid: list[tuple[int, NewCheckin]] = []
    refused: dict[int, ItemResult] = {}
    for index, raw in enumerate(items):
        try:
            body = CheckinPost.model_validate(raw)
            ingest.own_hotel(principal, body.hotel_id)
            valid.append((index, ingest.prepare(body, settings)))
        except ValidationError as exc:
            refused[index] = ItemResult(index=index, status=422, error=_reason(exc))
        except HTTPException as exc:
            refused[index] = ItemResult(index=index, status=exc.status_code, error=str(exc.detail))
    return valid, refused


def _bounded(request: Request, batch: CheckinBatch, settings: Settings) -> None:
    limits = settings.records
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limits.checkin_batch_max_bytes:
        raise HTTPException(413, f"the batch is over {limits.checkin_batch_max_bytes} bytes; split it")
    if len(batch.checkins) > limits.checkin_batch_max_items:
        raise HTTPException(
            422, f"checkins: at most {limits.checkin_batch_max_items} per batch ({len(batch.checkins)} sent)"
        )


@router.post("/batch", response_model=BatchAck)
async def post_checkin_batch(
    batch: CheckinBatch,
    principal: Hotel,
    trail: AuditDep,
    records: RecordsDep,
    settings: SettingsDep,
    request: Request,
) -> BatchAck:
    """Many check-ins of the key's hotel at once; per-item results, each item audited; safe to retry."""
    _bounded(request, batch, settings)
    poster = ingest.Poster(principal, ingest.own_hotel(principal, None), client_ip(request))
    if any(isinstance(item, dict) and item.get("photo_jpeg") for item in batch.checkins):
        valid, results = await asyncio.to_thread(_judge, batch.checkins, principal, settings)
    else:
        valid, results = _judge(batch.checkins, principal, settings)
    summary: dict[str, object] = {
        "items": len(batch.checkins),
        "refused": {str(i): r.error for i, r in results.items()},
    }
    try:
        stored = await ingest.store(
            trail, records, poster, [c for _, c in valid], batch=True, summary=summary
        )
    except SQLAlchemyError:
        raise audit_failed() from None
    for (index, _), outcome in zip(valid, stored, strict=True):
        if outcome.ack is None:
            results[index] = ItemResult(index=index, status=409, error=str(outcome.error))
        else:
            status = 201 if outcome.created else 200
            ack = outcome.ack
            results[index] = ItemResult(index=index, status=status, id=ack.id, received_at=ack.received_at)
    ordered = [results[i] for i in range(len(batch.checkins))]
    return BatchAck(
        results=ordered,
        created=sum(r.status == 201 for r in ordered),
        repeats=sum(r.status == 200 for r in ordered),
        refused=sum(r.status >= 400 for r in ordered),
    )
