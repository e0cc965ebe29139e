"""Recording to the audit trail from any router: who (principal), from where (client address), what.

Routes take ``AuditorDep`` and call ``await auditor.record(action, target, reason=..., details=...)``;
the actor, role and IP address are filled in from the request. Reads record *before* data is returned,
so a failure to audit fails the request (no unaudited view).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from command_center.api.deps import AuditDep, CurrentPrincipal
from command_center.security.audit import AuditEntry, AuditTrail
from command_center.security.principal import Principal

MIN_REASON = 5
MAX_REASON = 500

# A stated reason, required for every search of records and view of a profile (CJIS: audit of queries).
ReasonQuery = Annotated[
    str,
    Query(
        min_length=MIN_REASON,
        max_length=MAX_REASON,
        pattern=r"\S",
        description="Why you are looking (case/FIR number, enquiry); recorded in the audit trail",
    ),
]

# The same rule for a reason given in a request body (a verdict, a change of an account, ...).
ReasonText = Annotated[str, Field(min_length=MIN_REASON, max_length=MAX_REASON, pattern=r"\S")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class Auditor:
    def __init__(self, trail: AuditTrail, principal: Principal, ip: str | None) -> None:
        self.trail = trail
        self.principal = principal
        self.ip = ip

    async def record(
        self, action: str, target: str, *, reason: str | None = None, details: dict[str, Any] | None = None
    ) -> AuditEntry:
        return await run_in_threadpool(
            self.trail.record,
            self.principal.actor,
            action,
            target,
            reason=reason,
            details=details,
            ip=self.ip,
            role=self.principal.role.value,
        )


def get_auditor(request: Request, trail: AuditDep, principal: CurrentPrincipal) -> Auditor:
    return Auditor(trail, principal, client_ip(request))


AuditorDep = Annotated[Auditor, Depends(get_auditor)]
