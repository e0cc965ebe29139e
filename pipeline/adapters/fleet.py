"""The worker fleet's shared state in NATS KV: the camera catalogue, camera leases, worker presence.

Three buckets per fleet (names from ``pipeline.subjects.Subjects``):

* the catalogue (no expiry): key = camera id, value = ``CameraConfig`` JSON. Operators edit it at run
  time (``safecity cameras ...``); workers watch it.
* leases (entries expire ``ttl`` after their last write): key = camera id, value = ``CameraLease``.
  A worker claims a camera with ``create`` (refused while someone holds it) and renews with
  ``update(last=revision)`` (refused if the lease lapsed and someone else took it), so two workers
  never both hold one camera.
* presence (same expiry): key = worker id, value = ``WorkerPresence``; the live workers, for fair shares.

Values are pydantic models like every other NATS payload. Reading a bucket in full goes through a
watcher that delivers the last value of each key, one round trip for the whole bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.adapters import streams
from pipeline.contracts import utcnow
from pipeline.settings import CameraConfig, describe_validation_error
from pipeline.subjects import Subjects

log = logging.getLogger(__name__)

CATALOGUE_HISTORY = 5  # a few past versions of each camera's settings, for whoever edits them
SNAPSHOT_TIMEOUT_S = 5.0
# The server forgets a snapshot's ephemeral consumer this long after it is unsubscribed (rounds read
# buckets every couple of seconds; the client's default of 5 minutes would pile them up).
SNAPSHOT_CONSUMER_LINGER_S = 3.0


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls.model_validate_json(data)


class CameraLease(_Value):
    """Who analyses a camera; the entry's revision is the lease's fencing number."""

    worker_id: str
    claimed_at: datetime = Field(default_factory=utcnow)


class WorkerPresence(_Value):
    """A live worker and the cameras it holds (others use the count to share fairly)."""

    worker_id: str
    cameras: list[str] = Field(default_factory=list)
    started_at: datetime
    renewed_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class FleetBuckets:
    catalogue: KeyValue
    leases: KeyValue
    presence: KeyValue
    ttl_s: float  # of leases and presence, as the bucket really has it


async def open_buckets(js: JetStreamContext, names: Subjects, fleet: str, ttl_s: float) -> FleetBuckets:
    """Open (creating if missing) the fleet's three buckets.

    An existing lease bucket keeps its expiry, since every worker of the fleet must time renewals on
    the same one: the returned ``ttl_s`` is the bucket's, with a warning when it differs from ``ttl_s``.
    """
    catalogue = await ensure_bucket(js, names.cameras_bucket(fleet), history=CATALOGUE_HISTORY)
    leases = await ensure_bucket(js, names.camera_leases_bucket(fleet), ttl_s=ttl_s)
    presence = await ensure_bucket(js, names.workers_bucket(fleet), ttl_s=ttl_s)
    actual = (await leases.status()).ttl or ttl_s
    if abs(actual - ttl_s) > 0.01:
        log.warning(
            "fleet %s: the lease bucket expires entries after %.1fs, not the configured %.1fs; using %.1fs",
            fleet,
            actual,
            ttl_s,
            actual,
        )
    return FleetBuckets(catalogue, leases, presence, actual)


async def open_catalogue(js: JetStreamContext, names: Subjects, fleet: str) -> KeyValue:
    return await ensure_bucket(js, names.cameras_bucket(fleet), history=CATALOGUE_HISTORY)


async def ensure_bucket(
    js: JetStreamContext, bucket: str, *, ttl_s: float | None = None, history: int = 1
) -> KeyValue:
    return await streams.patiently(f"bucket {bucket}", lambda: _ensure_bucket(js, bucket, ttl_s, history))


async def _ensure_bucket(js: JetStreamContext, bucket: str, ttl_s: float | None, history: int) -> KeyValue:
    try:
        kv = await js.key_value(bucket)
        await streams.match_replicas(js, f"KV_{bucket}")
        return kv
    except nats.js.errors.BucketNotFoundError:
        pass
    config = KeyValueConfig(
        bucket=bucket, history=history, ttl=ttl_s, storage=StorageType.FILE, replicas=streams.replicas()
    )
    return await js.create_key_value(config)


async def next_change(watcher: KeyValue.KeyWatcher, wait_s: float) -> KeyValue.Entry | None:
    """The watcher's next entry; None marks the end of the current state. nats.errors.TimeoutError."""
    entry: KeyValue.Entry | None = await watcher.updates(timeout=wait_s)  # type: ignore[no-untyped-call]
    return entry


async def stop_watching(watcher: KeyValue.KeyWatcher) -> None:
    await watcher.stop()  # type: ignore[no-untyped-call]


async def snapshot(kv: KeyValue) -> dict[str, KeyValue.Entry]:
    """The current value of every key (deleted and expired keys are absent)."""
    watcher = await kv.watchall(ignore_deletes=True, inactive_threshold=SNAPSHOT_CONSUMER_LINGER_S)
    found: dict[str, KeyValue.Entry] = {}
    try:
        while True:
            entry = await next_change(watcher, SNAPSHOT_TIMEOUT_S)
            if entry is None:
                return found
            if entry.value is not None:
                found[entry.key] = entry
    finally:
        await stop_watching(watcher)


@dataclass(slots=True)
class Catalogue:
    """Cameras by id, and the keys whose values are not valid camera settings (with the reason)."""

    cameras: dict[str, CameraConfig] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, value: bytes | None) -> None:
        self.cameras.pop(key, None)
        self.invalid.pop(key, None)
        if value is None:
            return
        try:
            camera = CameraConfig.model_validate_json(value)
        except ValidationError as exc:
            self.invalid[key] = describe_validation_error(exc, f"camera {key}")
            return
        if camera.id != key:
            self.invalid[key] = f"camera {key}: the value names camera {camera.id!r}"
            return
        self.cameras[key] = camera


async def read_catalogue(kv: KeyValue) -> Catalogue:
    catalogue = Catalogue()
    for key, entry in (await snapshot(kv)).items():
        catalogue.add(key, entry.value)
    return catalogue


class PasswordNotStorable(ValueError):
    """The catalogue holds no passwords, only references to them (``password_ref``)."""


def camera_bytes(camera: CameraConfig) -> bytes:
    """A catalogue value: only what differs from the defaults, so workers of an older release (which
    refuse fields they do not know) keep reading every camera that uses no newer feature during a
    rolling upgrade.

    A camera whose password is given itself (not as ``password_ref``) is refused: every worker and
    every operator who can read the bucket would read the password, and it would stay in its history.
    """
    if camera.password is not None:
        raise PasswordNotStorable(
            f"camera {camera.id}: the camera catalogue holds no passwords, only where workers read them: "
            "give password_ref env:NAME or file:PATH (cameras set --password-ref) instead"
        )
    return camera.model_dump_json(exclude_defaults=True).encode()


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: list[str]
    replaced: list[str]
    kept: list[str]  # present already and left alone (no --replace)
    refused: dict[str, str] = field(default_factory=dict)  # camera id -> why (a password given itself)


async def import_cameras(kv: KeyValue, cameras: Iterable[CameraConfig], *, replace: bool) -> ImportResult:
    """Put cameras in the catalogue: new ones always, existing ones only with ``replace``."""
    added: list[str] = []
    replaced: list[str] = []
    kept: list[str] = []
    refused: dict[str, str] = {}
    for camera in cameras:
        try:
            value = camera_bytes(camera)
        except PasswordNotStorable as exc:
            refused[camera.id] = str(exc)
            continue
        try:
            await kv.create(camera.id, value)
            added.append(camera.id)
            continue
        except nats.js.errors.KeyWrongLastSequenceError:
            pass
        if replace:
            await kv.put(camera.id, value)
            replaced.append(camera.id)
        else:
            kept.append(camera.id)
    for reason in refused.values():
        log.error("camera catalogue: not importing %s", reason)
    return ImportResult(added, replaced, kept, refused)


async def seed_if_empty(kv: KeyValue, cameras: list[CameraConfig]) -> int:
    """First start of a fleet: the catalogue is empty, so it takes the configured cameras.

    Afterwards the catalogue is the truth (cameras removed at run time stay removed across restarts).
    """
    if not cameras or (await snapshot(kv)):
        return 0
    result = await import_cameras(kv, cameras, replace=False)
    return len(result.added)
