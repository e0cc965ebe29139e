"""Accepting patrol units' GPS fixes, over HTTP (the officer app) and over NATS (trusted gateways).

A fix counts only if its officer serves in the unit it names, it is not from the future (beyond the
allowed clock skew) and not already stale. Every replica subscribes (no queue group): applying a fix
is idempotent, and the newest fix wins whatever order fixes arrive in.

Who may send a fix: over HTTP (``POST /patrol/position``) the officer and the unit come from the
officer's access token, never from the body, so a phone can only move its own unit. Over NATS the
message names its ``officer_id`` and nothing proves it: NATS carries no staff identity. That path is
therefore for trusted in-cluster gateways only (a vehicle AVL/GPS bridge, a radio-system adapter),
and the deployment's NATS permissions must allow publishing on ``safecity.patrol.position.>`` to
those gateways' NATS users alone; the officer app never gets NATS credentials. The membership check
below is a consistency check on what a gateway sends (a fix for a unit its officer has left), not
authentication. (Requiring the unit to be on duty would not make a forged fix any less forged, and
would hide an off-duty unit's position from the map, so it is not done.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum

from nats.aio.msg import Msg
from pydantic import ValidationError

from command_center.dispatch.patrol import PatrolStore
from command_center.dispatch.positions import PatrolPositions
from command_center.listening import Listening
from pipeline.contracts import PatrolPosition
from pipeline.settings.dispatch import DispatchSettings
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

MEMBERSHIP_CACHE_S = 30.0  # how long "officer X serves in unit Y" is believed without asking SQL


def epoch(value: datetime) -> float:
    """Epoch seconds; a time without a zone is taken to be UTC (never the server's local time)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class Fix(StrEnum):
    STORED = "stored"
    OLDER = "older"  # a newer fix of the unit is stored already: ignored
    STALE = "stale"  # too old to be useful: ignored
    FUTURE = "future"  # stamped in the future beyond the allowed skew: refused
    NOT_IN_UNIT = "not_in_unit"  # the officer does not serve in that unit: refused


@dataclass(slots=True)
class TrackingStats:
    received: int = 0
    stored: int = 0
    ignored: int = 0
    refused: int = 0
    invalid: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class PatrolTracker(Listening):
    def __init__(
        self, settings: DispatchSettings, patrol: PatrolStore, positions: PatrolPositions, names: Subjects
    ) -> None:
        self._settings = settings
        self._names = names
        self._patrol = patrol
        self._positions = positions
        self._members: dict[tuple[int, str], float] = {}
        self._subject = self._names.patrol_position_all()
        self.stats = TrackingStats()

    async def accept(self, fix: PatrolPosition) -> Fix:
        """Apply one fix (membership, clock and age checked first)."""
        self.stats.received += 1
        outcome = await self._judge(fix)
        if outcome is Fix.STORED:
            stored = await self._positions.update(
                fix.unit_id, fix.latitude, fix.longitude, epoch(fix.recorded_at)
            )
            outcome = Fix.STORED if stored else Fix.OLDER
        if outcome is Fix.STORED:
            self.stats.stored += 1
        elif outcome in (Fix.OLDER, Fix.STALE):
            self.stats.ignored += 1
        else:
            self.stats.refused += 1
        return outcome

    async def _judge(self, fix: PatrolPosition) -> Fix:
        now = time.time()
        at = epoch(fix.recorded_at)
        if at > now + self._settings.max_clock_skew_s:
            return Fix.FUTURE
        if now - at > self._settings.position_stale_s:
            return Fix.STALE
        if not await self._serves(fix.officer_id, fix.unit_id, now):
            return Fix.NOT_IN_UNIT
        return Fix.STORED

    async def _serves(self, officer_id: int, unit_id: str, now: float) -> bool:
        key = (officer_id, unit_id)
        if self._members.get(key, 0.0) > now:
            return True
        serves = await asyncio.to_thread(self._patrol.serves_in, officer_id, unit_id)
        if serves:
            if len(self._members) > 10_000:
                self._members.clear()
            self._members[key] = now + MEMBERSHIP_CACHE_S
        return serves

    def forget_membership(self, unit_id: str) -> None:
        """A unit's crew changed: ask SQL again for its fixes."""
        for key in [k for k in self._members if k[1] == unit_id]:
            del self._members[key]

    # -- NATS ----------------------------------------------------------------------------------------

    async def _on_message(self, msg: Msg) -> None:
        try:
            fix = PatrolPosition.from_bytes(msg.data)
        except ValidationError as exc:
            self.stats.invalid += 1
            log.debug("ignored an invalid PatrolPosition: %s", exc.errors()[:1])
            return
        if msg.subject != self._names.patrol_position(fix.unit_id):
            self.stats.invalid += 1
            return  # a fix for one unit published on another unit's subject
        try:
            await self.accept(fix)
        except Exception:
            log.exception("could not store the position of unit %s", fix.unit_id)
