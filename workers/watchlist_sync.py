"""Keeps a worker's watchlist index current: start from a snapshot or the database, then follow changes.

Start. The subscription to announced changes starts first and holds what arrives meanwhile. Then the
newest snapshot in the NATS object store that fits (same backend, model and dimension; not ahead of
this database; a sample of its embeddings found in this database and by the restored index) is loaded
and caught up with the database (``watchlist.catchup``: only the profiles changed since it was taken).
If there is none, or it is damaged, a warning says so and the index is built from the database. The
held changes are applied last; each is idempotent and skipped when the state already reflects it.

Resync. Whenever the database's revision passes the one the index last matched it at (an enrolment made
while NATS was unreachable, a lost announcement), the changed profiles are read again: a catch-up, not a
full reload, so it costs the same with 1.5M profiles as with 100. Changes arriving meanwhile are held.

Publishing (``safecity watchlist snapshot``): the same sync keeps a matcher current, catches up, and
writes its state to the object store. Started from the previous snapshot, it never rebuilds either.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from pydantic import ValidationError

from pipeline.adapters.streams import ensure_stream, watchlist_stream_config
from pipeline.contracts import WatchlistChange
from pipeline.settings import Settings
from pipeline.settings.watchlist import WatchlistSnapshots
from pipeline.subjects import Subjects
from watchlist import snapshot_store
from watchlist.catchup import changes_since, stored_embeddings
from watchlist.index import StateError
from watchlist.lists import WatchLists
from watchlist.matcher import WatchlistMatcher
from watchlist.policies import ListPolicies
from watchlist.snapshot import SnapshotError, SnapshotHeader, WatchlistState, read_snapshot, write_snapshot
from watchlist.snapshot_store import SnapshotUnavailable, StoredSnapshot
from watchlist.store import WatchlistStore

log = logging.getLogger(__name__)

_TRIES = 2  # snapshots tried, newest first, before building from the database
_SAMPLE = 16  # embeddings checked against the database before a snapshot is trusted
_SAME = 0.999  # an embedding searched for must come back at least this similar
_FOREIGN = "a snapshot of another watchlist?"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WatchlistSync:
    """``settings`` None: no snapshots (load from the database only), as before they existed.
    ``policies``: the watch lists, reloaded whenever they may have changed (before the matcher is
    filled, so it keeps the profiles of the lists live then)."""

    def __init__(
        self,
        js: JetStreamContext,
        matcher: WatchlistMatcher,
        store: WatchlistStore,
        settings: Settings | None = None,
        policies: ListPolicies | None = None,
    ) -> None:
        self._js = js
        self._matcher = matcher
        self._store = store
        self._policies = policies
        self._names = settings.nats.subjects if settings else Subjects()
        self._snapshots = settings.watchlist.snapshots if settings else WatchlistSnapshots(enabled=False)
        self._bucket = self._names.watchlist_snapshots_bucket(self._snapshots.bucket)
        self._index_type = settings.watchlist.index.type if settings else ""
        self._model = settings.recognition.embedder_model if settings else ""
        self._held: list[WatchlistChange] | None = []  # changes waiting for a load or catch-up; None: none
        self._synced_at: datetime | None = None  # when the database was last read (load or catch-up)
        self.source = ""  # "database" or the snapshot's object name: where the index came from at start
        self.applied = 0
        self.resyncs = 0
        self.last_catch_up = 0  # profiles re-read from the database by the latest catch-up

    # -- start and stop --------------------------------------------------------------------------------

    async def start(self) -> None:
        await ensure_stream(self._js, watchlist_stream_config(self._names))
        self._sub = await self._js.subscribe(
            self._names.watchlist_changes(),
            cb=self._on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )
        started = time.monotonic()
        await self._load_policies()
        if not (self._snapshots.enabled and await self._start_from_snapshot()):
            at = _utcnow()
            await asyncio.to_thread(self._matcher.load, self._store)
            self._synced_at, self.source = at, "database"
        await self._release()
        log.info(
            "watchlist ready from %s in %.1fs: %d embeddings",
            self.source,
            time.monotonic() - started,
            len(self._matcher),
        )

    async def stop(self) -> None:
        await self._sub.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        try:
            change = WatchlistChange.from_bytes(msg.data)
        except ValidationError as exc:
            log.error("ignoring malformed watchlist change: %s", exc)
            return
        if self._held is not None:
            self._held.append(change)
            return
        if change.action == "lists":
            await self._lists_changed()
            return
        await asyncio.to_thread(self._matcher.apply, change)
        self.applied += 1
        log.info("watchlist change applied: %s profile %d", change.action, change.profile_id)
        if self._policies is not None:  # an approval or removal moves its lists' thresholds
            await self._load_policies()

    async def _load_policies(self) -> bool:
        """Reload the lists; returns whether which lists are live changed."""
        if self._policies is None:
            return False
        try:
            return await asyncio.to_thread(self._policies.load, self._store)
        except Exception as exc:  # the database is away: keep the lists we have
            log.warning("watch lists not reloaded: %s", exc)
            return False

    async def _lists_changed(self) -> None:
        """The lists changed: new thresholds at once; if a list went live or stopped, the profiles it
        brings or takes away (re-read by a catch-up, or dropped here)."""
        if await self._load_policies():
            dropped = await asyncio.to_thread(self._matcher.refilter)
            log.info("watch lists changed: %d profiles no longer on a live list dropped", dropped)
        await self.resync()

    async def _release(self) -> None:
        """Apply the held changes (more may arrive meanwhile), then apply changes as they come."""
        while self._held:
            batch, self._held = self._held, []
            await asyncio.to_thread(self._apply_all, batch)
        self._held = None

    def _apply_all(self, changes: list[WatchlistChange]) -> None:
        for change in changes:
            if change.action != "lists":  # the lists themselves are reloaded by whoever holds them
                self._matcher.apply(change)

    # -- catching up with the database -----------------------------------------------------------------

    async def resync_forever(self, every_s: float) -> None:
        """Catch up with the database whenever it is ahead of what the index last matched.

        An enrolment made while NATS was unreachable (the CLI works offline) is never announced;
        this is how a running worker still learns of it.
        """
        while True:
            await asyncio.sleep(every_s)
            await self.resync()

    async def resync(self) -> bool:
        try:
            current = await asyncio.to_thread(self._store.revision)
        except Exception as exc:  # the database is away: keep matching with what we have
            log.warning("watchlist revision check failed: %s", exc)
            return False
        if current <= self._matcher.loaded_revision:
            return False
        self._held = [] if self._held is None else self._held
        try:
            changed = await self._catch_up()
        except Exception as exc:  # the database went away mid-way: try again next time
            log.warning("watchlist catch-up with the database failed: %s", exc)
            return False
        finally:
            await self._release()
        self.resyncs += 1
        log.info("watchlist caught up with database revision %d: %d profiles re-read", current, changed)
        return True

    async def _catch_up(self) -> int:
        """Re-read the profiles changed since the last read (less the margin); returns how many."""
        assert self._synced_at is not None
        since = self._synced_at - timedelta(seconds=self._snapshots.catchup_margin_s)
        at = _utcnow()
        if await self._load_policies():
            await asyncio.to_thread(self._matcher.refilter)
        result = await asyncio.to_thread(changes_since, self._store, since, at)
        await asyncio.to_thread(self._apply_all, result.changes)
        self._matcher.caught_up(result.revision)
        self._synced_at, self.last_catch_up = at, len(result.changes)
        return self.last_catch_up

    # -- snapshots -------------------------------------------------------------------------------------

    async def _start_from_snapshot(self) -> bool:
        bucket = self._bucket
        try:
            stored = await snapshot_store.list_snapshots(self._js, bucket)
        except SnapshotUnavailable as exc:
            log.warning("watchlist: %s; building the index from the database", exc)
            return False
        except Exception as exc:  # NATS trouble listing: the database still works
            log.warning(
                "watchlist snapshots in %r not listed (%r); building the index from the database", bucket, exc
            )
            return False
        db_revision = await asyncio.to_thread(self._store.revision)
        for item in stored[:_TRIES]:
            why = self._unfit(item.header, db_revision)
            if why:
                log.warning("watchlist snapshot %s skipped: %s", item.name, why)
                continue
            try:
                await self._load(item)
                return True
            except (SnapshotUnavailable, SnapshotError, StateError, OSError) as exc:
                log.warning("watchlist snapshot %s unusable: %s", item.name, exc)
            except Exception as exc:  # whatever else a bad snapshot causes, the database is the way out
                log.warning("watchlist snapshot %s unusable (unexpected %r)", item.name, exc, exc_info=True)
        log.warning(
            "watchlist: no usable snapshot in bucket %r; building the index from the database", bucket
        )
        return False

    def _unfit(self, header: SnapshotHeader, db_revision: int) -> str:
        if header.index_kind != self._index_type:
            return f"it holds a {header.index_kind} index; this process uses {self._index_type}"
        if header.model != self._model:
            return f"its embeddings are from {header.model}; this process uses {self._model}"
        if header.revision > db_revision:
            return f"it is at revision {header.revision}, ahead of this database ({db_revision})"
        return ""

    def _current(self, header: SnapshotHeader, revision: int) -> bool:
        kind, model = header.index_kind, header.model
        return header.revision >= revision and kind == self._index_type and model == self._model

    async def _load(self, item: StoredSnapshot) -> None:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="safecity-watchlist-") as tmp:
            path = Path(tmp) / "snapshot"
            size = await snapshot_store.download(
                self._js, self._bucket, item.name, path, self._snapshots.download_timeout_s
            )
            fetched = time.monotonic()
            state = await asyncio.to_thread(read_snapshot, path)
        await asyncio.to_thread(self._restore_checked, state)
        restored = time.monotonic()
        self._synced_at = state.taken_at
        changed = await self._catch_up()
        self.source = item.name
        log.info(
            "watchlist snapshot %s: %.0f MB fetched in %.1fs, read and restored in %.1fs, "
            "%d profiles changed since caught up in %.1fs",
            item.name,
            size / 2**20,
            fetched - started,
            restored - fetched,
            changed,
            time.monotonic() - restored,
        )

    def _restore_checked(self, state: WatchlistState) -> None:
        """Restore ``state`` if a sample of its embeddings is this database's and the index finds them."""
        owners = state.owners
        now_us = int(_utcnow().timestamp() * 1_000_000)
        order = np.argsort(owners.profile_ids)
        rows = order[np.searchsorted(owners.profile_ids, owners.embedding_profiles, sorter=order)]
        current = np.flatnonzero(owners.expires_us[rows] > now_us)  # an expired one would not match
        rng = np.random.default_rng()
        sample = rng.choice(current, size=min(_SAMPLE, len(current)), replace=False)
        expected = {int(owners.embedding_ids[i]): int(owners.embedding_profiles[i]) for i in sample}
        stored = stored_embeddings(self._store, list(expected))
        for embedding_id, profile_id in expected.items():
            if stored.get(embedding_id, (None,))[0] != profile_id:
                raise SnapshotError(f"embedding {embedding_id} is not this database's ({_FOREIGN})")
        self._matcher.restore(state)
        for embedding_id, (profile_id, vector) in stored.items():
            found = self._matcher.match(vector[None], top_k=3)[0]
            if not any(m.profile_id == profile_id and m.similarity >= _SAME for m in found):
                raise SnapshotError(
                    f"the index does not find this database's embedding {embedding_id} ({_FOREIGN})"
                )

    async def publish(self, force: bool = False) -> str | None:
        """Catch up with the database, then publish a snapshot unless the newest one is as recent.

        Returns the new object's name, or None when nothing had changed.
        """
        self._held = [] if self._held is None else self._held
        try:
            await self._catch_up()
        finally:
            await self._release()
        bucket = self._bucket
        try:
            newest = (await snapshot_store.list_snapshots(self._js, bucket))[:1]
        except SnapshotUnavailable:
            newest = []
        revision = self._matcher.loaded_revision
        if not force and newest and self._current(newest[0].header, revision):
            log.info("watchlist snapshot %s is current (revision %d)", newest[0].name, revision)
            return None
        assert self._synced_at is not None
        taken_at, started = self._synced_at, time.monotonic()
        with tempfile.TemporaryDirectory(prefix="safecity-watchlist-") as tmp:
            path = Path(tmp) / "snapshot"
            header = await asyncio.to_thread(
                self._matcher.export, taken_at, self._model, lambda state: write_snapshot(state, path)
            )
            written = time.monotonic()
            name = await snapshot_store.publish(self._js, bucket, path, header, self._snapshots.keep)
            size = path.stat().st_size
        log.info(
            "watchlist snapshot %s published: revision %d, %d embeddings, %.0f MB, written in %.1fs, "
            "uploaded in %.1fs",
            name,
            header.revision,
            header.embeddings,
            size / 2**20,
            written - started,
            time.monotonic() - written,
        )
        return name


async def publish_snapshots(
    settings: Settings, every_s: float = 0.0, stop: asyncio.Event | None = None
) -> int:
    """``safecity watchlist snapshot``: keep a matcher current and publish it once, or every ``every_s``
    seconds until ``stop`` is set. Returns how many snapshots were published."""
    from pipeline.adapters.bus import connect
    from pipeline.adapters.database import make_engine

    stop = stop or asyncio.Event()
    nc = await connect(settings.nats_url, name="watchlist-snapshots")
    engine = make_engine(settings.resolved_database_url)
    published = 0
    try:
        store = WatchlistStore(engine)
        await asyncio.to_thread(store.create_schema)
        await asyncio.to_thread(WatchLists.open, store, settings)
        policies = ListPolicies()  # a snapshot holds what workers hold: the profiles on live lists
        matcher = WatchlistMatcher(settings, keep=policies.keeps)
        sync = WatchlistSync(nc.jetstream(), matcher, store, settings, policies)
        await sync.start()
        try:
            while True:
                published += await sync.publish() is not None
                if every_s <= 0:
                    break
                try:
                    await asyncio.wait_for(stop.wait(), every_s)
                    break
                except TimeoutError:
                    continue
        finally:
            await sync.stop()
    finally:
        await nc.drain()
        engine.dispose()
    return published
