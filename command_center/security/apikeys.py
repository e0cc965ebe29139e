"""Hotels and the API keys their systems (and other feeds) authenticate with.

A key reads ``sck_<key_id>_<secret>``: ``key_id`` (16 hex digits) is public, shown in lists and logs and
used to find the row; ``secret`` is 32 random bytes (``secrets.token_urlsafe``) shown once, at issue.
At rest only HMAC-SHA256(pepper, key_id + secret) is kept. A memory-hard hash (argon2, scrypt) exists
to slow guessing of low-entropy passwords; a 256-bit random secret cannot be guessed at any hash speed,
so a slow hash would only cost CPU on every request (and hand attackers a denial-of-service lever). The
server-side pepper means a stolen database alone cannot even test a candidate key.

Rotation without downtime: a hotel may hold several live keys. Issue the new key, switch the hotel's
system over, then revoke the old one; both work in between.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from command_center.security.permissions import ROLE_PERMISSIONS, Role
from command_center.security.principal import Principal
from pipeline.adapters import transactions
from pipeline.adapters.database import UtcDateTime, as_utc, metadata
from pipeline.adapters.migrations import upgrade

KEY_PREFIX = "sck"
KEY_ID_BYTES = 8  # 16 hex digits: public, only needs to be unique
SECRET_BYTES = 32
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often per key
# A verified key's row is reused this long by the process that read it: a burst of check-ins costs one
# lookup, and a key revoked (or a hotel stopped) on another replica is refused there within this time.
# Revocation through this store is effective at once.
KEY_CACHE_S = 5.0
KEY_CACHE_SIZE = 10_000
# Scopes a hotel key may carry: what the hotel role may do at all.
HOTEL_SCOPES = frozenset(ROLE_PERMISSIONS[Role.HOTEL])

_KEY_RE = re.compile(rf"{KEY_PREFIX}_([0-9a-f]{{{2 * KEY_ID_BYTES}}})_([A-Za-z0-9_-]{{43}})", re.ASCII)


hotels = Table(
    "hotels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("licence_no", String(64), nullable=False, unique=True),
    Column("address", String(500), nullable=False),
    Column("district", String(64), nullable=False, index=True),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

integration_keys = Table(
    "integration_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hotel_id", Integer, ForeignKey("hotels.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("label", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(300), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
    sqlite_autoincrement=True,
)


class IntegrationError(ValueError):
    """A hotel or key request that cannot be carried out; the message says why (a 4xx)."""


class HotelNotFoundError(LookupError):
    def __init__(self, hotel_id: int) -> None:
        super().__init__(f"no hotel with id {hotel_id}")


class KeyNotFoundError(LookupError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"no integration key {key_id!r}")


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC; SQLite hands back naive datetimes that were stored as UTC."""
    return None if value is None else as_utc(value)


@dataclass(frozen=True, slots=True)
class Hotel:
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
    def from_row(cls, row: Any) -> Hotel:
        data = dict(row._mapping)
        data["created_at"] = _utc(data["created_at"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Everything about a key except its secret."""

    id: int
    hotel_id: int
    key_id: str
    scopes: tuple[str, ...]
    label: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @classmethod
    def from_row(cls, row: Any) -> KeyInfo:
        data = {name: row._mapping[name] for name in cls.__slots__}
        for name in ("created_at", "expires_at", "revoked_at", "last_used_at"):
            data[name] = _utc(data[name])
        data["scopes"] = tuple(data["scopes"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: ``raw_key`` is the only copy of the secret and is never stored or shown again."""

    info: KeyInfo
    raw_key: str


def split_key(raw_key: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    match = _KEY_RE.fullmatch(raw_key)
    return (match.group(1), match.group(2)) if match else None


def validate_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(scopes))
    if not wanted:
        raise IntegrationError("a key needs at least one scope")
    allowed = sorted(p.value for p in HOTEL_SCOPES)
    unknown = [s for s in wanted if s not in allowed]
    if unknown:
        raise IntegrationError(f"scopes {unknown} cannot be given to a hotel key; allowed: {allowed}")
    return wanted


@dataclass(frozen=True, slots=True)
class _Found:
    """A key's row with its hotel, and the key's fields read from it (once, while it is cached)."""

    row: Any
    info: KeyInfo
    principal: Principal  # whom the key stands for while usable (made once, not per request)

    @classmethod
    def of(cls, row: Any) -> _Found:
        info = KeyInfo.from_row(row)
        principal = Principal(
            kind="integration",
            id=info.id,
            name=row.name,
            role=Role.HOTEL,
            districts=frozenset({row.district}),
            hotel_id=info.hotel_id,
            scopes=frozenset(info.scopes),
        )
        return cls(row, info, principal)


class ApiKeyStore:
    """Hotels and their integration keys in SQLite or PostgreSQL (SQLAlchemy Core, bound parameters)."""

    def __init__(self, engine: Engine, pepper: str, cache_s: float = KEY_CACHE_S) -> None:
        if not pepper:
            raise ValueError("an API key pepper is required")
        self.engine = engine
        self._pepper = pepper.encode()
        self._cache_s = cache_s
        self._rows: dict[str, tuple[float, _Found]] = {}  # key_id -> (when read, its row and hotel)
        self._used: dict[str, datetime] = {}  # key_id -> last use written by this process
        self._lock = threading.Lock()

    def _forget(self) -> None:
        """A key or a hotel changes here: verify reads every key again, from now and again once the change
        is committed (a verification between the two must not keep the old row)."""

        def clear() -> None:
            with self._lock:
                self._rows.clear()

        clear()
        transactions.after_commit(clear)

    def create_schema(self) -> None:
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self.engine)

    def _hash(self, key_id: str, secret: str) -> str:
        message = f"{key_id}:{secret}".encode()
        return hmac.digest(self._pepper, message, "sha256").hex()  # one call in C: HMAC-SHA-256

    # Hotels

    def create_hotel(
        self,
        name: str,
        licence_no: str,
        address: str,
        district: str,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> Hotel:
        values = {
            "name": name,
            "licence_no": licence_no,
            "address": address,
            "district": district,
            "latitude": latitude,
            "longitude": longitude,
            "active": True,
            "created_at": datetime.now(UTC),
        }
        try:
            with transactions.begin(self.engine) as conn:
                hotel_id = conn.execute(insert(hotels).values(**values)).inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError:
            raise IntegrationError(
                f"a hotel with licence number {licence_no!r} is already registered"
            ) from None
        return Hotel(id=int(hotel_id), **values)  # type: ignore[arg-type]

    def get_hotel(self, hotel_id: int) -> Hotel | None:
        with transactions.connect(self.engine) as conn:
            row = conn.execute(select(hotels).where(hotels.c.id == hotel_id)).first()
        return Hotel.from_row(row) if row else None

    def list_hotels(self, limit: int = 100, offset: int = 0) -> list[Hotel]:
        query = select(hotels).order_by(hotels.c.id).limit(limit).offset(offset)
        with transactions.connect(self.engine) as conn:
            return [Hotel.from_row(row) for row in conn.execute(query)]

    def set_hotel_active(self, hotel_id: int, active: bool) -> Hotel:
        """Deactivating a hotel stops all its keys at once (they stay listed and can be revoked)."""
        self._forget()
        with transactions.begin(self.engine) as conn:
            done = conn.execute(update(hotels).where(hotels.c.id == hotel_id).values(active=active))
        if done.rowcount == 0:
            raise HotelNotFoundError(hotel_id)
        hotel = self.get_hotel(hotel_id)
        assert hotel is not None
        return hotel

    # Keys

    def issue_key(
        self,
        hotel_id: int,
        scopes: Iterable[str],
        label: str,
        created_by: str,
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        scope_list = validate_scopes(scopes)
        now = datetime.now(UTC)
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise IntegrationError("expires_at needs a timezone")
            if expires_at <= now:
                raise IntegrationError("expires_at must lie in the future")
        hotel = self.get_hotel(hotel_id)
        if hotel is None:
            raise HotelNotFoundError(hotel_id)
        if not hotel.active:
            raise IntegrationError(f"hotel {hotel_id} is inactive; reactivate it before issuing keys")
        key_id = secrets.token_hex(KEY_ID_BYTES)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        values = {
            "hotel_id": hotel_id,
            "key_id": key_id,
            "secret_hash": self._hash(key_id, secret),
            "scopes": list(scope_list),
            "label": label,
            "created_at": now,
            "created_by": created_by,
            "expires_at": expires_at,
            "revoked_at": None,
            "last_used_at": None,
        }
        with transactions.begin(self.engine) as conn:
            row_id = conn.execute(insert(integration_keys).values(**values)).inserted_primary_key[0]  # type: ignore[index]
        info = KeyInfo(
            id=int(row_id),
            hotel_id=hotel_id,
            key_id=key_id,
            scopes=scope_list,
            label=label,
            created_at=now,
            created_by=created_by,
            expires_at=expires_at,
            revoked_at=None,
            last_used_at=None,
        )
        return IssuedKey(info=info, raw_key=f"{KEY_PREFIX}_{key_id}_{secret}")

    def list_keys(self, hotel_id: int) -> list[KeyInfo]:
        if self.get_hotel(hotel_id) is None:
            raise HotelNotFoundError(hotel_id)
        query = select(integration_keys).where(integration_keys.c.hotel_id == hotel_id)
        with transactions.connect(self.engine) as conn:
            return [KeyInfo.from_row(row) for row in conn.execute(query.order_by(integration_keys.c.id))]

    def get_key(self, row_id: int) -> KeyInfo | None:
        """A key by its row id (``Principal.id`` of an integration principal)."""
        with transactions.connect(self.engine) as conn:
            row = conn.execute(select(integration_keys).where(integration_keys.c.id == row_id)).first()
        return KeyInfo.from_row(row) if row else None

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key (idempotent: the first revocation time is kept)."""
        self._forget()
        now = datetime.now(UTC)
        with transactions.begin(self.engine) as conn:
            conn.execute(
                update(integration_keys)
                .where(integration_keys.c.key_id == key_id, integration_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = conn.execute(select(integration_keys).where(integration_keys.c.key_id == key_id)).first()
        if row is None:
            raise KeyNotFoundError(key_id)
        return KeyInfo.from_row(row)

    def verify(self, raw_key: str) -> Principal | None:
        """The integration principal a presented key stands for, or None (unknown, wrong, revoked,
        expired, or its hotel inactive). The caller answers every None with the same 401."""
        parts = split_key(raw_key)
        if parts is None:
            return None
        key_id, secret = parts
        return self._principal(self._hash(key_id, secret), self._key_row(key_id), write_use=True)

    def verify_cached(self, raw_key: str) -> Principal | None:
        """``verify`` without touching the database (on the event loop): the principal when this
        process holds the key's row fresh and its last use needs no writing; None otherwise, and then
        ``verify`` decides."""
        parts = split_key(raw_key)
        if parts is None:
            return None
        key_id, secret = parts
        with self._lock:
            cached = self._rows.get(key_id)
        if cached is None or time.monotonic() - cached[0] >= self._cache_s:
            return None
        return self._principal(self._hash(key_id, secret), cached[1], write_use=False)

    def _principal(self, presented: str, found: _Found | None, *, write_use: bool) -> Principal | None:
        stored = found.row.secret_hash if found is not None else "0" * 64
        # Constant time whatever matched; the row lookup is by the public key_id, which leaks nothing.
        if not hmac.compare_digest(presented, stored) or found is None:
            return None
        now = datetime.now(UTC)
        row, info = found.row, found.info
        if not info.usable_at(now) or not row.active:
            return None
        if write_use:
            self._touch(info, now)
        elif self._use_unwritten(info, now):
            return None
        return found.principal

    def _key_row(self, key_id: str) -> _Found | None:
        """The key's row with its hotel, from this process's cache while fresh (only keys that exist are
        kept: a key issued on another replica is found at its first use)."""
        clock = time.monotonic()
        with self._lock:
            cached = self._rows.get(key_id)
        if cached is not None and clock - cached[0] < self._cache_s:
            return cached[1]
        query = (
            select(integration_keys, hotels.c.name, hotels.c.district, hotels.c.active)
            .join(hotels, hotels.c.id == integration_keys.c.hotel_id)
            .where(integration_keys.c.key_id == key_id)
        )
        with transactions.connect(self.engine) as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        found = _Found.of(row)
        if self._cache_s > 0:
            with self._lock:
                if len(self._rows) >= KEY_CACHE_SIZE:
                    self._rows.pop(next(iter(self._rows)))
                self._rows[key_id] = (clock, found)
        return found

    def _use_unwritten(self, info: KeyInfo, now: datetime) -> bool:
        """Whether this use must be written (the last one written is older than LAST_USED_RESOLUTION)."""
        # A cached row's last use is as old as the row: the last one this process wrote counts too.
        written = self._used.get(info.key_id) if self._cache_s > 0 else None
        last = max(filter(None, (info.last_used_at, written)), default=None)
        return last is None or now - last >= LAST_USED_RESOLUTION

    def _touch(self, info: KeyInfo, now: datetime) -> None:
        """Record use, at most once per LAST_USED_RESOLUTION, so a busy feed does not write per request."""
        if not self._use_unwritten(info, now):
            return
        self._used[info.key_id] = now
        cutoff = now - LAST_USED_RESOLUTION
        with transactions.begin(self.engine) as conn:
            conn.execute(
                update(integration_keys)
                .where(
                    integration_keys.c.id == info.id,
                    or_(integration_keys.c.last_used_at.is_(None), integration_keys.c.last_used_at < cutoff),
                )
                .values(last_used_at=now)
            )
