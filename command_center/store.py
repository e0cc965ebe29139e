"""Alerts in SQL (SQLite or PostgreSQL): hits are grouped into episodes, one alert per person per camera.

``record_hit`` is idempotent and safe with several consumers (command-centre replicas) at once:

* its first statement claims the hit by inserting its ``hit_id`` (unique), so a redelivered hit fails
  there and is reported as a duplicate without changing anything;
* on SQLite that first write takes the database write lock, so everything after it sees the latest
  committed alerts; on PostgreSQL an advisory lock per (profile, camera) serialises the merge decision,
  so two replicas never open two alerts for the same episode.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, Engine, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from command_center.tables import alert_evidence, alert_hits, alerts, metadata
from pipeline.contracts import FaceHit

EvidenceKind = Literal["crop", "scene"]
EVIDENCE_KINDS: tuple[EvidenceKind, ...] = ("crop", "scene")
STATUS_NEW = "new"
STATUS_CLOSED = "closed"


def as_utc(value: datetime) -> datetime:
    """Aware UTC; naive values (SQLite returns them) are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    status: str
    camera_id: str
    district: str
    profile_id: int
    profile_name: str
    category: str
    best_similarity: float
    first_seen: datetime
    last_seen: datetime
    hit_count: int
    first_hit_id: uuid.UUID
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Alert:
        data = dict(row._mapping)
        for key in ("first_seen", "last_seen", "created_at", "updated_at"):
            data[key] = as_utc(data[key])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class StoredHit:
    """One sighting in an alert's timeline (what the worker saw and when each hop happened)."""

    hit_id: uuid.UUID
    similarity: float
    detector_score: float
    box: dict[str, float]
    frame_sent_at: datetime | None
    captured_at: datetime
    received_at: datetime
    worker_id: str
    timings: dict[str, float]

    @classmethod
    def from_row(cls, row: Any) -> StoredHit:
        data = dict(row._mapping)
        for key in ("captured_at", "received_at"):
            data[key] = as_utc(data[key])
        if data["frame_sent_at"] is not None:
            data["frame_sent_at"] = as_utc(data["frame_sent_at"])
        return cls(**data)


class HitOutcome(NamedTuple):
    alert: Alert
    created: bool
    duplicate: bool


class AlertStore:
    """All SQL about alerts. Synchronous: call it from a worker thread in async code."""

    def __init__(
        self, engine: Engine, *, merge_window_s: float = 60.0, districts: Mapping[str, str] | None = None
    ) -> None:
        self._engine = engine
        self._districts = dict(districts or {})  # camera id -> district
        self._merge_window = timedelta(seconds=merge_window_s)
        self._postgres = engine.dialect.name == "postgresql"

    def create_schema(self) -> None:
        metadata.create_all(self._engine)
        self._add_district_column()

    def _add_district_column(self) -> None:
        """Databases made before alerts carried a district get the column (empty: unscoped roles only)."""
        columns = {c["name"] for c in inspect(self._engine).get_columns("alerts")}
        if "district" in columns:
            return
        with self._engine.begin() as conn:
            conn.execute(text("ALTER TABLE alerts ADD COLUMN district VARCHAR(64) NOT NULL DEFAULT ''"))

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # -- writing -------------------------------------------------------------------------------------

    def record_hit(self, hit: FaceHit, received_at: datetime) -> HitOutcome:
        """Add a hit to its episode's alert (or open one); a hit seen before changes nothing."""
        try:
            with self._engine.begin() as conn:
                hit_row = self._claim_hit(conn, hit, received_at)
                self._lock_episode(conn, hit.profile_id, hit.camera_id)
                alert_id, created = self._merge_or_create(conn, hit)
                conn.execute(update(alert_hits).where(alert_hits.c.id == hit_row).values(alert_id=alert_id))
                alert = self._alert(conn, alert_id)
        except IntegrityError:
            existing = self._alert_of_hit(hit.hit_id)
            if existing is None:
                raise  # not the hit_id constraint: a real error
            return HitOutcome(existing, created=False, duplicate=True)
        assert alert is not None
        return HitOutcome(alert, created=created, duplicate=False)

    def _claim_hit(self, conn: Connection, hit: FaceHit, received_at: datetime) -> int:
        result = conn.execute(
            insert(alert_hits)
            .values(
                hit_id=hit.hit_id,
                alert_id=None,
                similarity=hit.similarity,
                detector_score=hit.detector_score,
                box=hit.box.model_dump(),
                frame_sent_at=as_utc(hit.frame_sent_at) if hit.frame_sent_at else None,
                captured_at=as_utc(hit.captured_at),
                received_at=as_utc(received_at),
                worker_id=hit.worker_id,
                timings=hit.timings.model_dump(),
            )
            .returning(alert_hits.c.id)
        )
        return int(result.scalar_one())

    def _lock_episode(self, conn: Connection, profile_id: int, camera_id: str) -> None:
        if not self._postgres:
            return  # SQLite: the hit insert already holds the database's single write lock
        digest = hashlib.blake2b(f"alert:{profile_id}:{camera_id}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def _merge_or_create(self, conn: Connection, hit: FaceHit) -> tuple[int, bool]:
        seen = as_utc(hit.captured_at)
        row = conn.execute(
            select(alerts)
            .where(
                alerts.c.profile_id == hit.profile_id,
                alerts.c.camera_id == hit.camera_id,
                alerts.c.status != STATUS_CLOSED,
                alerts.c.last_seen >= seen - self._merge_window,
                alerts.c.first_seen <= seen + self._merge_window,
            )
            .order_by(alerts.c.last_seen.desc())
            .limit(1)
        ).first()
        if row is None:
            return self._create(conn, hit, seen), True
        self._update(conn, Alert.from_row(row), hit, seen)
        return row.id, False

    def _create(self, conn: Connection, hit: FaceHit, seen: datetime) -> int:
        now = datetime.now(UTC)
        result = conn.execute(
            insert(alerts)
            .values(
                status=STATUS_NEW,
                camera_id=hit.camera_id,
                district=self._districts.get(hit.camera_id, ""),
                profile_id=hit.profile_id,
                profile_name=hit.profile_name,
                category=hit.category,
                best_similarity=hit.similarity,
                first_seen=seen,
                last_seen=seen,
                hit_count=1,
                first_hit_id=hit.hit_id,
                created_at=now,
                updated_at=now,
            )
            .returning(alerts.c.id)
        )
        alert_id = int(result.scalar_one())
        conn.execute(insert(alert_evidence), self._evidence_rows(alert_id, hit, now))
        return alert_id

    def _update(self, conn: Connection, alert: Alert, hit: FaceHit, seen: datetime) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "hit_count": alerts.c.hit_count + 1,
            "first_seen": min(alert.first_seen, seen),
            "last_seen": max(alert.last_seen, seen),
            "updated_at": now,
        }
        if hit.similarity > alert.best_similarity:
            values["best_similarity"] = hit.similarity
            for row in self._evidence_rows(alert.id, hit, now):
                conn.execute(
                    update(alert_evidence)
                    .where(alert_evidence.c.alert_id == alert.id, alert_evidence.c.kind == row["kind"])
                    .values(jpeg=row["jpeg"], similarity=row["similarity"], updated_at=now)
                )
        conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**values))

    @staticmethod
    def _evidence_rows(alert_id: int, hit: FaceHit, now: datetime) -> list[dict[str, Any]]:
        images = {"crop": hit.crop_jpeg, "scene": hit.scene_jpeg}
        return [
            {
                "alert_id": alert_id,
                "kind": kind,
                "jpeg": jpeg,
                "similarity": hit.similarity,
                "updated_at": now,
            }
            for kind, jpeg in images.items()
        ]

    # -- reading -------------------------------------------------------------------------------------

    def get_alert(self, alert_id: int) -> Alert | None:
        with self._engine.connect() as conn:
            return self._alert(conn, alert_id)

    def list_alerts(
        self,
        limit: int = 50,
        before_id: int | None = None,
        camera_id: str | None = None,
        status: str | None = None,
        districts: Collection[str] | None = None,
    ) -> list[Alert]:
        """Newest first; ``before_id`` pages back from an alert id; ``districts`` limits to those
        (None: every district)."""
        query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        if districts is not None:
            query = query.where(alerts.c.district.in_(sorted(districts)))
        if before_id is not None:
            query = query.where(alerts.c.id < before_id)
        if camera_id is not None:
            query = query.where(alerts.c.camera_id == camera_id)
        if status is not None:
            query = query.where(alerts.c.status == status)
        with self._engine.connect() as conn:
            return [Alert.from_row(row) for row in conn.execute(query)]

    def count_hits(self, alert_id: int) -> int:
        query = select(func.count()).select_from(alert_hits).where(alert_hits.c.alert_id == alert_id)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def list_hits(self, alert_id: int, limit: int = 100) -> list[StoredHit]:
        """The alert's sightings, oldest first (the episode timeline)."""
        c = alert_hits.c
        query = (
            select(
                c.hit_id,
                c.similarity,
                c.detector_score,
                c.box,
                c.frame_sent_at,
                c.captured_at,
                c.received_at,
                c.worker_id,
                c.timings,
            )
            .where(c.alert_id == alert_id)
            .order_by(c.captured_at, c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [StoredHit.from_row(row) for row in conn.execute(query)]

    def evidence(self, alert_id: int, kind: EvidenceKind) -> bytes | None:
        query = select(alert_evidence.c.jpeg).where(
            alert_evidence.c.alert_id == alert_id, alert_evidence.c.kind == kind
        )
        with self._engine.connect() as conn:
            jpeg: bytes | None = conn.execute(query).scalar_one_or_none()
            return jpeg

    @staticmethod
    def _alert(conn: Connection, alert_id: int) -> Alert | None:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        return Alert.from_row(row) if row is not None else None

    def _alert_of_hit(self, hit_id: uuid.UUID) -> Alert | None:
        query = select(alerts).join(alert_hits, alert_hits.c.alert_id == alerts.c.id)
        with self._engine.connect() as conn:
            row = conn.execute(query.where(alert_hits.c.hit_id == hit_id)).first()
            return Alert.from_row(row) if row is not None else None
