"""Watch lists: create (``watchlists:manage``), read and change them under per-list rights, see what their
calibrated thresholds mean and how their alerts were judged.

Every route needs ``watchlist:read``. Beyond the role table, each list says who may see it (``viewers``)
and change it (``editors``); a list the caller may not see answers 404, as if it did not exist, and one
the caller may see but not change answers 403. Every change states a reason and is audited with what it
changed; reading a list's members is a search of the watchlist and is audited with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool

from command_center.admin.api.watch_list_views import (
    CalibrationView,
    ListChangeBody,
    ListPerformance,
    MembersBody,
    NewListBody,
    Similarity,
    Target,
    WatchListView,
    list_target,
)
from command_center.admin.api.watchlist_views import ProfilePage, ProfileView
from command_center.admin.watch_lists import WatchListService
from command_center.alerts.list_verdicts import list_performance
from command_center.api.deps import ServicesDep, WatchlistStoreDep, require
from command_center.security.api.auditing import AuditorDep, ReasonQuery
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from watchlist.list_types import (
    ListConflictError,
    ListNotFoundError,
    Viewer,
    WatchList,
    WatchListError,
    may_edit,
    may_view,
)
from watchlist.lists import ListChange, ListSpec
from watchlist.store import ProfileNotFoundError

router = APIRouter(prefix="/watchlists", tags=["watch lists"])

MAX_ID = 2**31 - 1
MAX_PAGE = 500
MAX_GALLERY = 100_000_000
ListId = Annotated[int, Path(ge=1, le=MAX_ID, description="Watch list id")]
Reader = Annotated[Principal, require(Permission.WATCHLIST_READ)]
Manager = Annotated[Principal, require(Permission.WATCHLIST_READ, Permission.WATCHLISTS_MANAGE)]
T = TypeVar("T")


def viewer(principal: Principal) -> Viewer:
    return Viewer(principal.id if principal.kind == "staff" else None, principal.role.value)


def view(service: WatchListService, w: WatchList, principal: Principal) -> WatchListView:
    return WatchListView.of(w, service.stranger_tracks_per_hour, may_edit(w, viewer(principal)))


async def visible(service: WatchListService, list_id: int, principal: Principal) -> WatchList:
    """The list if the caller may see it; 404 otherwise (whether or not it exists)."""
    try:
        w = await service.get(list_id)
    except ListNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    if not may_view(w, viewer(principal)):
        raise HTTPException(404, f"no watch list with id {list_id}")
    return w


async def editable(service: WatchListService, list_id: int, principal: Principal) -> WatchList:
    w = await visible(service, list_id, principal)
    if not may_edit(w, viewer(principal)):
        raise HTTPException(403, f"you may see watch list {list_id} ({w.name}) but not change it")
    return w


async def _refusals(work: Awaitable[T]) -> T:
    """A list change, with its refusals as 4xx."""
    try:
        return await work
    except (ListNotFoundError, ProfileNotFoundError) as exc:
        raise HTTPException(404, str(exc)) from None
    except ListConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    except (WatchListError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("", response_model=list[WatchListView])
async def list_watch_lists(
    principal: Reader,
    services: ServicesDep,
    archived: Annotated[bool, Query(description="Include archived lists")] = False,
) -> list[WatchListView]:
    """The lists the caller may see, most urgent first, each with its threshold and expectation."""
    service = services.watch_lists
    found = await service.all(archived)
    return [view(service, w, principal) for w in found if may_view(w, viewer(principal))]


@router.post("", status_code=201, response_model=WatchListView)
async def create_watch_list(
    body: NewListBody, principal: Manager, services: ServicesDep, auditor: AuditorDep
) -> WatchListView:
    """A new list; a live one must be able to meet its false-alert target (409 otherwise)."""
    spec = ListSpec(
        name=body.name,
        purpose=body.purpose,
        mode=body.mode,
        priority=body.priority,
        description=body.description,
        cameras=body.cameras,
        districts=body.districts,
        requires_ack=body.requires_ack,
        viewers=body.viewers,
        editors=body.editors,
        target_fpir=body.target_fpir,
        threshold_floor=body.threshold_floor,
    )
    service = services.watch_lists
    change = await _refusals(service.create(spec, principal.actor))
    w = change.watch_list
    await auditor.record("watchlists.create", list_target(w.id), reason=body.reason, details=_summary(change))
    return view(service, w, principal)


@router.get("/{list_id}", response_model=WatchListView)
async def get_watch_list(list_id: ListId, principal: Reader, services: ServicesDep) -> WatchListView:
    service = services.watch_lists
    return view(service, await visible(service, list_id, principal), principal)


@router.patch("/{list_id}", response_model=WatchListView)
async def change_watch_list(
    list_id: ListId, body: ListChangeBody, principal: Reader, services: ServicesDep, auditor: AuditorDep
) -> WatchListView:
    """Change some fields (the list's editors). Going live, or tightening the target of a live list,
    is refused (409) when the target cannot be met at the list's size."""
    service = services.watch_lists
    await editable(service, list_id, principal)
    changes = body.changes()
    if not changes:
        raise HTTPException(422, "nothing to change: give at least one field besides the reason")
    change = await _refusals(service.update(list_id, changes, principal.actor))
    details = _summary(change) | {"changed": {k: [change.before.get(k), v] for k, v in changes.items()}}
    await auditor.record("watchlists.change", list_target(list_id), reason=body.reason, details=details)
    return view(service, change.watch_list, principal)


@router.get("/{list_id}/calibration", response_model=CalibrationView)
async def preview_calibration(
    list_id: ListId,
    principal: Reader,
    services: ServicesDep,
    gallery: Annotated[
        int | None, Query(ge=0, le=MAX_GALLERY, description="Embeddings (default: now)")
    ] = None,
    target_fpir: Annotated[Target | None, Query()] = None,
    threshold_floor: Annotated[Similarity | None, Query()] = None,
) -> CalibrationView:
    """What the list's threshold would be at another size, target or floor: nothing changes."""
    service = services.watch_lists
    await visible(service, list_id, principal)
    calibration = await _refusals(service.preview(list_id, gallery, target_fpir, threshold_floor))
    return CalibrationView.of(calibration, service.stranger_tracks_per_hour)


@router.get("/{list_id}/members", response_model=ProfilePage)
async def list_members(
    list_id: ListId,
    principal: Reader,
    services: ServicesDep,
    store: WatchlistStoreDep,
    auditor: AuditorDep,
    reason: ReasonQuery,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> ProfilePage:
    """The profiles on the list (a search of the watchlist: the reason is audited)."""
    service = services.watch_lists
    await visible(service, list_id, principal)
    ids, total = await _refusals(service.members(list_id, limit, offset))
    found = await run_in_threadpool(store.profiles_by_ids, ids)
    await auditor.record(
        "watchlists.members_view",
        list_target(list_id),
        reason=reason,
        details={"returned": ids, "total": total, "limit": limit, "offset": offset},
    )
    return ProfilePage(profiles=[ProfileView.of(p) for p in found], total=total)


@router.post("/{list_id}/members", response_model=WatchListView)
async def add_members(
    list_id: ListId, body: MembersBody, principal: Reader, services: ServicesDep, auditor: AuditorDep
) -> WatchListView:
    """Put profiles on the list (its editors); its threshold follows its new size."""
    service = services.watch_lists
    await editable(service, list_id, principal)
    change = await _refusals(service.add_members(list_id, body.profile_ids, principal.actor))
    details = _summary(change) | {"added": list(change.profiles), "asked": body.profile_ids}
    await auditor.record("watchlists.add_members", list_target(list_id), reason=body.reason, details=details)
    return view(service, change.watch_list, principal)


@router.delete("/{list_id}/members/{profile_id}", response_model=WatchListView)
async def remove_member(
    list_id: ListId,
    profile_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: Reader,
    services: ServicesDep,
    auditor: AuditorDep,
    reason: ReasonQuery,
) -> WatchListView:
    service = services.watch_lists
    await editable(service, list_id, principal)
    change = await _refusals(service.remove_members(list_id, [profile_id], principal.actor))
    details = _summary(change) | {"removed": list(change.profiles)}
    await auditor.record("watchlists.remove_member", list_target(list_id), reason=reason, details=details)
    return view(service, change.watch_list, principal)


@router.get("/{list_id}/performance", response_model=ListPerformance)
async def performance(
    list_id: ListId,
    principal: Annotated[Principal, require(Permission.WATCHLIST_READ, Permission.STATS_READ)],
    services: ServicesDep,
    days: Annotated[float, Query(gt=0, le=366, description="The period: the last this many days")] = 7,
) -> ListPerformance:
    """The list's alerts per camera over the period, with operators' verdicts, beside what the
    calibration expects: where false alerts run above expectation, raise the list's or the camera's
    threshold. Counts only (no names, no images)."""
    service = services.watch_lists
    w = await visible(service, list_id, principal)
    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    return await run_in_threadpool(
        list_performance,
        services.engine,
        w,
        services.cameras.all(),
        since,
        until,
        service.stranger_tracks_per_hour,
        principal.sees_district,
    )


def _summary(change: ListChange) -> dict[str, object]:
    w = change.watch_list
    return {
        "name": w.name,
        "mode": w.mode.value,
        "members": w.members,
        "threshold": w.threshold,
        "gallery_size": w.gallery_size,
        "revision": change.revision,
    }
