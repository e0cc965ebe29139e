"""Recording to the audit trail from any router: who (principal), from where (client address), what.

Routes take ``AuditorDep`` and call ``await auditor.record(action, target, reason=..., details=...)``;
the actor, role and IP address are filled in from the request. Reads record *before* data is returned,
so a failure to audit fails the request (no unaudited view). A request that may change something (any
method but GET and HEAD) runs in one unit of work (``pipeline.adapters.transactions``): what its stores
write and its audit entries commit together when the route returns, and nothing is kept when it fails,
the audit write included (then 503).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from sqlalchemy.exc import SQLAlchemyError

from command_center.api.deps import AuditDep, CurrentPrincipal
from command_center.security.audit import AuditEntry, AuditTrail
from command_center.security.principal import Principal
from pipeline.adapters import transactions

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

# The same rule for a reason sent as a form field beside an upload (a photo or a fingerprint to search).
ReasonForm = Annotated[
    str,
    Form(min_length=MIN_REASON, max_length=MAX_REASON, pattern=r"\S", description="Case/FIR or enquiry"),
]

# The same rule for a reason given in a request body (a verdict, a change of an account, ...).
ReasonText = Annotated[str, Field(min_length=MIN_REASON, max_length=MAX_REASON, pattern=r"\S")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


_READS = frozenset({"GET", "HEAD"})


def audit_failed() -> HTTPException:
    return HTTPException(503, "the audit trail could not be written, so nothing was done; try again")


class Auditor:
    def __init__(self, trail: AuditTrail, principal: Principal, ip: str | None) -> None:
        self.trail = trail
        self.principal = principal
        self.ip = ip

    async def record(
        self, action: str, target: str, *, reason: str | None = None, details: dict[str, Any] | None = None
    ) -> AuditEntry:
        """Audit within the request's unit of work (a change), or on its own (a view)."""
        try:
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
        except SQLAlchemyError:
            raise audit_failed() from None

    async def refusal(
        self, action: str, target: str, *, reason: str | None = None, details: dict[str, Any] | None = None
    ) -> AuditEntry:
        """Audit a refused change, which is kept though the request fails: whatever the request wrote
        is rolled back first, then the refusal is recorded on its own."""
        found = transactions.current(self.trail.engine)
        if found is not None:
            await run_in_threadpool(found.finish, False)
        return await self.record(action, target, reason=reason, details=details)


async def get_auditor(
    request: Request, trail: AuditDep, principal: CurrentPrincipal
) -> AsyncIterator[Auditor]:
    auditor = Auditor(trail, principal, client_ip(request))
    if request.method in _READS:
        yield auditor
        return
    committing = False
    try:
        async with trail.unit_async():
            yield auditor
            committing = True
    except SQLAlchemyError:
        if committing:
            raise audit_failed() from None
        raise


# The request's unit of work ends when the route returns, before the response is sent.
AuditorDep = Annotated[Auditor, Depends(get_auditor, scope="function")]
