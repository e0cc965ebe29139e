"""Dispatching patrol units to alerts: nearest-unit suggestions, sending, the officers' notices, and the
policy steps (auto-dispatch of the most urgent alerts, passing an unacknowledged dispatch on).

The SQL is in ``dispatch_store.py``, positions in ``patrol_positions.py``, the officers' channels in
``officer_channel.py``; this module puts them together. A unit is suggested when it is ``available``,
has at least one officer to notify, a fresh position within the search radius, and a district the
caller sees (policy dispatches stay within the alert's own district).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from command_center.alerts.lifecycle import (
    FINAL,
    Actor,
    AlertNotFound,
    IllegalTransition,
    LifecycleStore,
    Step,
)
from command_center.alerts.lifecycle_events import Announcer
from command_center.alerts.store import Alert, AlertStore
from command_center.dispatch.notices import notice, position_of
from command_center.dispatch.officer_channel import OfficerChannels
from command_center.dispatch.patrol import PatrolStore, Unit
from command_center.dispatch.positions import PatrolPositions, Position, haversine_m
from command_center.dispatch.records import AVAILABLE, Dispatch
from command_center.dispatch.store import (
    AlreadyDispatched,
    DispatchStore,
    Order,
    Reported,
    Sent,
    UnitUnavailable,
)
from pipeline.settings import CameraConfig, Settings

log = logging.getLogger(__name__)

TIMEOUT_ACTOR = Actor.system("ack-timeout")
AUTO_ACTOR = Actor.system("auto-dispatch")
# Units read from Redis at first (nearest first); most units near a camera are usually available, so
# one small GEOSEARCH and one small SQL query settle it even with a thousand units within the radius.
FIRST_SEARCH = 32


class NoCameraPosition(Exception):
    def __init__(self, camera_id: str) -> None:
        super().__init__(f"camera {camera_id} has no latitude/longitude configured: no unit can be suggested")


@dataclass(frozen=True, slots=True)
class Suggestion:
    unit: Unit
    position: Position
    distance_m: float
    eta_s: float


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        *,
        alerts: AlertStore,
        lifecycle: LifecycleStore,
        store: DispatchStore,
        patrol: PatrolStore,
        positions: PatrolPositions,
        channels: OfficerChannels,
        announcer: Announcer,
        cameras: Mapping[str, CameraConfig] | None = None,
    ) -> None:
        self._settings = settings.dispatch
        # camera id -> camera; the command centre passes its live directory (see camera_directory.py)
        self._cameras = cameras if cameras is not None else {c.id: c for c in settings.cameras}
        self._alerts = alerts
        self._lifecycle = lifecycle
        self._store = store
        self._patrol = patrol
        self._positions = positions
        self._channels = channels
        self._announcer = announcer

    def camera(self, camera_id: str) -> CameraConfig | None:
        return self._cameras.get(camera_id)

    def origin(self, alert: Alert) -> tuple[float, float]:
        """Where units go: the camera's position, or the place the alert names (a hotel check-in)."""
        place = position_of(alert, self._cameras.get(alert.camera_id))
        if place is None:
            raise NoCameraPosition(alert.camera_id)
        return place

    # -- suggestions ---------------------------------------------------------------------------------

    async def suggest(
        self,
        alert: Alert,
        sees_district: Callable[[str], bool],
        *,
        limit: int | None = None,
        exclude: Collection[str] = (),
    ) -> list[Suggestion]:
        """Available units nearest to the alert's camera, nearest first."""
        latitude, longitude = self.origin(alert)
        wanted = limit or self._settings.suggestions
        count = FIRST_SEARCH + len(exclude)
        while True:
            found, complete = await self._nearest_available(
                latitude, longitude, count, sees_district, exclude
            )
            if len(found) >= wanted or complete:
                return found[:wanted]
            count *= 4  # many busy or hidden units nearby: look further out

    async def _nearest_available(
        self,
        latitude: float,
        longitude: float,
        count: int,
        sees_district: Callable[[str], bool],
        exclude: Collection[str],
    ) -> tuple[list[Suggestion], bool]:
        radius = self._settings.search_radius_m
        nearby, complete = await self._positions.nearest(latitude, longitude, radius, time.time(), count)
        candidates = [n for n in nearby if n.position.unit_id not in exclude]
        if not candidates:
            return [], complete
        ids = [n.position.unit_id for n in candidates]
        units = await asyncio.to_thread(self._patrol.list_units, None, ids, AVAILABLE)
        by_id = {unit.id: unit for unit in units if unit.officers and sees_district(unit.district)}
        found = []
        for n in candidates:
            unit = by_id.get(n.position.unit_id)
            if unit is not None:
                found.append(Suggestion(unit, n.position, n.distance_m, self._settings.eta_s(n.distance_m)))
        return found, complete

    # -- sending -------------------------------------------------------------------------------------

    async def send(
        self,
        alert: Alert,
        unit_id: str,
        actor: Actor,
        note: str | None = None,
        *,
        auto: bool = False,
        first_only: bool = False,
    ) -> Sent:
        """Dispatch a unit; its officers are notified and operators see the alert change."""
        unit = await asyncio.to_thread(self._patrol.get_unit, unit_id)
        if unit is None:
            raise UnitUnavailable(unit_id, None)
        if not unit.officers:
            raise UnitUnavailable(unit_id, "without officers to notify")
        distance = await self._distance(alert, unit_id)
        order = Order(
            unit_id=unit_id,
            actor=actor,
            note=note,
            distance_m=distance,
            eta_s=self._settings.eta_s(distance) if distance is not None else None,
            auto=auto,
            ack_timeout_s=self._settings.ack_timeout_s,
        )
        sent = await asyncio.to_thread(self._store.send, alert.id, order, first_only=first_only)
        await self.notify(sent.dispatch, "dispatch", alert=alert)
        if sent.superseded is not None:
            await self.notify(sent.superseded, "cancelled", cancel_reason=f"unit {unit_id} was sent instead")
        await self._announcer.step(sent.transition)
        return sent

    async def _distance(self, alert: Alert, unit_id: str) -> float | None:
        try:
            latitude, longitude = self.origin(alert)
        except NoCameraPosition:
            return None
        found = await self._positions.positions([unit_id], time.time())
        position = found.get(unit_id)
        if position is None:
            return None
        return haversine_m(latitude, longitude, position.latitude, position.longitude)

    async def notify(
        self, dispatch: Dispatch, kind: str, *, alert: Alert | None = None, cancel_reason: str | None = None
    ) -> int:
        """Publish a notice to each officer of the dispatch's unit; how many were published."""
        alert = alert or await self._announcer.alert(dispatch.alert_id)
        unit = await asyncio.to_thread(self._patrol.get_unit, dispatch.unit_id)
        if alert is None or unit is None:
            return 0
        photo = None
        if kind == "dispatch":
            photo = await asyncio.to_thread(self._alerts.evidence, alert.id, "crop")
            if photo is not None and len(photo) > self._settings.max_photo_bytes:
                photo = None
        camera = self._cameras.get(alert.camera_id)
        published = 0
        for officer in unit.officers:
            message = notice(kind, alert, dispatch, officer.user_id, camera, photo, cancel_reason)
            try:
                await self._channels.publish(officer.government_id, message)
                published += 1
            except Exception as exc:
                # Stored all the same: the officer's app also lists open dispatches over HTTP.
                log.warning(
                    "could not notify officer %s of dispatch %s: %s", officer.user_id, dispatch.id, exc
                )
        return published

    # -- steps by people -----------------------------------------------------------------------------

    async def transition(self, alert_id: int, action: str, actor: Actor, reason: str | None = None) -> Step:
        """An operator's step (acknowledge, resolve, dismiss); a unit on the alert is stood down."""
        step = await asyncio.to_thread(self._lifecycle.transition, alert_id, action, actor, reason=reason)
        if step.closed is not None:
            why = f"the alert was {step.transition.to_status} by the command centre"
            await self.notify(step.closed, "cancelled", cancel_reason=why)
        await self._announcer.step(step.transition)
        return step

    async def report(
        self, dispatch_id: int, unit_id: str, step: str, actor: Actor, reason: str | None = None
    ) -> Reported:
        """An officer's step on their unit's dispatch (ack, on_scene, resolve, dismiss)."""
        reported = await asyncio.to_thread(self._store.report, dispatch_id, unit_id, step, actor, reason)
        if reported.transition is not None:
            await self._announcer.step(reported.transition)
        return reported

    # -- policy --------------------------------------------------------------------------------------

    def _same_district(self, alert: Alert) -> Callable[[str], bool]:
        return lambda district: not alert.district or district == alert.district

    async def pass_on_overdue(self) -> int:
        """Dispatches nobody acknowledged in time: time them out and send the next nearest unit."""
        overdue = await asyncio.to_thread(self._store.overdue, datetime.now(UTC))
        passed = 0
        for dispatch in overdue:
            if await self._time_out(dispatch):
                passed += 1
                async with self._announcer.unit():
                    await self._next_unit(dispatch)
        return passed

    async def _time_out(self, dispatch: Dispatch) -> bool:
        """Time one dispatch out, audited in the same transaction; False when it moved on meanwhile."""
        async with self._announcer.unit():
            timed = await asyncio.to_thread(self._store.time_out, dispatch, TIMEOUT_ACTOR)
            if timed is None:
                return False  # acknowledged just now, or another replica got there first
            stood_down, transition = timed
            await self._announcer.step(transition, "dispatch_timeout")
            await self._announcer.audit_policy(
                transition,
                "alerts.dispatch_timeout",
                details={"unit": dispatch.unit_id, "dispatch": dispatch.id},
            )
        await self.notify(stood_down, "cancelled", cancel_reason="not acknowledged in time")
        return True

    async def _next_unit(self, timed_out: Dispatch) -> None:
        alert = await self._announcer.alert(timed_out.alert_id)
        if alert is None or alert.status in FINAL:
            return
        tried = await asyncio.to_thread(self._store.tried_units, alert.id)
        note = f"unit {timed_out.unit_id} did not acknowledge in time"
        if len(tried) < self._settings.max_attempts and await self._send_nearest(
            alert, TIMEOUT_ACTOR, note, tried
        ):
            return
        back = await asyncio.to_thread(
            self._store.give_back, alert.id, TIMEOUT_ACTOR, f"{note}; no other unit available"
        )
        if back is not None:
            await self._announcer.step(back, "dispatch_timeout")
            await self._announcer.audit_policy(back, f"alerts.{back.action}")

    async def _send_nearest(
        self, alert: Alert, actor: Actor, note: str, tried: Collection[str], *, first_only: bool = False
    ) -> bool:
        try:
            suggestions = await self.suggest(alert, self._same_district(alert), exclude=tried)
        except NoCameraPosition:
            return False
        for suggestion in suggestions:
            try:
                sent = await self.send(
                    alert, suggestion.unit.id, actor, note, auto=True, first_only=first_only
                )
            except UnitUnavailable:
                continue  # taken by another alert meanwhile: try the next one
            except (IllegalTransition, AlertNotFound, AlreadyDispatched):
                return True  # the alert moved on: nothing left to do
            dispatched = sent.dispatch
            details = {
                "unit": dispatched.unit_id,
                "dispatch": dispatched.id,
                "attempt": dispatched.attempt,
                "distance_m": dispatched.distance_m,
            }
            await self._announcer.audit_policy(sent.transition, "alerts.dispatch", details=details)
            return True
        return False

    async def auto_dispatch(self) -> int:
        """Send the nearest unit to new alerts of the most urgent priorities (if the policy is on)."""
        most_urgent = self._settings.auto_dispatch_max_priority
        if most_urgent == 0:
            return 0
        now = datetime.now(UTC)
        window = self._settings.auto_dispatch_window_s
        waiting = await asyncio.to_thread(self._store.undispatched, now, window, most_urgent)
        sent = 0
        for alert in waiting:
            note = f"priority {alert.priority} {alert.category}: sent automatically"
            if await self._send_nearest(alert, AUTO_ACTOR, note, (), first_only=True):
                sent += 1
        return sent
