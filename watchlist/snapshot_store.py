"""Snapshots in the NATS object store: publish, list newest first, download, prune.

Each publish is a new object, ``snapshot-<revision>-<time>``, whose description carries the snapshot's
header (watermark, backend, model, sizes), so a worker picks one without downloading the others and a
snapshot being downloaded is never overwritten underneath its reader. Older ones are deleted after a
publish, keeping ``keep``; a reader that loses its object mid-download gets an error and moves on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import nats.errors
from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.object_store import ObjectStore

from pipeline.adapters import streams
from watchlist.snapshot import SnapshotError, SnapshotHeader

log = logging.getLogger(__name__)

CHUNK_BYTES = 512 * 1024  # fewer, larger messages than the client's 128 KiB default (max_payload is 1 MiB)


class SnapshotUnavailable(RuntimeError):
    """No bucket, no snapshot, or a snapshot that could not be fetched."""


@dataclass(frozen=True)
class StoredSnapshot:
    name: str
    size: int
    header: SnapshotHeader


def object_name(header: SnapshotHeader) -> str:
    return f"snapshot-{header.revision:012d}-{header.taken_at:%Y%m%dT%H%M%S%f}Z"


async def bucket(js: JetStreamContext, name: str, create: bool = False) -> ObjectStore:
    try:
        store = await js.object_store(name)
        if create:  # the publisher keeps the bucket's replicas in line with the setting
            await streams.match_replicas(js, f"OBJ_{name}")
        return store
    except BucketNotFoundError:
        if not create:
            raise SnapshotUnavailable(f"no object store bucket {name!r}") from None
    config = api.ObjectStoreConfig(
        description="safecity watchlist index snapshots",
        storage=api.StorageType.FILE,
        replicas=streams.replicas(),
    )
    return await js.create_object_store(name, config=config)


async def publish(
    js: JetStreamContext, bucket_name: str, path: Path, header: SnapshotHeader, keep: int
) -> str:
    """Upload the snapshot file at ``path``; then delete all but the newest ``keep``. Returns its name."""
    store = await bucket(js, bucket_name, create=True)
    name = object_name(header)
    meta = api.ObjectMeta(
        name=name,
        description=json.dumps(header.describe()),
        options=api.ObjectMetaOptions(max_chunk_size=CHUNK_BYTES),
    )
    with path.open("rb") as f:
        await store.put(name, f, meta=meta)
    for old in (await list_snapshots(js, bucket_name))[keep:]:
        await store.delete(old.name)
        log.info("watchlist snapshot %s deleted (keeping %d)", old.name, keep)
    return name


async def list_snapshots(js: JetStreamContext, bucket_name: str) -> list[StoredSnapshot]:
    """The bucket's snapshots, newest watermark first (objects without a readable header are skipped)."""
    store = await bucket(js, bucket_name)
    try:
        infos = await store.list(ignore_deletes=True)
    except NotFoundError:
        return []
    found = []
    for info in infos:
        if info.deleted or not info.name.startswith("snapshot-"):
            continue
        try:
            header = SnapshotHeader.parse(json.loads(info.description or ""))
        except (ValueError, SnapshotError) as exc:
            log.warning("watchlist snapshot %s has no usable description: %s", info.name, exc)
            continue
        found.append(StoredSnapshot(info.name, int(info.size or 0), header))
    return sorted(found, key=lambda s: (s.header.revision, s.header.taken_at), reverse=True)


async def download(js: JetStreamContext, bucket_name: str, name: str, dest: Path, timeout_s: float) -> int:
    """Fetch object ``name`` into ``dest``, checking its SHA-256; returns the bytes received.

    Chunks are read with JetStream direct gets (next message on the object's chunk subject), about
    five times faster than the client's ordered push consumer (``ObjectStore.get``) on one core, and
    hashed and written in a thread while the next chunk is fetched. SnapshotUnavailable if the object
    is gone (deleted mid-way, say), damaged, or takes longer than ``timeout_s``.
    """
    store = await bucket(js, bucket_name)
    try:
        info = await store.get_info(name)
    except NotFoundError:
        raise SnapshotUnavailable(f"{name} is not in bucket {bucket_name!r}") from None
    stream, subject = f"OBJ_{bucket_name}", f"$O.{bucket_name}.C.{info.nuid}"
    size, deadline = int(info.size or 0), time.monotonic() + timeout_s
    digest, received, seq = hashlib.sha256(), 0, 0
    loop = asyncio.get_running_loop()
    with dest.open("wb") as f:

        def consume(data: bytes) -> None:
            digest.update(data)
            f.write(data)

        pending: asyncio.Future[None] | None = None
        try:
            while received < size:
                if time.monotonic() > deadline:
                    raise SnapshotUnavailable(f"download of {name} took longer than {timeout_s:.0f}s")
                msg = await js.get_msg(stream, seq=seq + 1, subject=subject, next=True, direct=True)
                if pending is not None:
                    await pending
                data = msg.data or b""
                pending = loop.run_in_executor(None, consume, data)
                received, seq = received + len(data), int(msg.seq or 0)
            if pending is not None:
                await pending
        except (NotFoundError, nats.errors.TimeoutError) as exc:
            raise SnapshotUnavailable(f"download of {name} failed after {received} bytes: {exc!r}") from None
    expected = f"SHA-256={base64.urlsafe_b64encode(digest.digest()).decode()}"
    if received != size or (info.digest or "").rstrip("=") != expected.rstrip("="):
        raise SnapshotUnavailable(f"download of {name} does not match its size or digest")
    return received
