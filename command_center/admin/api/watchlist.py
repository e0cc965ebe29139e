"""Watchlist profiles under four-eyes governance: propose, approve/reject, remove; audited reads.

A records clerk (or anyone with ``watchlist:propose``) proposes an entry with its legal basis; it
matches nothing until someone else with ``watchlist:approve`` approves it, and only then is it
announced to workers. Removal goes the same way. Every change, every profile view and every search
(which must state a reason) is written to the audit trail.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, File, Form, HTTPException, Path, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from command_center.admin.api.watch_lists import visible
from command_center.admin.api.watchlist_views import ProfilePage, ProfileView, image_type, target
from command_center.api.deps import EnrolmentDep, ServicesDep, WatchlistStoreDep, require
from command_center.security.api.auditing import MAX_REASON, Auditor, AuditorDep, ReasonQuery, ReasonText
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.models.registry import ModelError
from watchlist.enrol import EnrolmentError
from watchlist.governance import PENDING, FourEyesError, LegalBasis, ReviewError, Status
from watchlist.review import Decision
from watchlist.store import MAX_NAME_LENGTH, InvalidProfileError, ProfileNotFoundError
from watchlist.tables import MAX_ACTOR_LENGTH, MAX_REFERENCE_LENGTH

router = APIRouter(prefix="/watchlist", tags=["watchlist"])

MAX_PHOTOS = 20
MAX_PAGE = 500
MAX_ID = 2**31 - 1

ProfileId = Annotated[int, Path(ge=1, le=MAX_ID, description="Profile id")]
Reader = Annotated[Principal, require(Permission.WATCHLIST_READ)]
Proposer = Annotated[Principal, require(Permission.WATCHLIST_PROPOSE)]
Approver = Annotated[Principal, require(Permission.WATCHLIST_APPROVE)]
Reason = ReasonText


class ApproveBody(BaseModel):
    reason: Annotated[str | None, Field(max_length=MAX_REASON)] = None


class RejectBody(BaseModel):
    reason: Reason


@router.post("/profiles", status_code=201, response_model=ProfileView)
async def propose_profile(
    principal: Proposer,
    auditor: AuditorDep,
    enrolment: EnrolmentDep,
    store: WatchlistStoreDep,
    name: Annotated[str, Form(min_length=1, max_length=MAX_NAME_LENGTH)],
    category: Annotated[str, Form(min_length=1, max_length=32)],
    legal_reference: Annotated[
        str, Form(min_length=3, max_length=MAX_REFERENCE_LENGTH, description="FIR or warrant reference")
    ],
    authorised_by: Annotated[
        str, Form(min_length=3, max_length=MAX_ACTOR_LENGTH, description="The authorising officer")
    ],
    expires_at: Annotated[datetime, Form(description="When the legal basis lapses (at most five years)")],
    photos: Annotated[list[UploadFile], File(description="One or more photos showing one face each")],
    services: ServicesDep,
    lists: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None,
        Form(max_length=50, description="Watch lists to put it on (default: the list of its category)"),
    ] = None,
) -> ProfileView:
    """Propose an entry; it stays ``pending_add`` (matching nothing) until a second person approves.
    Several photos of the person make a stronger template (each is matched; the best counts)."""
    if len(photos) > MAX_PHOTOS:
        raise HTTPException(422, f"{len(photos)} photos sent; at most {MAX_PHOTOS} per profile")
    for list_id in lists or []:
        await visible(services.watch_lists, list_id, principal)
    basis = LegalBasis(legal_reference, authorised_by, expires_at)
    files = [(photo.filename or f"photo {n}", await photo.read()) for n, photo in enumerate(photos, 1)]
    try:
        result = await enrolment.propose(name, category, files, basis, principal.actor, lists)
    except (EnrolmentError, InvalidProfileError) as exc:
        raise HTTPException(422, str(exc)) from None
    except ModelError as exc:
        raise HTTPException(503, f"face models unavailable: {exc}") from None
    profile = await run_in_threadpool(store.get_profile, result.profile_id)
    assert profile is not None  # rows are never deleted
    await auditor.record(
        "watchlist.propose_add",
        target(profile.id),
        details={
            "name": profile.name,
            "category": profile.category,
            "legal_reference": profile.legal_reference,
            "authorised_by": profile.authorised_by,
            "expires_at": profile.expires_at.isoformat(),
            "photos": profile.photo_count,
            "lists": result.lists,
        },
    )
    return ProfileView.of(profile)


@router.post("/profiles/{profile_id}/approve", response_model=ProfileView)
async def approve_profile(
    profile_id: ProfileId,
    principal: Approver,
    auditor: AuditorDep,
    enrolment: EnrolmentDep,
    store: WatchlistStoreDep,
    body: Annotated[ApproveBody | None, Body()] = None,
) -> ProfileView:
    """Approve the pending add or removal; the approver must not be the proposer (four-eyes)."""
    reason = body.reason if body else None
    decision = await _decide(auditor, "approve", profile_id, enrolment.approve(profile_id, principal.actor))
    await auditor.record(
        f"watchlist.approve_{decision.step}", target(profile_id), reason=reason, details=_of(decision)
    )
    return await _view(store, profile_id)


@router.post("/profiles/{profile_id}/reject", response_model=ProfileView)
async def reject_profile(
    profile_id: ProfileId,
    principal: Approver,
    auditor: AuditorDep,
    enrolment: EnrolmentDep,
    store: WatchlistStoreDep,
    body: RejectBody,
) -> ProfileView:
    """Reject the pending add (-> rejected) or removal (-> active again); a reason is required."""
    decision = await _decide(
        auditor, "reject", profile_id, enrolment.reject(profile_id, principal.actor, body.reason)
    )
    await auditor.record(
        f"watchlist.reject_{decision.step}", target(profile_id), reason=body.reason, details=_of(decision)
    )
    return await _view(store, profile_id)


@router.delete("/profiles/{profile_id}", status_code=202, response_model=ProfileView)
async def propose_removal(
    profile_id: ProfileId,
    principal: Proposer,
    auditor: AuditorDep,
    enrolment: EnrolmentDep,
    store: WatchlistStoreDep,
    reason: ReasonQuery,
) -> ProfileView:
    """Propose removing an active entry; it keeps matching until a second person approves."""
    decision = await _decide(
        auditor, "propose_removal", profile_id, enrolment.propose_removal(profile_id, principal.actor, reason)
    )
    await auditor.record(
        "watchlist.propose_removal", target(profile_id), reason=reason, details=_of(decision)
    )
    return await _view(store, profile_id)


@router.get("/profiles", response_model=ProfilePage)
async def list_profiles(
    _: Reader,
    auditor: AuditorDep,
    store: WatchlistStoreDep,
    reason: ReasonQuery,
    status: Status | None = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> ProfilePage:
    """Search the watchlist; the stated reason is recorded in the audit trail."""
    statuses = [status] if status else None
    try:
        found = await run_in_threadpool(store.list_profiles, limit, offset, category, statuses)
        total = await run_in_threadpool(store.count_profiles, category, statuses)
    except InvalidProfileError as exc:
        raise HTTPException(422, str(exc)) from None
    filters = {"status": status, "category": category, "limit": limit, "offset": offset}
    await auditor.record(
        "watchlist.search",
        "watchlist_profiles",
        reason=reason,
        details={"filters": filters, "returned": [p.id for p in found], "total": total},
    )
    return ProfilePage(profiles=[ProfileView.of(p) for p in found], total=total)


@router.get("/pending", response_model=ProfilePage)
async def pending_profiles(
    _: Approver,
    auditor: AuditorDep,
    store: WatchlistStoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> ProfilePage:
    """Changes waiting for a second pair of eyes, oldest first."""
    found = await run_in_threadpool(store.list_profiles, limit, offset, None, PENDING)
    total = await run_in_threadpool(store.count_profiles, None, PENDING)
    await auditor.record(
        "watchlist.pending_view", "watchlist_profiles", details={"returned": [p.id for p in found]}
    )
    return ProfilePage(profiles=[ProfileView.of(p) for p in found], total=total)


@router.get("/profiles/{profile_id}", response_model=ProfileView)
async def get_profile(
    profile_id: ProfileId, _: Reader, auditor: AuditorDep, store: WatchlistStoreDep, reason: ReasonQuery
) -> ProfileView:
    view = await _view(store, profile_id)
    await auditor.record("watchlist.view", target(profile_id), reason=reason)
    return view


@router.get(
    "/profiles/{profile_id}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
async def get_profile_photo(
    profile_id: ProfileId,
    _: Reader,
    auditor: AuditorDep,
    store: WatchlistStoreDep,
    full: Annotated[bool, Query(description="The whole enrolment photo instead of the face crop")] = False,
) -> Response:
    # Served for removed profiles too: their past alerts still show who was matched.
    data = await run_in_threadpool(store.profile_photo, profile_id, not full)
    if data is None:
        raise HTTPException(404, f"no photo for watchlist profile {profile_id}")
    await auditor.record("watchlist.photo_view", target(profile_id), details={"full": full})
    return Response(data, media_type=image_type(data), headers={"Cache-Control": "private, no-store"})


async def _decide(auditor: Auditor, step: str, profile_id: int, work: Awaitable[Decision]) -> Decision:
    """Await a review step, mapping refusals to 4xx; four-eyes refusals are audited too."""
    try:
        return await work
    except ProfileNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidProfileError as exc:
        raise HTTPException(422, str(exc)) from None
    except FourEyesError as exc:
        await auditor.refusal(f"watchlist.{step}_refused", target(profile_id), details={"why": str(exc)})
        raise HTTPException(exc.code, str(exc)) from None
    except ReviewError as exc:
        raise HTTPException(exc.code, str(exc)) from None


def _of(decision: Decision) -> dict[str, object]:
    return {"status": decision.status.value, "proposed_by": decision.proposed_by}


async def _view(store: WatchlistStoreDep, profile_id: int) -> ProfileView:
    profile = await run_in_threadpool(store.get_profile, profile_id)
    if profile is None:
        raise HTTPException(404, f"no watchlist profile {profile_id}")
    return ProfileView.of(profile)
