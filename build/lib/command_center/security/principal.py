"""Who is calling: a member of staff (token) or an integration such as a hotel (API key)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from command_center.security.permissions import DISTRICT_SCOPED_ROLES, Permission, Role, allowed


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
        """How the audit trail names this principal."""
        return f"{self.kind}:{self.id}:{self.name}"
