"""Roles and permissions: the one table that says who may do what (least privilege).

Every route declares the permission it needs with ``require(Permission.X)`` (see api/deps.py);
routes open to anyone are listed in ``PUBLIC_ROUTES``. A route with neither is a bug the
route x role matrix test catches.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    RECORDS_CLERK = "records_clerk"
    PATROL_OFFICER = "patrol_officer"
    HOTEL = "hotel"  # integration principal (API key), never a person


STAFF_ROLES = frozenset(Role) - {Role.HOTEL}


class Permission(StrEnum):
    ALERTS_READ = "alerts:read"
    WATCHLIST_READ = "watchlist:read"
    WATCHLIST_PROPOSE = "watchlist:propose"  # add/remove, pending approval
    WATCHLIST_APPROVE = "watchlist:approve"  # the second pair of eyes
    AUDIT_READ = "audit:read"
    USERS_MANAGE = "users:manage"
    INTEGRATIONS_MANAGE = "integrations:manage"
    CHECKINS_POST = "checkins:post"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.ALERTS_READ,
            Permission.WATCHLIST_READ,
            Permission.WATCHLIST_PROPOSE,
            Permission.WATCHLIST_APPROVE,
            Permission.AUDIT_READ,
            Permission.USERS_MANAGE,
            Permission.INTEGRATIONS_MANAGE,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.ALERTS_READ,
            Permission.WATCHLIST_READ,
            Permission.WATCHLIST_PROPOSE,
            Permission.WATCHLIST_APPROVE,
            Permission.AUDIT_READ,
        }
    ),
    Role.OPERATOR: frozenset({Permission.ALERTS_READ, Permission.WATCHLIST_READ}),
    Role.RECORDS_CLERK: frozenset({Permission.WATCHLIST_READ, Permission.WATCHLIST_PROPOSE}),
    Role.PATROL_OFFICER: frozenset(),
    Role.HOTEL: frozenset({Permission.CHECKINS_POST}),
}

# Roles whose view of camera-borne data is limited to their own districts (empty = none at all).
DISTRICT_SCOPED_ROLES = frozenset({Role.OPERATOR, Role.PATROL_OFFICER})


def allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
