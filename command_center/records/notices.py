"""Officers' personal watchlists: tell each follower when a person is seen, checks in, or is arrested.

A ``PersonNotice`` goes to ``subjects.records_officer(<government ID>)`` in the SAFECITY_RECORDS
stream, with a durable consumer per officer (made at their first notice or first connection), so an
officer whose phone was offline reads every notice later. These notices have their own subject and
stream; the officer's WebSocket (``officer_channel.py``) relays them, as ``person_notice``, beside the
dispatch notices.

"Seen by a camera" comes from the alert fan-out: every *new* face alert of a watchlist profile that a
CRO person is linked to, and every *new* plate alert of a hotlisted vehicle that is one of a person's
known vehicles (by its hotlist entry, or by the same registration number: ``vehicle_seen``). Each
replica hears every alert event, so each notice carries a ``Nats-Msg-Id`` derived from what it
reports: JetStream keeps one copy however many replicas publish it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
)
from nats.js.errors import APIError
from pydantic import ValidationError

from command_center.alerts import kinds
from command_center.dispatch.officer_channel import Feed, browser_json
from command_center.records.store import PersonStore
from command_center.records.types import Person
from command_center.security.users import UserStore
from pipeline.adapters.streams import ensure_stream, records_stream_config
from pipeline.contracts import AlertEvent, PersonNotice
from pipeline.settings import CameraConfig
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)


def consumer_name(officer_key: str) -> str:
    return f"records-officer-{officer_key}"


class FollowNotifier:
    def __init__(
        self,
        nc: NATS,
        names: Subjects,
        store: PersonStore,
        users: UserStore,
        cameras: Mapping[str, CameraConfig],
        *,
        ack_wait_s: float,
    ) -> None:
        self._nc = nc
        self._names = names
        self._js: JetStreamContext = nc.jetstream()
        self._store = store
        self.users = users
        self._cameras = cameras  # camera id -> camera, live (the command centre's camera directory)
        self._ack_wait_s = ack_wait_s
        self._consumers: set[str] = set()
        self._subscription: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0

    async def start(self) -> None:
        await ensure_stream(self._js, records_stream_config(self._names))
        self._subscription = await self._nc.subscribe(self._names.alert_events(), cb=self._on_alert_event)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def ensure_consumer(self, officer_key: str) -> None:
        if officer_key in self._consumers:
            return
        config = ConsumerConfig(
            durable_name=consumer_name(officer_key),
            description="an officer's personal-watchlist notices",
            filter_subject=self._names.records_officer(officer_key),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=256,
        )
        try:
            await self._js.add_consumer(self._names.records_stream, config)
        except APIError as exc:
            log.warning("using the records consumer %s as it is: %s", config.durable_name, exc)
        self._consumers.add(officer_key)

    def feed(self, officer_key: str) -> Feed:
        """The officer's notices for their WebSocket: ``{"type": "person_notice", "notice": {...}}``."""

        async def render(data: bytes) -> dict[str, Any]:
            return {"type": "person_notice", "notice": browser_json(PersonNotice.from_bytes(data))}

        ensure = functools.partial(self.ensure_consumer, officer_key)
        return Feed(self._names.records_stream, consumer_name(officer_key), ensure, render)

    # -- telling followers ---------------------------------------------------------------------------

    async def notify(self, person: Person, kind: str, dedup: str, **about: object) -> int:
        """Publish a notice to every officer following ``person``; returns how many were told.

        ``dedup`` names the event (e.g. ``alert:17``) so replicas and retries publish it once per officer.
        ``about`` fills the rest of ``PersonNotice`` (at, summary, place, district, alert_id, ...).
        """
        officer_ids = await asyncio.to_thread(self._store.followers, person.id)
        told = 0
        for officer_id in officer_ids:
            user = await asyncio.to_thread(self.users.get, officer_id)
            if user is None or not user.active:
                continue
            notice = PersonNotice(
                kind=kind,
                officer_id=officer_id,
                person_id=person.id,
                person_name=person.name,
                category=person.category,
                person_url=f"/persons/{person.id}",
                **about,
            )
            try:
                msg_id = f"{kind}:{dedup}:{person.id}:{user.government_id}"
                await self._publish(user.government_id, notice, msg_id)
                told += 1
            except Exception:
                log.exception("could not notify officer %s about person %s", officer_id, person.id)
        return told

    async def tell(self, officer_key: str, notice: PersonNotice, msg_id: str) -> None:
        """Publish one notice to one officer (a Government ID); ``msg_id`` names it for deduplication."""
        await self._publish(officer_key, notice, msg_id)

    async def _publish(self, officer_key: str, notice: PersonNotice, msg_id: str) -> None:
        await self.ensure_consumer(officer_key)
        await self._js.publish(
            self._names.records_officer(officer_key),
            notice.to_bytes(),
            stream=self._names.records_stream,
            headers={"Nats-Msg-Id": msg_id},
        )
        self.published += 1

    # -- "seen by a camera" --------------------------------------------------------------------------

    async def _on_alert_event(self, msg: Msg) -> None:
        try:
            event = AlertEvent.from_bytes(msg.data)
        except (ValidationError, ValueError):
            return
        alert = event.alert
        follows = kinds.rules(alert.kind).follows
        if event.kind != "created" or follows not in ("profile", "vehicle"):
            return  # a check-in's screening tells the person's followers itself
        details = alert.details or {}
        if details.get("source") == "checkin":
            return  # the check-in screening tells followers itself
        if follows == "vehicle":
            plate = details.get("plate")
            work = self._vehicle_seen(event, alert.profile_id, plate if isinstance(plate, str) else "")
        else:
            work = self._seen(event, alert.profile_id)
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _seen(self, event: AlertEvent, profile_id: int) -> None:
        try:
            persons = await asyncio.to_thread(self._store.by_watchlist_profile, profile_id)
            for person in persons:
                dedup = f"alert:{event.alert_id}:{event.alert.created_at.isoformat()}"
                await self.notify(person, "seen", dedup, **self._sighting(event))
        except Exception:
            log.exception("could not tell followers about alert %s", event.alert_id)

    async def _vehicle_seen(self, event: AlertEvent, entry_id: int, plate_key: str) -> None:
        """A plate alert (the hotlist entry ``entry_id``, plate ``plate_key``): tell the followers of
        every person who has that vehicle among their known vehicles."""
        try:
            persons = await asyncio.to_thread(self._store.by_vehicle, entry_id, plate_key)
            shown = event.alert.profile_name or plate_key
            for person in persons:
                about = self._sighting(event)
                about["summary"] = f"vehicle {shown} seen on camera {about['place']}"[:500]
                dedup = f"alert:{event.alert_id}:{event.alert.created_at.isoformat()}"
                await self.notify(person, "vehicle_seen", dedup, **about)
        except Exception:
            log.exception("could not tell followers about plate alert %s", event.alert_id)

    def _sighting(self, event: AlertEvent) -> dict[str, object]:
        camera = self._cameras.get(event.camera_id)
        where = (camera.name if camera and camera.name else None) or event.camera_id
        at = event.alert.first_seen
        district = event.alert.district
        return {
            "at": at,
            "summary": f"seen on camera {where}",
            "place": where,
            "district": district,
            "latitude": camera.latitude if camera else None,
            "longitude": camera.longitude if camera else None,
            "alert_id": event.alert_id,
            "camera_id": event.camera_id,
        }
