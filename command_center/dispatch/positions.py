"""Live positions of patrol units in Redis GEO, ageing out when a unit goes quiet.

Two keys under the configured prefix: ``<prefix>:geo`` (GEOADD longitude latitude unit) and
``<prefix>:seen`` (a sorted set: unit → when its fix was taken, epoch seconds). A GEO set has no
per-member expiry, so the ``seen`` score is the age: searches ignore units whose fix is older than
``stale_s`` and ``prune`` removes them from both keys. Updates are a Lua script, so a fix that arrives
late (NATS and HTTP race, phones retry) never overwrites a newer one, and every replica may apply
the same fix without harm.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from redis.asyncio import Redis

T = TypeVar("T")

_UPDATE = """
local current = redis.call('ZSCORE', KEYS[2], ARGV[1])
if current and tonumber(current) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('GEOADD', KEYS[1], ARGV[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
"""

_PRUNE = """
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, unit in ipairs(old) do
  redis.call('ZREM', KEYS[1], unit)
  redis.call('ZREM', KEYS[2], unit)
end
return #old
"""

_FORGET = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZREM', KEYS[2], ARGV[1])
"""

EARTH_RADIUS_M = 6_372_797.560856  # the radius Redis uses for GEODIST, so both agree


async def _redis(value: Awaitable[T] | T) -> T:
    """redis-py types its sync and async clients together; every call here is awaited."""
    return await cast(Awaitable[T], value)


@dataclass(frozen=True, slots=True)
class Position:
    unit_id: str
    latitude: float
    longitude: float
    recorded_at: float  # epoch seconds

    def age_s(self, now: float) -> float:
        return max(0.0, now - self.recorded_at)


@dataclass(frozen=True, slots=True)
class Nearby:
    position: Position
    distance_m: float


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


class PatrolPositions:
    def __init__(self, redis: Redis, prefix: str, stale_s: float) -> None:
        self._redis = redis
        self._geo = f"{prefix}:geo"
        self._seen = f"{prefix}:seen"
        self.stale_s = stale_s
        self._update = redis.register_script(_UPDATE)
        self._prune = redis.register_script(_PRUNE)
        self._forget = redis.register_script(_FORGET)

    async def update(self, unit_id: str, latitude: float, longitude: float, recorded_at: float) -> bool:
        """Store a fix; False when the stored one is as new or newer (this one is ignored)."""
        keys = [self._geo, self._seen]
        stored = await self._update(keys=keys, args=[unit_id, longitude, latitude, repr(recorded_at)])
        return bool(stored)

    async def forget(self, unit_id: str) -> None:
        await self._forget(keys=[self._geo, self._seen], args=[unit_id])

    async def prune(self, now: float) -> int:
        """Drop fixes older than ``stale_s`` (up to 500 per call); how many."""
        removed = await self._prune(keys=[self._geo, self._seen], args=[repr(now - self.stale_s)])
        return int(removed)

    async def nearest(
        self, latitude: float, longitude: float, radius_m: float, now: float, count: int
    ) -> tuple[list[Nearby], bool]:
        """The ``count`` nearest positions within ``radius_m``, nearest first, stale ones skipped; and
        whether that was every unit within the radius (False: ask again with a larger count)."""
        found: list[Any] = await _redis(
            self._redis.geosearch(
                self._geo,
                longitude=longitude,
                latitude=latitude,
                radius=radius_m,
                unit="m",
                sort="ASC",
                count=count,
                withdist=True,
                withcoord=True,
            )
        )
        if not found:
            return [], True
        units = [_text(item[0]) for item in found]
        seen = await self._seen_at(units)
        nearby = []
        for item, unit_id, at in zip(found, units, seen, strict=True):
            if at is None or now - at > self.stale_s:
                continue
            longitude_, latitude_ = item[2]
            nearby.append(Nearby(Position(unit_id, latitude_, longitude_, at), float(item[1])))
        return nearby, len(found) < count

    async def positions(self, unit_ids: Collection[str], now: float) -> dict[str, Position]:
        """The fresh positions of these units (units without one, or with a stale one, are left out)."""
        units = sorted(unit_ids)
        if not units:
            return {}
        coords: list[Any] = await _redis(self._redis.geopos(self._geo, *units))
        seen = await self._seen_at(units)
        out = {}
        for unit_id, coord, at in zip(units, coords, seen, strict=True):
            if coord is None or at is None or now - at > self.stale_s:
                continue
            out[unit_id] = Position(unit_id, float(coord[1]), float(coord[0]), at)
        return out

    async def _seen_at(self, units: list[str]) -> list[float | None]:
        scores: list[Any] = await _redis(self._redis.zmscore(self._seen, units))
        return [float(s) if s is not None else None for s in scores]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
