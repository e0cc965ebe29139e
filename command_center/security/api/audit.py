"""The audit trail for supervisors: query it, verify its chain. Both are themselves audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from command_center.api.deps import AuditDep, ServicesDep, require
from command_center.security import evidence
from command_center.security.api.auditing import AuditorDep
from command_center.security.audit import MAX_QUERY, AuditEntry
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.types import fields_of

router = APIRouter(prefix="/audit", tags=["audit"])

MAX_ID = 2**63 - 1
Auditing = Annotated[Principal, require(Permission.AUDIT_READ)]


class AuditEntryView(BaseModel):
    id: int
    timestamp: datetime
    actor: str
    role: str | None
    ip: str | None
    action: str
    target: str
    reason: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryView:
        return cls.model_validate({**fields_of(entry), "id": entry.seq})


class AuditPage(BaseModel):
    entries: list[AuditEntryView]
    next_before_id: int | None


class VerifyView(BaseModel):
    ok: bool
    checked: int
    head_id: int
    head_hash: str
    first_bad_id: int | None
    problem: str | None
    detail: str
    anchors_ok: bool
    anchors: str
    evidence_ok: bool
    evidence: str


@router.get("", response_model=AuditPage)
async def query_audit(
    _: Auditing,
    trail: AuditDep,
    auditor: AuditorDep,
    actor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    target: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_QUERY)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> AuditPage:
    filters = {"actor": actor, "action": action, "target": target, "since": since, "until": until}
    await auditor.record(
        "audit.query",
        "audit_log",
        details={
            **{k: v for k, v in filters.items() if v is not None},
            "limit": limit,
            "before_id": before_id,
        },
    )
    found = await run_in_threadpool(
        trail.query, actor, action, target, since, until, limit=limit, before_id=before_id
    )
    views = [AuditEntryView.of(e) for e in found]
    return AuditPage(entries=views, next_before_id=views[-1].id if len(views) == limit else None)


@router.get("/verify", response_model=VerifyView)
async def verify_audit(
    _: Auditing, trail: AuditDep, auditor: AuditorDep, services: ServicesDep
) -> VerifyView:
    """The chain checked entry by entry with the audit key, then against the heads anchored in JetStream
    (entries removed from the end, or a chain rewritten by someone holding the key)."""
    result = await run_in_threadpool(trail.verify)
    files = await run_in_threadpool(evidence.check, trail.engine, trail.rows)
    try:
        anchored = await services.anchors.check()
        anchors_ok, anchors_detail = anchored.ok, anchored.describe()
    except Exception as exc:
        anchors_ok, anchors_detail = False, f"the anchors could not be read: {exc}"
    ok = result.ok and anchors_ok and files.ok
    await auditor.record(
        "audit.verify",
        "audit_log",
        details={"ok": ok, "checked": result.checked, "problem": result.problem, "evidence_ok": files.ok},
    )
    return VerifyView(
        ok=ok,
        checked=result.checked,
        head_id=result.head_seq,
        head_hash=result.head_hash,
        first_bad_id=result.first_bad_id,
        problem=result.problem,
        detail=result.detail,
        anchors_ok=anchors_ok,
        anchors=anchors_detail,
        evidence_ok=files.ok,
        evidence=files.describe(),
    )
