"""Alerts in SQL (SQLite or PostgreSQL): hits are grouped into episodes, one alert per subject per camera.

A subject is a watchlist profile (face hits) or a vehicle hotlist entry (plate hits). Each category has
an episode policy (settings ``command_center.episodes``): a sighting within ``window_s`` of the
episode's last one updates its alert; after an operator closes the alert, sightings within
``cooldown_s`` of the last one join it quietly (kept on its timeline, announced to no one).

``record_hit`` is idempotent and safe with several consumers (command-centre replicas) at once:

* its first statement claims the hit by inserting its ``hit_id`` (unique), so a redelivered hit fails
  there and is reported as a duplicate without changing anything;
* on SQLite that first write takes the database write lock, so everything after it sees the latest
  committed alerts; on PostgreSQL an advisory lock per (subject, camera) serialises the merge decision,
  so two replicas never open two alerts for the same episode.

The episode state lives in the database, in the same transaction as the alert it decides about, rather
than in Redis: a replica that crashes mid-way leaves nothing half-decided, and dedup does not degrade
when Redis is away.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from command_center.alerts import evidence_updates, kinds
from command_center.alerts.evidence_updates import EvidenceOutcome
from command_center.alerts.sightings import Sighting
from command_center.alerts.tables import alert_evidence, alert_hits, alerts
from command_center.security import evidence
from command_center.security.audit import AuditTrail
from pipeline.adapters import transactions
from pipeline.adapters.database import as_utc
from pipeline.adapters.migrations import upgrade
from pipeline.contracts import FaceEvidence, Hit
from pipeline.settings import EpisodePolicy

EvidenceKind = Literal["crop", "scene"]
EVIDENCE_ACTOR = "system:hits"  # who stores an alert's images: the hit consumer
EVIDENCE_KINDS: tuple[EvidenceKind, ...] = ("crop", "scene")
STATUS_NEW = "new"
STATUS_CLOSED = "closed"
# Statuses after which an operator is done with an alert: new sightings do not reopen it.
CLOSED_STATUSES = frozenset({STATUS_CLOSED, "resolved", "dismissed"})


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    status: str
    kind: str
    priority: int
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
    details: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    watch_list_id: int | None = None
    requires_ack: bool = True

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_STATUSES

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
    track_id: int | None
    details: dict[str, Any] | None

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
    quiet: bool = False  # joined a closed alert within its cooldown: nobody is told


class AlertStore:
    """All SQL about alerts. Synchronous: call it from a worker thread in async code."""

    def __init__(
        self,
        engine: Engine,
        *,
        merge_window_s: float = 60.0,
        cooldown_s: float = 300.0,
        policies: Mapping[str, EpisodePolicy] | None = None,
        districts: Mapping[str, str] | None = None,
        audit: AuditTrail | None = None,
    ) -> None:
        self._engine = engine
        # Given, each alert's evidence images are hashed into the audit chain as they are stored.
        self._audit = audit
        # camera id -> district; a live mapping (the camera directory) when cameras change at run time
        self._districts: Mapping[str, str] = districts if districts is not None else {}
        self._default_policy = EpisodePolicy(window_s=merge_window_s, cooldown_s=cooldown_s)
        self._policies = dict(policies or {})
        self._postgres = engine.dialect.name == "postgresql"

    def policy(self, category: str) -> EpisodePolicy:
        return self._policies.get(category, self._default_policy)

    def create_schema(self) -> None:
        """The database at the newest migration (every table: see pipeline.adapters.migrations)."""
        upgrade(self._engine)

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with transactions.connect(self._engine) as conn:
            conn.execute(text("SELECT 1"))

    # -- writing -------------------------------------------------------------------------------------

    def record_hit(self, hit: Hit | Sighting, received_at: datetime) -> HitOutcome:
        """Add a hit to its episode's alert (or open one); a hit seen before changes nothing."""
        sighting = hit if isinstance(hit, Sighting) else kinds.sighting_of(hit)
        try:
            with transactions.begin(self._engine) as conn:
                if self._audit is not None:  # the chain's lock first, as every audited request takes it
                    self._audit.lock(conn)
                hit_row = self._claim_hit(conn, sighting, received_at)
                self._lock_episode(conn, sighting)
                alert_id, created, quiet = self._merge_or_create(conn, sighting)
                conn.execute(update(alert_hits).where(alert_hits.c.id == hit_row).values(alert_id=alert_id))
                alert = self._alert(conn, alert_id)
        except IntegrityError:
            existing = self.alert_of_hit(sighting.hit_id)
            if existing is None:
                raise  # not the hit_id constraint: a real error
            return HitOutcome(existing, created=False, duplicate=True)
        assert alert is not None
        return HitOutcome(alert, created=created, duplicate=False, quiet=quiet)

    def record_evidence(self, update_: FaceEvidence) -> EvidenceOutcome:
        """A face hit's sharper images, sent after it, on the alert showing that hit's images (the rule:
        ``command_center.alerts.evidence_updates``); never opens an alert."""
        with transactions.begin(self._engine) as conn:
            AuditTrail.lock(conn)  # the chain's lock first, as every audited write takes it
            return evidence_updates.apply(conn, update_, self._audit)

    def _claim_hit(self, conn: Connection, hit: Sighting, received_at: datetime) -> int:
        result = conn.execute(
            insert(alert_hits)
            .values(
                hit_id=hit.hit_id,
                alert_id=None,
                similarity=hit.score,
                detector_score=hit.detector_score,
                box=hit.box,
                frame_sent_at=as_utc(hit.frame_sent_at) if hit.frame_sent_at else None,
                captured_at=as_utc(hit.captured_at),
                received_at=as_utc(received_at),
                worker_id=hit.worker_id,
                timings=hit.timings,
                track_id=hit.track_id,
                details=hit.details or None,
            )
            .returning(alert_hits.c.id)
        )
        return int(result.scalar_one())

    def _lock_episode(self, conn: Connection, hit: Sighting) -> None:
        if not self._postgres:
            return  # SQLite: the hit insert already holds the database's single write lock
        digest = hashlib.blake2b(f"alert:{hit.episode_key}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def _merge_or_create(self, conn: Connection, hit: Sighting) -> tuple[int, bool, bool]:
        """(alert id, created, quiet): join the open episode, or a closed one within its cooldown."""
        seen = as_utc(hit.captured_at)
        policy = self.policy(hit.category)
        reach = timedelta(seconds=max(policy.window_s, policy.cooldown_s))
        row = conn.execute(
            select(alerts)
            .where(
                alerts.c.kind == hit.kind,
                alerts.c.profile_id == hit.subject_id,
                alerts.c.camera_id == hit.camera_id,
                alerts.c.last_seen >= seen - reach,
                alerts.c.first_seen <= seen + reach,
            )
            .order_by(alerts.c.last_seen.desc())
            .limit(1)
        ).first()
        if row is not None:
            alert = Alert.from_row(row)
            gap = (seen - alert.last_seen).total_seconds()
            limit = policy.cooldown_s if alert.closed else policy.window_s
            if gap <= limit:
                self._update(conn, alert, hit, seen)
                return alert.id, False, alert.closed
        return self._create(conn, hit, seen, policy), True, False

    def _create(self, conn: Connection, hit: Sighting, seen: datetime, policy: EpisodePolicy) -> int:
        now = datetime.now(UTC)
        result = conn.execute(
            insert(alerts)
            .values(
                status=STATUS_NEW,
                kind=hit.kind,
                priority=hit.priority if hit.priority is not None else policy.priority,
                camera_id=hit.camera_id,
                district=hit.district if hit.district is not None else self._districts.get(hit.camera_id, ""),
                profile_id=hit.subject_id,
                profile_name=hit.subject_name,
                category=hit.category,
                best_similarity=hit.score,
                first_seen=seen,
                last_seen=seen,
                hit_count=1,
                first_hit_id=hit.hit_id,
                details=evidence_updates.shown(hit.details, hit.hit_id),
                watch_list_id=hit.watch_list_id,
                requires_ack=hit.requires_ack,
                created_at=now,
                updated_at=now,
            )
            .returning(alerts.c.id)
        )
        alert_id = int(result.scalar_one())
        conn.execute(insert(alert_evidence), self._evidence_rows(alert_id, hit, now))
        self._audit_evidence(conn, alert_id, hit)
        return alert_id

    def _update(self, conn: Connection, alert: Alert, hit: Sighting, seen: datetime) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "hit_count": alerts.c.hit_count + 1,
            "first_seen": min(alert.first_seen, seen),
            "last_seen": max(alert.last_seen, seen),
            "updated_at": now,
        }
        if hit.score > alert.best_similarity:
            values["best_similarity"] = hit.score
            values["details"] = evidence_updates.shown(hit.details, hit.hit_id)
            for row in self._evidence_rows(alert.id, hit, now):
                conn.execute(
                    update(alert_evidence)
                    .where(alert_evidence.c.alert_id == alert.id, alert_evidence.c.kind == row["kind"])
                    .values(jpeg=row["jpeg"], similarity=row["similarity"], updated_at=now)
                )
            self._audit_evidence(conn, alert.id, hit)
        conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**values))

    def _audit_evidence(self, conn: Connection, alert_id: int, hit: Sighting) -> None:
        """The images an alert now shows, by their hashes, in the chain with the change that stored them."""
        if self._audit is None:
            return
        hashes = {
            evidence.ref("alert_crop", alert_id): evidence.sha256(hit.crop_jpeg),
            evidence.ref("alert_scene", alert_id): evidence.sha256(hit.scene_jpeg),
        }
        details = {"evidence": hashes, "hit_id": str(hit.hit_id), "kind": hit.kind}
        self._audit.record_in(conn, EVIDENCE_ACTOR, "alert.evidence", f"alert:{alert_id}", details=details)

    @staticmethod
    def _evidence_rows(alert_id: int, hit: Sighting, now: datetime) -> list[dict[str, Any]]:
        images = {"crop": hit.crop_jpeg, "scene": hit.scene_jpeg}
        return [
            {
                "alert_id": alert_id,
                "kind": kind,
                "jpeg": jpeg,
                "similarity": hit.score,
                "updated_at": now,
            }
            for kind, jpeg in images.items()
        ]

    # -- reading -------------------------------------------------------------------------------------

    def get_alert(self, alert_id: int) -> Alert | None:
        with transactions.connect(self._engine) as conn:
            return self._alert(conn, alert_id)

    def list_alerts(
        self,
        limit: int = 50,
        before_id: int | None = None,
        camera_id: str | None = None,
        status: str | None = None,
        districts: Collection[str] | None = None,
        kind: str | None = None,
    ) -> list[Alert]:
        """Newest first; ``before_id`` pages back from an alert id; ``districts`` limits to those
        (None: every district)."""
        query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        query = query.where(*_filters(before_id, camera_id, status, districts, kind))
        with transactions.connect(self._engine) as conn:
            return [Alert.from_row(row) for row in conn.execute(query)]

    def list_about(
        self,
        subjects: Mapping[str, Collection[int]],
        *,
        limit: int = 200,
        since: datetime | None = None,
        until: datetime | None = None,
        **filters: Any,
    ) -> list[Alert]:
        """The alerts about these subjects (alert kind -> subject ids), newest first; with ``since`` and
        ``until``, only episodes seen within that span; ``filters`` as ``list_alerts`` takes them."""
        c = alerts.c
        about = [and_(c.kind == kind, c.profile_id.in_(sorted(ids))) for kind, ids in subjects.items() if ids]
        if not about:
            return []
        query = select(alerts).where(or_(*about), *_filters(**filters)).order_by(c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(c.last_seen >= as_utc(since))
        if until is not None:
            query = query.where(c.first_seen <= as_utc(until))
        with transactions.connect(self._engine) as conn:
            return [Alert.from_row(row) for row in conn.execute(query)]

    def count_hits(self, alert_id: int) -> int:
        query = select(func.count()).select_from(alert_hits).where(alert_hits.c.alert_id == alert_id)
        with transactions.connect(self._engine) as conn:
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
                c.track_id,
                c.details,
            )
            .where(c.alert_id == alert_id)
            .order_by(c.captured_at, c.id)
            .limit(limit)
        )
        with transactions.connect(self._engine) as conn:
            return [StoredHit.from_row(row) for row in conn.execute(query)]

    def evidence(self, alert_id: int, kind: EvidenceKind) -> bytes | None:
        query = select(alert_evidence.c.jpeg).where(
            alert_evidence.c.alert_id == alert_id, alert_evidence.c.kind == kind
        )
        with transactions.connect(self._engine) as conn:
            jpeg: bytes | None = conn.execute(query).scalar_one_or_none()
            return jpeg

    @staticmethod
    def _alert(conn: Connection, alert_id: int) -> Alert | None:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        return Alert.from_row(row) if row is not None else None

    def alert_of_hit(self, hit_id: uuid.UUID) -> Alert | None:
        """The alert a hit was stored in; None for a hit never stored."""
        query = select(alerts).join(alert_hits, alert_hits.c.alert_id == alerts.c.id)
        with transactions.connect(self._engine) as conn:
            row = conn.execute(query.where(alert_hits.c.hit_id == hit_id)).first()
            return Alert.from_row(row) if row is not None else None


def _filters(
    before_id: int | None = None,
    camera_id: str | None = None,
    status: str | None = None,
    districts: Collection[str] | None = None,
    kind: str | None = None,
) -> list[ColumnElement[bool]]:
    c = alerts.c
    found: list[ColumnElement[bool]] = []
    if districts is not None:
        found.append(c.district.in_(sorted(districts)))
    if before_id is not None:
        found.append(c.id < before_id)
    if camera_id is not None:
        found.append(c.camera_id == camera_id)
    if status is not None:
        found.append(c.status == status)
    if kind is not None:
        found.append(c.kind == kind)
    return found
