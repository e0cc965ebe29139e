"""Staff accounts over HTTP (admins): list, create, view, change role/districts/mobile, disable.

Every change is written to the audit trail with the fields before and after. Disabling an account or
changing its role or districts ends what it has open: its tokens are refused at their next request
(each request re-reads the account) and its live WebSockets are closed on every replica at once
(a SessionRevoked on NATS). The last active admin cannot be disabled or demoted (409).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from nats.aio.client import Client as NATS
from pydantic import BaseModel, ConfigDict, Field

from command_center.api.deps import NatsDep, ServicesDep, require
from command_center.security.api.auditing import AuditorDep, ReasonText
from command_center.security.permissions import STAFF_ROLES, Permission
from command_center.security.principal import Principal
from command_center.security.users import (
    GOVERNMENT_ID_PATTERN,
    DuplicateUserError,
    InvalidUserError,
    LastAdminError,
    StaffUser,
    UserNotFoundError,
    UserStore,
)
from pipeline.adapters import transactions
from pipeline.contracts import SessionRevoked
from pipeline.subjects import Subjects
from pipeline.validators import District, Mobile, PersonName

log = logging.getLogger(__name__)

router = APIRouter(prefix="/users", tags=["users"])

MAX_ID = 2**31 - 1
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="Account id")]
Admin = Annotated[Principal, require(Permission.USERS_MANAGE)]
StaffRole = Annotated[str, Field(json_schema_extra={"enum": sorted(STAFF_ROLES)})]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Body):
    government_id: str = Field(pattern=GOVERNMENT_ID_PATTERN, examples=["PK-ICT-00421"])
    mobile: Mobile
    name: PersonName
    role: StaffRole
    districts: list[District] = Field(default_factory=list, max_length=64)


class UserUpdate(_Body):
    name: PersonName | None = None
    mobile: Mobile | None = None
    role: StaffRole | None = None
    districts: list[District] | None = Field(None, max_length=64)
    active: bool | None = Field(None, description="False disables the account; True enables it again")
    reason: ReasonText = Field(description="Why (recorded in the audit trail)")


class UserView(BaseModel):
    id: int
    government_id: str
    mobile: str
    name: str
    role: str
    districts: list[str]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: StaffUser) -> UserView:
        return cls.model_validate(user.as_json())


def _users(services: ServicesDep) -> UserStore:
    return services.auth.users


@router.get("", response_model=list[UserView])
async def list_users(
    services: ServicesDep,
    _admin: Admin,
    role: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
    active: bool | None = None,
) -> list[UserView]:
    users = await run_in_threadpool(_users(services).list)
    return [
        UserView.of(u)
        for u in users
        if (role is None or u.role.value == role) and (active is None or u.active is active)
    ]


@router.post("", status_code=201, response_model=UserView)
async def create_user(
    body: UserCreate, services: ServicesDep, _admin: Admin, auditor: AuditorDep
) -> UserView:
    try:
        user = await run_in_threadpool(
            lambda: _users(services).add(
                government_id=body.government_id,
                mobile=body.mobile,
                name=body.name,
                role=body.role,
                districts=body.districts,
            )
        )
    except InvalidUserError as exc:
        raise HTTPException(422, str(exc)) from None
    except DuplicateUserError as exc:
        raise HTTPException(409, str(exc)) from None
    await auditor.record("users.create", f"staff:{user.id}", details=_public(user))
    return UserView.of(user)


@router.get("/{user_id}", response_model=UserView)
async def get_user(user_id: UserId, services: ServicesDep, _admin: Admin) -> UserView:
    user = await run_in_threadpool(_users(services).get, user_id)
    if user is None:
        raise HTTPException(404, f"no account with id {user_id}")
    return UserView.of(user)


@router.patch("/{user_id}", response_model=UserView)
async def update_user(
    user_id: UserId,
    body: UserUpdate,
    services: ServicesDep,
    nc: NatsDep,
    admin: Admin,
    auditor: AuditorDep,
) -> UserView:
    """Change an account. Disabling it, or changing its role or districts, ends its live sessions."""
    if user_id == admin.id and admin.kind == "staff" and (body.active is False or body.role is not None):
        raise HTTPException(409, "you cannot disable your own account or change your own role")
    try:
        before, after = await run_in_threadpool(
            lambda: _users(services).update(
                user_id,
                name=body.name,
                mobile=body.mobile,
                role=body.role,
                districts=body.districts,
                active=body.active,
            )
        )
    except UserNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidUserError as exc:
        raise HTTPException(422, str(exc)) from None
    except LastAdminError as exc:
        raise HTTPException(409, str(exc)) from None
    changed = {k: [v, after_v] for k, v in _public(before).items() if (after_v := _public(after)[k]) != v}
    await auditor.record("users.update", f"staff:{user_id}", reason=body.reason, details={"changed": changed})
    cause = _revocation_cause(before, after)
    if cause is not None:
        event = SessionRevoked(user_id=user_id, reason=cause)
        await transactions.when_committed(
            lambda: announce_revoked(nc, services.settings.nats.subjects, event)
        )  # replicas re-read the account
    return UserView.of(after)


class UnlockBody(BaseModel):
    reason: ReasonText


class Unlocked(BaseModel):
    user_id: int
    cleared: int = Field(description="Locks, failure and throttle counts cleared")


@router.post("/{user_id}/unlock", response_model=Unlocked)
async def unlock_user(
    user_id: UserId, body: UnlockBody, services: ServicesDep, _admin: Admin, auditor: AuditorDep
) -> Unlocked:
    """Lift a sign-in lockout at once (the account's owner called the control room, say)."""
    user = await run_in_threadpool(_users(services).get, user_id)
    if user is None:
        raise HTTPException(404, f"no account with id {user_id}")
    cleared = await services.auth.unlock(user.government_id)
    await auditor.record("users.unlock", f"staff:{user_id}", reason=body.reason, details={"cleared": cleared})
    return Unlocked(user_id=user_id, cleared=cleared)


def _public(user: StaffUser) -> dict[str, Any]:
    data = user.as_json()
    data.pop("created_at")
    return data


def _revocation_cause(before: StaffUser, after: StaffUser) -> Any:
    if before.active and not after.active:
        return "disabled"
    if before.role != after.role:
        return "role_changed"
    if before.districts != after.districts:
        return "districts_changed"
    return None


async def announce_revoked(nc: NATS, names: Subjects, event: SessionRevoked) -> None:
    """Tell every replica to close the connections of a session or user. Best effort: each WebSocket
    also re-checks its session periodically, so a lost announcement only delays the cut."""
    try:
        await nc.publish(names.sessions_revoked(), event.to_bytes())
    except Exception:
        log.exception("could not announce a revoked session (%s); WebSockets re-check on their own", event)
