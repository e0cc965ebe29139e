"""Staff accounts: who may log in (government ID + registered mobile), with which role and districts.

An account is never deleted (the audit trail names it); disabling it refuses every later request made
with its tokens, because each request checks that the account is still active.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Integer,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from command_center.security.permissions import STAFF_ROLES, Role
from pipeline.adapters import transactions
from pipeline.adapters.database import UtcDateTime, as_utc, metadata
from pipeline.adapters.migrations import upgrade
from pipeline.validators import normalise_mobile, normalise_person_name

GOVERNMENT_ID_PATTERN = r"^[A-Za-z0-9-]{4,32}$"
DISTRICT_PATTERN = r"^[A-Za-z0-9 _-]{1,64}$"
MAX_DISTRICTS = 64
_GOVERNMENT_ID = re.compile(GOVERNMENT_ID_PATTERN, re.ASCII)
_DISTRICT = re.compile(DISTRICT_PATTERN, re.ASCII)


staff_users = Table(
    "staff_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("government_id", String(32), nullable=False, unique=True),
    Column("mobile", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("districts", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime(), nullable=False),
    sqlite_autoincrement=True,  # an id is never reused: tokens and the audit trail refer to it
)


class InvalidUserError(ValueError):
    """A field of a staff account that cannot be accepted; the message says which and why."""


class DuplicateUserError(ValueError):
    pass


class UserNotFoundError(LookupError):
    pass


class LastAdminError(ValueError):
    """The change would leave no active admin to manage accounts."""


def normalise_government_id(value: str) -> str:
    """Letters, digits and '-', 4 to 32 characters; stored in upper case (IDs are not case-sensitive)."""
    text = value.strip()
    if not _GOVERNMENT_ID.fullmatch(text):
        raise InvalidUserError("a government ID is 4 to 32 characters: letters A-Z, digits and '-'")
    return text.upper()


def normalise_districts(values: Iterable[str]) -> list[str]:
    districts = sorted({v.strip() for v in values})
    if len(districts) > MAX_DISTRICTS:
        raise InvalidUserError(f"at most {MAX_DISTRICTS} districts per account")
    for district in districts:
        if not _DISTRICT.fullmatch(district):
            raise InvalidUserError(f"district {district!r}: 1-64 letters, digits, spaces, '_' or '-'")
    return districts


def parse_role(value: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        raise InvalidUserError(f"unknown role {value!r}; one of {', '.join(sorted(STAFF_ROLES))}") from None
    if role not in STAFF_ROLES:
        raise InvalidUserError(f"role {value!r} is for integrations (API keys), not staff accounts")
    return role


_as_utc = as_utc  # a naive moment (a date-only input) is taken to be UTC


@dataclass(frozen=True, slots=True)
class StaffUser:
    id: int
    government_id: str
    mobile: str
    name: str
    role: Role
    districts: tuple[str, ...]
    active: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> StaffUser:
        return cls(
            id=row.id,
            government_id=row.government_id,
            mobile=row.mobile,
            name=row.name,
            role=Role(row.role),
            districts=tuple(row.districts or ()),
            active=bool(row.active),
            created_at=_as_utc(row.created_at),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "government_id": self.government_id,
            "mobile": self.mobile,
            "name": self.name,
            "role": self.role.value,
            "districts": list(self.districts),
            "active": self.active,
            "created_at": self.created_at.isoformat(),
        }


class UserStore:
    """All SQL about staff accounts. Synchronous: call it from a worker thread in async code."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self._engine)

    def add(
        self, *, government_id: str, mobile: str, name: str, role: str, districts: Iterable[str] = ()
    ) -> StaffUser:
        """Validate and store a new account; InvalidUserError / DuplicateUserError say what is wrong."""
        try:
            values = {
                "government_id": normalise_government_id(government_id),
                "mobile": normalise_mobile(mobile),
                "name": normalise_person_name(name),
                "role": parse_role(role).value,
                "districts": normalise_districts(districts),
                "active": True,
                "created_at": datetime.now(UTC),
            }
        except InvalidUserError:
            raise
        except ValueError as exc:
            raise InvalidUserError(str(exc)) from None
        try:
            with transactions.begin(self._engine) as conn:
                new_id = conn.execute(insert(staff_users).values(**values).returning(staff_users.c.id))
                user_id = int(new_id.scalar_one())
        except IntegrityError:
            raise DuplicateUserError(
                f"government ID {values['government_id']} already has an account"
            ) from None
        found = self.get(user_id)
        assert found is not None
        return found

    def get(self, user_id: int) -> StaffUser | None:
        return self._one(staff_users.c.id == user_id)

    def by_government_id(self, government_id: str) -> StaffUser | None:
        try:
            key = normalise_government_id(government_id)
        except InvalidUserError:
            return None
        return self._one(staff_users.c.government_id == key)

    def list(self) -> list[StaffUser]:
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(select(staff_users).order_by(staff_users.c.id))
            return [StaffUser.from_row(row) for row in rows]

    def set_active(self, government_id: str, active: bool) -> StaffUser:
        key = normalise_government_id(government_id)
        found = self.by_government_id(key)
        if found is None:
            raise UserNotFoundError(f"no account with government ID {key}")
        return self.update(found.id, active=active)[1]

    def update(
        self,
        user_id: int,
        *,
        name: str | None = None,
        mobile: str | None = None,
        role: str | None = None,
        districts: Iterable[str] | None = None,
        active: bool | None = None,
    ) -> tuple[StaffUser, StaffUser]:
        """Change the given fields; (before, after). Refuses to leave the install without an active admin."""
        values: dict[str, Any] = {}
        try:
            if name is not None:
                values["name"] = normalise_person_name(name)
            if mobile is not None:
                values["mobile"] = normalise_mobile(mobile)
            if role is not None:
                values["role"] = parse_role(role).value
            if districts is not None:
                values["districts"] = normalise_districts(districts)
        except InvalidUserError:
            raise
        except ValueError as exc:
            raise InvalidUserError(str(exc)) from None
        if active is not None:
            values["active"] = active
        with transactions.begin(self._engine) as conn:
            row = conn.execute(select(staff_users).where(staff_users.c.id == user_id)).first()
            if row is None:
                raise UserNotFoundError(f"no account with id {user_id}")
            before = StaffUser.from_row(row)
            stays_admin = values.get("role", before.role.value) == Role.ADMIN.value
            stays_active = values.get("active", before.active)
            if before.role is Role.ADMIN and before.active and not (stays_admin and stays_active):
                others = conn.execute(
                    select(func.count())
                    .select_from(staff_users)
                    .where(
                        staff_users.c.role == Role.ADMIN.value,
                        staff_users.c.active.is_(True),
                        staff_users.c.id != user_id,
                    )
                ).scalar_one()
                if others == 0:
                    raise LastAdminError("this is the last active admin: make another admin first")
            if values:
                conn.execute(update(staff_users).where(staff_users.c.id == user_id).values(**values))
            after = StaffUser.from_row(
                conn.execute(select(staff_users).where(staff_users.c.id == user_id)).one()
            )
        return before, after

    def _one(self, condition: Any) -> StaffUser | None:
        with transactions.connect(self._engine) as conn:
            row = conn.execute(select(staff_users).where(condition)).first()
            return StaffUser.from_row(row) if row is not None else None
