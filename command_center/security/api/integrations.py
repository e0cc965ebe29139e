"""Integrations: hotels and their API keys (admins), and a probe for integrators (``whoami``).

A raw key is returned exactly once, in the answer to its creation (``Cache-Control: no-store``);
listings show the public ``key_id`` only. An integration principal gets 403 from every route here
except ``whoami``, which tells it nothing beyond its own hotel and scopes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from command_center.api.deps import ApiKeyStoreDep, CurrentPrincipal, require
from command_center.security.api.auditing import AuditorDep
from command_center.security.apikeys import (
    Hotel,
    HotelNotFoundError,
    IntegrationError,
    KeyInfo,
    KeyNotFoundError,
)
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.validators import Address, District, Label, PersonName, Reference

router = APIRouter(prefix="/integrations", tags=["integrations"])

MAX_ID = 2**31 - 1
MAX_PAGE = 500
HotelId = Annotated[int, Path(ge=1, le=MAX_ID, description="Hotel id")]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="Public id of a key (16 hex digits)")]
Manager = Annotated[Principal, require(Permission.INTEGRATIONS_MANAGE)]
NO_STORE = {"Cache-Control": "no-store"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HotelCreate(_Body):
    name: PersonName
    licence_no: Reference = Field(description="Licence or registration number, unique per hotel")
    address: Address
    district: District = Field(description="Administrative district (routes the hotel's alerts)")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class HotelUpdate(_Body):
    active: bool = Field(description="False stops every key of the hotel at once")


class HotelView(BaseModel):
    id: int
    name: str
    licence_no: str
    address: str
    district: str
    latitude: float | None
    longitude: float | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, hotel: Hotel) -> HotelView:
        return cls(**{name: getattr(hotel, name) for name in cls.model_fields})


class KeyCreate(_Body):
    label: Label = Field(description="Which system holds it, e.g. 'front desk PMS'")
    scopes: list[Permission] = Field(
        default_factory=lambda: [Permission.CHECKINS_POST], min_length=1, max_length=8
    )
    expires_at: AwareDatetime | None = Field(None, description="Optional expiry (with timezone)")


class KeyView(BaseModel):
    key_id: str
    hotel_id: int
    label: str
    scopes: list[str]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, info: KeyInfo) -> KeyView:
        return cls(**{name: getattr(info, name) for name in cls.model_fields})


class IssuedKeyView(KeyView):
    api_key: str = Field(description="The key itself: shown this once, store it now (send as X-API-Key)")


class WhoAmI(BaseModel):
    hotel_id: int
    hotel_name: str
    scopes: list[str]


@router.post("/hotels", status_code=201, response_model=HotelView)
async def create_hotel(
    body: HotelCreate, store: ApiKeyStoreDep, _: Manager, auditor: AuditorDep
) -> HotelView:
    try:
        hotel = await run_in_threadpool(
            store.create_hotel,
            body.name,
            body.licence_no,
            body.address,
            body.district,
            body.latitude,
            body.longitude,
        )
    except IntegrationError as exc:
        raise HTTPException(409, str(exc)) from None
    await auditor.record(
        "integration.hotel_create", f"hotel:{hotel.id}", details={"licence_no": hotel.licence_no}
    )
    return HotelView.of(hotel)


@router.get("/hotels", response_model=list[HotelView])
async def list_hotels(
    store: ApiKeyStoreDep,
    _: Manager,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[HotelView]:
    return [HotelView.of(h) for h in await run_in_threadpool(store.list_hotels, limit, offset)]


@router.patch("/hotels/{hotel_id}", response_model=HotelView)
async def update_hotel(
    hotel_id: HotelId, body: HotelUpdate, store: ApiKeyStoreDep, _: Manager, auditor: AuditorDep
) -> HotelView:
    try:
        hotel = await run_in_threadpool(store.set_hotel_active, hotel_id, body.active)
    except HotelNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    await auditor.record("integration.hotel_update", f"hotel:{hotel_id}", details={"active": body.active})
    return HotelView.of(hotel)


@router.post("/hotels/{hotel_id}/keys", status_code=201, response_model=IssuedKeyView)
async def issue_key(
    hotel_id: HotelId,
    body: KeyCreate,
    store: ApiKeyStoreDep,
    manager: Manager,
    auditor: AuditorDep,
    response: Response,
) -> IssuedKeyView:
    scopes = [s.value for s in body.scopes]
    label = body.label
    try:
        issued = await run_in_threadpool(
            store.issue_key, hotel_id, scopes, label, manager.actor, body.expires_at
        )
    except HotelNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except IntegrationError as exc:
        raise HTTPException(422, str(exc)) from None
    details = {"hotel_id": hotel_id, "scopes": scopes, "label": label}
    await auditor.record("integration.key_issue", f"key:{issued.info.key_id}", details=details)
    response.headers.update(NO_STORE)
    return IssuedKeyView(**KeyView.of(issued.info).model_dump(), api_key=issued.raw_key)


@router.get("/hotels/{hotel_id}/keys", response_model=list[KeyView])
async def list_keys(hotel_id: HotelId, store: ApiKeyStoreDep, _: Manager) -> list[KeyView]:
    try:
        return [KeyView.of(k) for k in await run_in_threadpool(store.list_keys, hotel_id)]
    except HotelNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: KeyId, store: ApiKeyStoreDep, _: Manager, auditor: AuditorDep) -> Response:
    try:
        info = await run_in_threadpool(store.revoke, key_id)
    except KeyNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    await auditor.record("integration.key_revoke", f"key:{key_id}", details={"hotel_id": info.hotel_id})
    return Response(status_code=204)


@router.get("/whoami", response_model=WhoAmI)
async def whoami(principal: CurrentPrincipal, store: ApiKeyStoreDep) -> WhoAmI:
    """For integrators to test their key: their hotel and scopes, nothing else."""
    if principal.kind != "integration" or principal.hotel_id is None:
        raise HTTPException(403, "whoami answers integration keys only (send X-API-Key)")
    info = await run_in_threadpool(store.get_key, principal.id)
    if info is None:  # deleted in the instant since it was verified
        raise HTTPException(401, "the API key is not valid")
    return WhoAmI(hotel_id=principal.hotel_id, hotel_name=principal.name, scopes=list(info.scopes))
