"""Who is calling: a member of staff (token) or an integration such as a hotel (API key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from command_center.security.permissions import DISTRICT_SCOPED_ROLES, Permission, Role, allowed

MAX_ACTOR = 200  # the audit trail's actor column, and every *_by column


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["staff", "integration"]
    id: int
    name: str
    role: Role
    districts: frozenset[str] = field(default_factory=frozenset)
    hotel_id: int | None = None
    session_id: str | None = None  # token id (jti) of a staff session, for revocation and audit
    # An integration key's scopes: it may do only what both its role and its scopes allow.
    scopes: frozenset[str] | None = None

    def can(self, permission: Permission) -> bool:
        if self.scopes is not None and permission.value not in self.scopes:
            return False
        return allowed(self.role, permission)

    @property
    def permissions(self) -> list[Permission]:
        return sorted(p for p in Permission if self.can(p))

    def sees_district(self, district: str) -> bool:
        """District-scoped roles see only their districts; everyone else sees all."""
        if self.role not in DISTRICT_SCOPED_ROLES:
            return True
        return district in self.districts

    @property
    def actor(self) -> str:
        """How the audit trail (and every ``*_by`` column) names this principal: ``kind:id:name``, the
        name clipped so the whole fits the 200 characters those columns hold (the id identifies)."""
        identity = f"{self.kind}:{self.id}:"
        room = MAX_ACTOR - len(identity)
        name = self.name if len(self.name) <= room else self.name[: room - 1] + "\u2026"
        return identity + name
