"""Plate reads from JetStream: kept in the read log, matched against the vehicle hotlist, hits published.

Every vehicle pass an ANPR camera reads arrives as a PlateRead. The command centre (a durable pull
consumer shared by its replicas) stores it in ``plate_reads`` (investigators ask "where was this vehicle
seen"), matches it against the hotlist in memory (tolerant to OCR confusions, see watchlist.plate_match)
and, for a hotlisted vehicle that should alert, publishes a PlateHit on ``hits.plate.<camera>``. The
hit consumer turns that into an alert like any face hit. The read is acknowledged only after both
writes, and the hit carries a Nats-Msg-Id made from the read, so a redelivered read neither stores
twice nor alerts twice.

Matching happens here rather than in the workers so that a hotlist change (a vehicle recovered, a new
stolen car) takes effect at once for every camera, without distributing the hotlist to the edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Container
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from command_center.admin.deadletters import retryable
from command_center.alerts.tables import plate_reads
from command_center.pull_loop import PullLoop
from pipeline.adapters import transactions
from pipeline.adapters.database import as_utc
from pipeline.adapters.migrations import upgrade
from pipeline.adapters.streams import hits_stream_config, plates_stream_config
from pipeline.contracts import PlateHit, PlateRead
from pipeline.subjects import Subjects
from watchlist.plate_match import HotlistMatch, HotlistMatcher
from watchlist.vehicles import VehicleHotlist

log = logging.getLogger(__name__)

FETCH_BATCH = 32
ACK_WAIT_S = 30.0
MAX_DELIVER = -1  # never give up on a read while the database is away (see consumer.MAX_DELIVER)
RETRY_DELAY_S = 5.0
HOTLIST_REFRESH_S = 2.0


@dataclass(slots=True)
class PlateReadStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    matched: int = 0
    hits_published: int = 0
    invalid: int = 0
    failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_utc = as_utc  # a naive moment (a date-only input) is taken to be UTC


class PlateReadLog:
    """The read log in SQL. Synchronous: call it from a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self._engine)

    def record(self, read: PlateRead, entry_id: int | None, received_at: datetime) -> bool:
        """Store one read; False when it was stored before (a redelivery)."""
        try:
            with transactions.begin(self._engine) as conn:
                conn.execute(
                    insert(plate_reads).values(
                        read_id=read.event_id,
                        camera_id=read.camera_id,
                        worker_id=read.worker_id,
                        track_id=read.track_id,
                        plate_key=read.text,
                        display=read.display,
                        country=read.country,
                        confidence=read.confidence,
                        frames_read=read.frames_read,
                        first_seen=_utc(read.first_seen_at),
                        last_seen=_utc(read.last_seen_at),
                        received_at=received_at,
                        hotlist_entry_id=entry_id,
                        crop_jpeg=read.crop_jpeg,
                    )
                )
        except IntegrityError:
            return False
        return True

    def sightings(
        self,
        plate_key: str | None = None,
        camera_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Reads newest first, filtered; the crop is fetched separately (``crop``)."""
        c = plate_reads.c
        query = select(*(col for col in plate_reads.columns if col.name != "crop_jpeg"))
        if plate_key is not None:
            query = query.where(c.plate_key.like(plate_key.replace("*", "%")))
        if camera_id is not None:
            query = query.where(c.camera_id == camera_id)
        if since is not None:
            query = query.where(c.last_seen >= since)
        if until is not None:
            query = query.where(c.first_seen <= until)
        query = query.order_by(c.last_seen.desc(), c.id.desc()).limit(limit)
        with transactions.connect(self._engine) as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        for row in rows:
            for key in ("first_seen", "last_seen", "received_at"):
                row[key] = _utc(row[key])
        return rows

    def camera_of(self, read_id: uuid.UUID) -> str | None:
        with transactions.connect(self._engine) as conn:
            found: str | None = conn.execute(
                select(plate_reads.c.camera_id).where(plate_reads.c.read_id == read_id)
            ).scalar_one_or_none()
            return found

    def crop(self, read_id: uuid.UUID) -> bytes | None:
        with transactions.connect(self._engine) as conn:
            found: bytes | None = conn.execute(
                select(plate_reads.c.crop_jpeg).where(plate_reads.c.read_id == read_id)
            ).scalar_one_or_none()
            return found


def plate_hit(read: PlateRead, match: HotlistMatch) -> PlateHit:
    entry = match.entry
    return PlateHit(
        camera_id=read.camera_id,
        read_id=read.event_id,
        worker_id=read.worker_id,
        track_id=read.track_id,
        read_text=read.text,
        read_display=read.display,
        read_confidence=read.confidence,
        entry_id=entry.id,
        plate=entry.plate_key,
        plate_display=entry.plate,
        status=entry.status.value,
        priority=entry.priority,
        reason=entry.reason,
        case_reference=entry.case_reference or None,
        match_kind=match.kind,
        match_score=max(0.0, min(1.0, match.score)),
        frame_sent_at=read.frame_sent_at,
        captured_at=read.captured_at,
        box=read.box,
        detector_score=read.detector_score,
        crop_jpeg=read.crop_jpeg,
        scene_jpeg=read.scene_jpeg,
        timings=read.timings,
    )


class PlateReadConsumer(PullLoop):
    origin = "plates"
    what = "plate reads"

    def __init__(
        self,
        nc: NATS,
        names: Subjects,
        engine: Engine,
        *,
        name: str,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
        retry_delay_s: float = RETRY_DELAY_S,
        cameras: Container[str] | None = None,
    ) -> None:
        super().__init__(nc, names, name=name, batch=FETCH_BATCH, cameras=cameras)
        self._retry_delay_s = retry_delay_s
        self.log = PlateReadLog(engine)
        self._hotlist = VehicleHotlist(engine)
        self.matcher = HotlistMatcher()
        self._deliver_policy = deliver_policy
        self._checked_hotlist = 0.0
        self.stats = PlateReadStats()

    async def start(self) -> None:
        await asyncio.to_thread(self.log.create_schema)
        await asyncio.to_thread(self.matcher.load, self._hotlist)
        self._checked_hotlist = time.monotonic()
        await super().start()

    def streams(self) -> list[StreamConfig]:
        return [plates_stream_config(self.names), hits_stream_config(self.names)]

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._name,
            description="command centre: plate reads to the read log and hotlist hits",
            filter_subject=self.names.plates_read_all(),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            max_deliver=MAX_DELIVER,
            deliver_policy=self._deliver_policy,
            max_ack_pending=10 * FETCH_BATCH,
        )

    async def before_batch(self) -> None:
        await self._refresh_hotlist()

    async def _refresh_hotlist(self) -> None:
        """Pick up hotlist changes (made by any replica) at most every HOTLIST_REFRESH_S."""
        if time.monotonic() - self._checked_hotlist < HOTLIST_REFRESH_S:
            return
        self._checked_hotlist = time.monotonic()
        try:
            await asyncio.to_thread(self.matcher.refresh, self._hotlist)
        except Exception:
            log.exception("could not refresh the vehicle hotlist; matching against the last one loaded")

    async def handle(self, msg: Msg) -> None:
        self.stats.received += 1
        try:
            read = PlateRead.from_bytes(msg.data)
        except ValueError as exc:
            self.stats.invalid += 1
            await self.give_up(msg, f"not a PlateRead: {exc}", {}, self._retry_delay_s)
            return
        ids = {"camera_id": read.camera_id, "event_id": str(read.event_id)}
        if msg.subject.rsplit(".", 1)[-1] != read.camera_id:
            self.stats.invalid += 1
            await self.give_up(
                msg, f"camera {read.camera_id!r} in a read on {msg.subject}", ids, self._retry_delay_s
            )
            return
        if await self.refused_camera(msg, read.camera_id, ids, self._retry_delay_s):
            return
        matches = [m for m in self.matcher.match(read.text) if m.entry.alerting()]
        best = matches[0] if matches else None
        try:
            stored = await asyncio.to_thread(
                self.log.record, read, best.entry.id if best else None, datetime.now(UTC)
            )
            if best is not None:
                self.stats.matched += 1
                hit = plate_hit(read, best)
                # Same id for a redelivered read: JetStream drops the second copy within its window,
                # and the alert store would recognise the hit_id anyway.
                hit = hit.model_copy(update={"event_id": uuid.uuid5(read.event_id, f"hit:{best.entry.id}")})
                await self._js.publish(
                    self.names.hits("plate", read.camera_id),
                    hit.to_bytes(),
                    headers={"Nats-Msg-Id": str(hit.event_id)},
                )
                self.stats.hits_published += 1
        except Exception as exc:
            if not retryable(exc):
                self.stats.invalid += 1
                await self.give_up(msg, f"read {read.event_id} refused: {exc}", ids, self._retry_delay_s)
                return
            self.stats.failures += 1
            self._repeats.failed(
                "store", "could not handle plate read %s; will retry: %s", read.event_id, exc
            )
            with contextlib.suppress(Exception):
                await msg.nak(delay=self._retry_delay_s)
            return
        if stored:
            self.stats.stored += 1
        else:
            self.stats.duplicates += 1
        await msg.ack()
