"""What the watchlist API returns: a profile with its legal basis and review state."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from watchlist.store import Profile


def target(profile_id: int) -> str:
    """How the audit trail names a watchlist profile."""
    return f"watchlist_profile:{profile_id}"


class ProfileView(BaseModel):
    id: int
    name: str
    category: str
    status: str
    matching: bool  # in force and unexpired: workers match against it now
    expired: bool
    legal_reference: str
    authorised_by: str
    expires_at: datetime
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    removal_proposed_by: str | None
    removal_proposed_at: datetime | None
    removal_reason: str | None
    removal_approved_by: str | None
    removal_approved_at: datetime | None
    rejected_by: str | None
    rejected_at: datetime | None
    rejection_reason: str | None
    created_at: datetime
    updated_at: datetime
    photo_count: int
    embedding_count: int
    photo: str
    photo_full: str

    @classmethod
    def of(cls, profile: Profile) -> ProfileView:
        photo = f"/watchlist/profiles/{profile.id}/photo"
        fields = {name: getattr(profile, name) for name in Profile.__slots__}
        return cls(
            **fields,
            matching=profile.matching(),
            expired=profile.expired(),
            photo=photo,
            photo_full=f"{photo}?full=1",
        )


class ProfilePage(BaseModel):
    profiles: list[ProfileView]
    total: int


def image_type(data: bytes) -> str:
    """The enrolment original is kept as uploaded, so name its type by its magic bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
