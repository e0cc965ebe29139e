"""Watchlist profiles: enrol from photos, list, show, photo, remove. Changes are announced to workers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from command_center.api.deps import EnrolmentDep, WatchlistStoreDep
from pipeline.models.registry import ModelError
from watchlist.enrol import EnrolmentError
from watchlist.store import MAX_NAME_LENGTH, InvalidProfileError, Profile, ProfileNotFoundError

router = APIRouter(prefix="/watchlist", tags=["watchlist"])

MAX_PHOTOS = 20
MAX_PAGE = 500
MAX_ID = 2**31 - 1

ProfileId = Annotated[int, Path(ge=1, le=MAX_ID, description="Profile id")]


class ProfileView(BaseModel):
    id: int
    name: str
    category: str
    active: bool
    created_at: datetime
    updated_at: datetime
    photo_count: int
    embedding_count: int
    photo: str
    photo_full: str

    @classmethod
    def of(cls, profile: Profile) -> ProfileView:
        photo = f"/watchlist/profiles/{profile.id}/photo"
        return cls(
            id=profile.id,
            name=profile.name,
            category=profile.category,
            active=profile.active,
            created_at=profile.created_at,
            updated_at=profile.updated_at,
            photo_count=profile.photo_count,
            embedding_count=profile.embedding_count,
            photo=photo,
            photo_full=f"{photo}?full=1",
        )


class ProfilePage(BaseModel):
    profiles: list[ProfileView]
    total: int


@router.post("/profiles", status_code=201, response_model=ProfileView)
async def enrol_profile(
    enrolment: EnrolmentDep,
    store: WatchlistStoreDep,
    name: Annotated[str, Form(min_length=1, max_length=MAX_NAME_LENGTH)],
    category: Annotated[str, Form(min_length=1, max_length=32)],
    photos: Annotated[list[UploadFile], File(description="One or more photos showing one face each")],
) -> ProfileView:
    if len(photos) > MAX_PHOTOS:
        raise HTTPException(422, f"{len(photos)} photos sent; at most {MAX_PHOTOS} per profile")
    files = [(photo.filename or f"photo {n}", await photo.read()) for n, photo in enumerate(photos, 1)]
    try:
        result = await enrolment.enrol(name, category, files)
    except (EnrolmentError, InvalidProfileError) as exc:
        raise HTTPException(422, str(exc)) from None
    except ModelError as exc:
        raise HTTPException(503, f"face models unavailable: {exc}") from None
    profile = await run_in_threadpool(store.get_profile, result.profile_id)
    if profile is None:  # removed in the instant since it was stored
        raise HTTPException(404, f"profile {result.profile_id} no longer exists")
    return ProfileView.of(profile)


@router.get("/profiles", response_model=ProfilePage)
async def list_profiles(
    store: WatchlistStoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    category: Annotated[str | None, Query(max_length=32)] = None,
) -> ProfilePage:
    try:
        found = await run_in_threadpool(store.list_profiles, limit, offset, category)
    except InvalidProfileError as exc:
        raise HTTPException(422, str(exc)) from None
    total = await run_in_threadpool(store.count_profiles)
    return ProfilePage(profiles=[ProfileView.of(p) for p in found], total=total)


@router.get("/profiles/{profile_id}", response_model=ProfileView)
async def get_profile(profile_id: ProfileId, store: WatchlistStoreDep) -> ProfileView:
    profile = await run_in_threadpool(store.get_profile, profile_id)
    if profile is None:
        raise HTTPException(404, f"no watchlist profile {profile_id}")
    return ProfileView.of(profile)


@router.get(
    "/profiles/{profile_id}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
async def get_profile_photo(
    profile_id: ProfileId,
    store: WatchlistStoreDep,
    full: Annotated[bool, Query(description="The whole enrolment photo instead of the face crop")] = False,
) -> Response:
    # Served for removed profiles too: their past alerts still show who was matched.
    data = await run_in_threadpool(store.profile_photo, profile_id, not full)
    if data is None:
        raise HTTPException(404, f"no photo for watchlist profile {profile_id}")
    return Response(data, media_type=_image_type(data), headers={"Cache-Control": "private, max-age=3600"})


@router.delete("/profiles/{profile_id}", status_code=204)
async def remove_profile(profile_id: ProfileId, enrolment: EnrolmentDep) -> Response:
    try:
        await enrolment.remove(profile_id)
    except ProfileNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(status_code=204)


def _image_type(data: bytes) -> str:
    """The enrolment original is kept as uploaded, so name its type by its magic bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
