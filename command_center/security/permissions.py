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
    WATCHLISTS_MANAGE = "watchlists:manage"  # create watch lists (each list's own editors change it)
    FACES_SEARCH = "faces:search"  # investigative photo search: ranked candidates, with a reason
    AUDIT_READ = "audit:read"
    USERS_MANAGE = "users:manage"
    INTEGRATIONS_MANAGE = "integrations:manage"
    CHECKINS_POST = "checkins:post"
    VEHICLES_READ = "vehicles:read"  # list and search the vehicle hotlist, view an entry
    VEHICLES_WRITE = "vehicles:write"  # add, change, remove, import hotlist entries
    ALERTS_ACT = "alerts:act"  # acknowledge, dismiss as false positive (with a reason), resolve
    ALERTS_ESCALATIONS = "alerts:escalations"  # the supervisors' queue of escalated, unacknowledged alerts
    DISPATCH = "dispatch"  # suggest units for an alert and send one
    PATROL_READ = "patrol:read"  # patrol units, their duty status and live positions
    PATROL_MANAGE = "patrol:manage"  # create units, assign their officers
    PATROL_REPORT = "patrol:report"  # an officer: own position, duty status, dispatches and their channel
    STATS_READ = "stats:read"  # verdict statistics (confirmed vs false positive)
    PERSONS_READ = "persons:read"  # search CRO records, view a profile (with a reason), follow a person
    PERSONS_WRITE = "persons:write"  # add and change CRO records: persons, photos, cases, vehicles
    CHECKINS_READ = "checkins:read"  # the hotel check-in log (with a reason)
    ARRESTS_READ = "arrests:read"  # arrests and what their screening found (searches with a reason)
    ARRESTS_RECORD = "arrests:record"  # an officer records an arrest (every officer is told)
    MISSING_READ = "missing:read"  # missing persons, unidentified bodies, their ranked candidates
    MISSING_WRITE = "missing:write"  # update missing persons and unidentified bodies, add photos
    MISSING_REGISTER = "missing:register"  # register a missing person or a found body (with photos)
    CRIMES_READ = "crimes:read"  # crime reports (with a reason) and the hotspot map
    CRIMES_REPORT = "crimes:report"  # an officer reports a crime (GPS, type, photos)
    LIBRARY_READ = "library:read"  # the resource library: Acts, judgments, circulars, manuals, SOPs
    LIBRARY_MANAGE = "library:manage"  # add, pin for offline reading and remove library documents


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.ALERTS_READ,
            Permission.WATCHLIST_READ,
            Permission.WATCHLIST_PROPOSE,
            Permission.WATCHLIST_APPROVE,
            Permission.WATCHLISTS_MANAGE,
            Permission.FACES_SEARCH,
            Permission.AUDIT_READ,
            Permission.USERS_MANAGE,
            Permission.INTEGRATIONS_MANAGE,
            Permission.VEHICLES_READ,
            Permission.VEHICLES_WRITE,
            Permission.ALERTS_ACT,
            Permission.ALERTS_ESCALATIONS,
            Permission.PATROL_READ,
            Permission.PATROL_MANAGE,
            Permission.STATS_READ,
            Permission.PERSONS_READ,
            Permission.PERSONS_WRITE,
            Permission.CHECKINS_READ,
            Permission.ARRESTS_READ,
            Permission.MISSING_READ,
            Permission.CRIMES_READ,
            Permission.MISSING_WRITE,
            Permission.MISSING_REGISTER,
            Permission.LIBRARY_READ,
            Permission.LIBRARY_MANAGE,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.ALERTS_READ,
            Permission.WATCHLIST_READ,
            Permission.WATCHLIST_PROPOSE,
            Permission.WATCHLIST_APPROVE,
            Permission.WATCHLISTS_MANAGE,
            Permission.FACES_SEARCH,
            Permission.AUDIT_READ,
            Permission.VEHICLES_READ,
            Permission.VEHICLES_WRITE,
            Permission.ALERTS_ACT,
            Permission.ALERTS_ESCALATIONS,
            Permission.DISPATCH,
            Permission.PATROL_READ,
            Permission.PATROL_MANAGE,
            Permission.STATS_READ,
            Permission.PERSONS_READ,
            Permission.PERSONS_WRITE,
            Permission.CHECKINS_READ,
            Permission.ARRESTS_READ,
            Permission.MISSING_READ,
            Permission.CRIMES_READ,
            Permission.MISSING_WRITE,
            Permission.MISSING_REGISTER,
            Permission.ARRESTS_RECORD,
            Permission.CRIMES_REPORT,
            Permission.LIBRARY_READ,
            Permission.LIBRARY_MANAGE,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            Permission.ALERTS_READ,
            Permission.WATCHLIST_READ,
            Permission.FACES_SEARCH,
            Permission.VEHICLES_READ,
            Permission.ALERTS_ACT,
            Permission.DISPATCH,
            Permission.PATROL_READ,
            Permission.STATS_READ,
            Permission.PERSONS_READ,
            Permission.CHECKINS_READ,
            Permission.ARRESTS_READ,
            Permission.MISSING_READ,
            Permission.CRIMES_READ,
            Permission.LIBRARY_READ,
        }
    ),
    Role.RECORDS_CLERK: frozenset(
        {
            Permission.WATCHLIST_READ,
            Permission.WATCHLIST_PROPOSE,
            Permission.FACES_SEARCH,
            Permission.VEHICLES_READ,
            Permission.VEHICLES_WRITE,
            Permission.PERSONS_READ,
            Permission.PERSONS_WRITE,
            Permission.CHECKINS_READ,
            Permission.ARRESTS_READ,
            Permission.MISSING_READ,
            Permission.CRIMES_READ,
            Permission.MISSING_WRITE,
            Permission.MISSING_REGISTER,
            Permission.LIBRARY_READ,
            Permission.LIBRARY_MANAGE,
        }
    ),
    Role.PATROL_OFFICER: frozenset(
        {
            Permission.VEHICLES_READ,
            Permission.FACES_SEARCH,  # the M-CCTNS face client: check a suspect's photo at the spot
            Permission.PATROL_REPORT,
            Permission.PERSONS_READ,
            Permission.ARRESTS_READ,
            Permission.ARRESTS_RECORD,
            Permission.MISSING_READ,
            # the M-CCTNS field app: the family's report of a missing person, a body found on patrol
            Permission.MISSING_REGISTER,
            Permission.CRIMES_READ,
            Permission.CRIMES_REPORT,
            Permission.LIBRARY_READ,
        }
    ),
    Role.HOTEL: frozenset({Permission.CHECKINS_POST}),
}

# Roles whose view of camera-borne data is limited to their own districts (empty = none at all).
DISTRICT_SCOPED_ROLES = frozenset({Role.OPERATOR, Role.PATROL_OFFICER})


def allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
