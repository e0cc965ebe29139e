"""Watch lists in the database: create, change, archive; who is on them; thresholds kept calibrated.

Every change that affects matching bumps the watchlist revision in the same transaction, so workers
that missed its announcement still catch up (``watchlist.catchup``). A change of membership, or of
whether a list is live, also touches the ``updated_at`` of the profiles concerned: the catch-up re-reads
exactly those, and a worker keeps (or drops) them by the lists they are now on.

A list's threshold is recomputed whenever its size or its target changes (``pipeline.calibration``);
``recalibrate`` also runs on a schedule, because entries expire and approvals add members.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pipeline.adapters import transactions
from pipeline.calibration import Calibration
from pipeline.contracts import WatchlistChange
from pipeline.settings import Settings
from watchlist.catchup import changes_for
from watchlist.governance import IN_FORCE, validate_actor
from watchlist.list_calibration import Calibrator
from watchlist.list_types import (
    ListConflictError,
    ListNotFoundError,
    ListStatus,
    Mode,
    WatchList,
    WatchListError,
    list_from_row,
    validate_description,
    validate_floor,
    validate_grants,
    validate_list_name,
    validate_priority,
    validate_purpose,
    validate_scope,
    validate_target,
)
from watchlist.membership import member_lists, member_lists_on
from watchlist.store import CATEGORIES, ProfileNotFoundError, WatchlistStore
from watchlist.tables import face_embeddings, profiles, watch_list_members, watch_lists

MAX_MEMBERS_PER_CHANGE = 10_000
SYSTEM = "system:watch-lists"


@dataclass(frozen=True, slots=True)
class ListSpec:
    """A new list, as asked for; validated by ``WatchLists.create``."""

    name: str
    purpose: str
    mode: Mode = Mode.SEARCH
    priority: int = 3
    description: str = ""
    cameras: Sequence[str] = ()
    districts: Sequence[str] = ()
    requires_ack: bool = True
    viewers: Sequence[str] = ()
    editors: Sequence[str] = ("role:supervisor",)
    target_fpir: float | None = None
    threshold_floor: float | None = None
    all_profiles: bool = False
    auto_category: str | None = None


# The lists a new deployment starts with: curated live lists for the categories that send officers, the
# record categories searchable only, and the whole gallery for investigative search.
DEFAULT_LISTS: tuple[ListSpec, ...] = (
    ListSpec(
        "Wanted", "wanted", Mode.LIVE, 1, "Wanted persons with a warrant or FIR", auto_category="wanted"
    ),
    ListSpec("Missing persons", "missing", Mode.LIVE, 2, "Welfare checks", auto_category="missing"),
    ListSpec("Watch", "watch", Mode.LIVE, 3, "Persons under watch orders", auto_category="watch"),
    ListSpec("Habitual burglars and thieves", "habitual_offender", auto_category="hbt"),
    ListSpec("History sheeters", "habitual_offender", auto_category="history_sheeter"),
    ListSpec("Rowdy sheeters", "habitual_offender", auto_category="rowdy_sheeter"),
    ListSpec("Local offenders", "habitual_offender", auto_category="local"),
    ListSpec("Non-local offenders", "habitual_offender", auto_category="non_local"),
    ListSpec(
        "CRO gallery",
        "cro",
        Mode.SEARCH,
        5,
        "Every profile in force: ranked candidates for investigators, never camera alerts",
        editors=(),
        all_profiles=True,
    ),
)


@dataclass(frozen=True, slots=True)
class ListChange:
    """A committed change and what it means for workers."""

    watch_list: WatchList
    revision: int
    profiles: tuple[int, ...] = ()  # profiles to announce again (membership or liveness changed)
    before: dict[str, Any] = field(default_factory=dict)  # changed fields' old values, for the audit


def _now() -> datetime:
    return datetime.now(UTC)


def announcements(store: WatchlistStore, change: ListChange) -> list[WatchlistChange]:
    """What workers must hear of a committed list change: the profiles it concerns again (with the lists
    they are now on), then ``lists``, so they reload the thresholds and where each list is live."""
    reload = WatchlistChange(action="lists", profile_id=0, revision=change.revision)
    return [*changes_for(store, change.profiles, _now()), reload]


_EDITABLE = (
    "name",
    "purpose",
    "description",
    "mode",
    "status",
    "priority",
    "cameras",
    "districts",
    "requires_ack",
    "viewers",
    "editors",
    "target_fpir",
    "threshold_floor",
)


class WatchLists:
    def __init__(self, store: WatchlistStore, calibrator: Calibrator) -> None:
        self._store = store
        self.calibrator = calibrator

    @classmethod
    def open(cls, store: WatchlistStore, settings: Settings) -> WatchLists:
        """The deployment's lists, the default ones created on a database that has none (ModelError if
        the embedder's calibration is missing from the registry)."""
        lists = cls(store, Calibrator.of(settings))
        lists.ensure_defaults()
        return lists

    # -- set-up --------------------------------------------------------------------------------------

    def ensure_defaults(self) -> None:
        """On a database without lists, create the default ones and put every profile on the list of its
        category (what matched before lists existed keeps matching). Safe with several processes."""
        with transactions.connect(self._store.engine) as conn:
            if conn.execute(select(func.count()).select_from(watch_lists)).scalar_one():
                return
        try:
            with transactions.begin(self._store.engine) as conn:
                now = _now()
                for spec in DEFAULT_LISTS:
                    list_id = self._insert(conn, spec, SYSTEM, now)
                    if spec.auto_category:
                        conn.execute(
                            insert(watch_list_members).from_select(
                                ["list_id", "profile_id", "added_by", "added_at"],
                                select(literal(list_id), profiles.c.id, literal(SYSTEM), literal(now)).where(
                                    profiles.c.category == spec.auto_category
                                ),
                            )
                        )
                        self._recalibrate(conn, list_id, now)
                if conn.execute(select(func.count()).select_from(watch_list_members)).scalar_one():
                    self._store.bump(conn)  # profiles now carry lists: workers re-read them
        except (IntegrityError, ListConflictError):
            # Another process created them in the same instant: its rows (unique names) refuse ours, or
            # its commit landed between our count and our insert (two command centres started together).
            pass

    # -- reading -------------------------------------------------------------------------------------

    def get(self, list_id: int) -> WatchList:
        with transactions.connect(self._store.engine) as conn:
            return self._get(conn, list_id)

    def _get(self, conn: Connection, list_id: int) -> WatchList:
        row = conn.execute(select(watch_lists).where(watch_lists.c.id == list_id)).first()
        if row is None:
            raise ListNotFoundError(list_id)
        return list_from_row(row, self._member_count(conn, row))

    def all(self, include_archived: bool = False) -> list[WatchList]:
        query = select(watch_lists).order_by(watch_lists.c.priority, watch_lists.c.id)
        if not include_archived:
            query = query.where(watch_lists.c.status == ListStatus.ACTIVE.value)
        with transactions.connect(self._store.engine) as conn:
            rows = conn.execute(query).all()
            counts = self._member_counts(conn)
            gallery = self._in_force_profiles(conn)
            return [list_from_row(r, gallery if r.all_profiles else counts.get(int(r.id), 0)) for r in rows]

    def lists_of(self, profile_id: int) -> list[int]:
        with transactions.connect(self._store.engine) as conn:
            return member_lists(conn, [profile_id]).get(profile_id, [])

    def members(self, list_id: int, limit: int, offset: int) -> tuple[list[int], int]:
        """Profile ids on the list (in id order) and how many there are."""
        with transactions.connect(self._store.engine) as conn:
            watch_list = self._get(conn, list_id)
            if watch_list.all_profiles:
                in_force = profiles.c.status.in_([s.value for s in IN_FORCE])
                ids = select(profiles.c.id).where(in_force).order_by(profiles.c.id)
            else:
                ids = (
                    select(watch_list_members.c.profile_id)
                    .where(watch_list_members.c.list_id == list_id)
                    .order_by(watch_list_members.c.profile_id)
                )
            found = [int(i) for i in conn.execute(ids.limit(limit).offset(offset)).scalars()]
            return found, watch_list.members

    def preview(
        self,
        list_id: int,
        gallery: int | None = None,
        target_fpir: float | None = None,
        threshold_floor: float | None = None,
    ) -> Calibration:
        """What the list's threshold would be at another size, target or floor (nothing is stored)."""
        watch_list = self.get(list_id)
        size = watch_list.gallery_size if gallery is None else gallery
        target = validate_target(target_fpir if target_fpir is not None else watch_list.target_fpir)
        floor = threshold_floor if threshold_floor is not None else watch_list.threshold_floor
        return self.calibrator.calibrate(size, target, validate_floor(floor))

    # -- changing lists --------------------------------------------------------------------------------

    def create(self, spec: ListSpec, actor: str) -> ListChange:
        actor = validate_actor(actor)
        with transactions.begin(self._store.engine) as conn:
            list_id = self._insert(conn, spec, actor, _now())
            revision = self._store.bump(conn)
            return ListChange(self._get(conn, list_id), revision)

    def _insert(self, conn: Connection, spec: ListSpec, actor: str, now: datetime) -> int:
        cameras, districts = validate_scope(spec.cameras, spec.districts)
        target = validate_target(spec.target_fpir or self.calibrator.default_target)
        floor = validate_floor(spec.threshold_floor)
        if spec.auto_category is not None and spec.auto_category not in CATEGORIES:
            raise WatchListError(f"auto_category must be one of: {', '.join(CATEGORIES)}")
        if spec.all_profiles and spec.mode is Mode.LIVE:
            raise ListConflictError(_GALLERY_NOT_LIVE)
        calibration = self.calibrator.calibrate(0, target, floor)
        row = {
            "name": validate_list_name(spec.name),
            "purpose": validate_purpose(spec.purpose),
            "description": validate_description(spec.description),
            "mode": Mode(spec.mode).value,
            "status": ListStatus.ACTIVE.value,
            "all_profiles": spec.all_profiles,
            "auto_category": spec.auto_category,
            "priority": validate_priority(spec.priority),
            "cameras": list(cameras),
            "districts": list(districts),
            "requires_ack": spec.requires_ack,
            "viewers": list(validate_grants("viewers", spec.viewers)),
            "editors": list(validate_grants("editors", spec.editors)),
            "target_fpir": target,
            "threshold_floor": floor,
            "created_by": actor,
            "created_at": now,
            "updated_by": actor,
            "updated_at": now,
            **_calibrated(calibration, self.calibrator),
        }
        name_taken = conn.execute(
            select(watch_lists.c.id).where(func.lower(watch_lists.c.name) == row["name"].lower())
        ).first()
        if name_taken is not None:
            raise ListConflictError(f"a list named {row['name']!r} exists already (id {name_taken.id})")
        return int(conn.execute(insert(watch_lists).values(**row).returning(watch_lists.c.id)).scalar_one())

    def update(self, list_id: int, changes: Mapping[str, Any], actor: str) -> ListChange:
        """Change some fields (``_EDITABLE``); the threshold is recomputed, and a list whose target
        cannot be met refuses to go (or stay, when its target tightens) live: ListConflictError."""
        unknown = sorted(set(changes) - set(_EDITABLE))
        if unknown:
            raise WatchListError(f"cannot change {', '.join(unknown)}")
        actor = validate_actor(actor)
        values = self._validated(changes)
        with transactions.begin(self._store.engine) as conn:
            current = self._get(conn, list_id)
            if current.all_profiles and values.get("mode") == Mode.LIVE.value:
                raise ListConflictError(_GALLERY_NOT_LIVE)
            if "name" in values and values["name"].lower() != current.name.lower():
                taken = conn.execute(
                    select(watch_lists.c.id).where(func.lower(watch_lists.c.name) == values["name"].lower())
                ).first()
                if taken is not None:
                    raise ListConflictError(f"a list named {values['name']!r} exists already")
            before = {k: _plain(getattr(current, k)) for k in values}
            now = _now()
            conn.execute(
                update(watch_lists)
                .where(watch_lists.c.id == list_id)
                .values(**values, updated_by=actor, updated_at=now)
            )
            after, calibration = self._recalibrate(conn, list_id, now)
            tightened = "target_fpir" in values or "threshold_floor" in values
            if after.live and not calibration.feasible and (tightened or not current.live):
                raise ListConflictError(f"{after.name} cannot be live: {calibration.reason}")
            touched: tuple[int, ...] = ()
            if after.live != current.live and not after.all_profiles:
                touched = self._touch_members(conn, list_id, now)
            revision = self._store.bump(conn)
            return ListChange(self._get(conn, list_id), revision, touched, before)

    def _validated(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "name":
                values[key] = validate_list_name(value)
            elif key == "purpose":
                values[key] = validate_purpose(value)
            elif key == "description":
                values[key] = validate_description(value)
            elif key == "mode":
                values[key] = Mode(value).value
            elif key == "status":
                values[key] = ListStatus(value).value
            elif key == "priority":
                values[key] = validate_priority(int(value))
            elif key in ("viewers", "editors"):
                values[key] = list(validate_grants(key, value))
            elif key == "target_fpir":
                values[key] = validate_target(float(value))
            elif key == "threshold_floor":
                values[key] = validate_floor(None if value is None else float(value))
            elif key == "requires_ack":
                values[key] = bool(value)
        if "cameras" in changes or "districts" in changes:
            cameras, districts = validate_scope(changes.get("cameras", ()), changes.get("districts", ()))
            if "cameras" in changes:
                values["cameras"] = list(cameras)
            if "districts" in changes:
                values["districts"] = list(districts)
        return values

    # -- membership ------------------------------------------------------------------------------------

    def add_members(self, list_id: int, profile_ids: Collection[int], actor: str) -> ListChange:
        """Put profiles on the list (those already on it are left as they are)."""
        return self._membership(list_id, profile_ids, actor, add=True)

    def remove_members(self, list_id: int, profile_ids: Collection[int], actor: str) -> ListChange:
        return self._membership(list_id, profile_ids, actor, add=False)

    def _membership(self, list_id: int, profile_ids: Collection[int], actor: str, add: bool) -> ListChange:
        actor = validate_actor(actor)
        wanted = sorted(set(profile_ids))
        if not wanted:
            raise WatchListError("name at least one profile")
        if len(wanted) > MAX_MEMBERS_PER_CHANGE:
            raise WatchListError(f"at most {MAX_MEMBERS_PER_CHANGE} profiles per change")
        now = _now()
        with transactions.begin(self._store.engine) as conn:
            current = self._get(conn, list_id)
            if current.all_profiles:
                raise ListConflictError(f"{current.name} holds every profile in force; nobody is added to it")
            if current.status is ListStatus.ARCHIVED:
                raise ListConflictError(f"{current.name} is archived")
            known = {
                int(i) for i in conn.execute(select(profiles.c.id).where(profiles.c.id.in_(wanted))).scalars()
            }
            missing = [p for p in wanted if p not in known]
            if missing:
                raise ProfileNotFoundError(missing[0])
            on_list = set(member_lists_on(conn, list_id, wanted))
            changed = [p for p in wanted if (p not in on_list) == add]
            if add and changed:
                conn.execute(
                    insert(watch_list_members),
                    [
                        {"list_id": list_id, "profile_id": p, "added_by": actor, "added_at": now}
                        for p in changed
                    ],
                )
            elif changed:
                conn.execute(
                    delete(watch_list_members).where(
                        watch_list_members.c.list_id == list_id, watch_list_members.c.profile_id.in_(changed)
                    )
                )
            if changed:
                conn.execute(update(profiles).where(profiles.c.id.in_(changed)).values(updated_at=now))
                self._recalibrate(conn, list_id, now)
            revision = self._store.bump(conn) if changed else self._store.revision_in(conn)
            return ListChange(self._get(conn, list_id), revision, tuple(changed))

    # -- calibration -----------------------------------------------------------------------------------

    def recalibrate(self, list_ids: Iterable[int] | None = None) -> list[WatchList]:
        """Recompute thresholds (every active list, or these); returns the lists whose threshold moved.
        A move bumps the watchlist revision, so workers reload the thresholds."""
        moved = []
        with transactions.begin(self._store.engine) as conn:
            query = select(watch_lists.c.id, watch_lists.c.threshold, watch_lists.c.strong_threshold)
            if list_ids is not None:
                query = query.where(watch_lists.c.id.in_(list(list_ids)))
            now = _now()
            for row in conn.execute(query).all():
                after, _ = self._recalibrate(conn, int(row.id), now)
                if (after.threshold, after.strong_threshold) != (row.threshold, row.strong_threshold):
                    moved.append(after)
            if moved:
                self._store.bump(conn)
        return moved

    def recalibrate_in(self, conn: Connection, profile_id: int | Sequence[int]) -> None:
        """Inside a transaction that put a profile (or several) in or out of force: its lists' thresholds
        follow, each list once. The gallery of every profile (search only, national size: counting it
        costs) follows at the next scheduled ``recalibrate``."""
        ids = [profile_id] if isinstance(profile_id, int) else list(profile_id)
        for list_id in sorted({i for found in member_lists(conn, ids).values() for i in found}):
            self._recalibrate(conn, list_id, _now())

    def _recalibrate(self, conn: Connection, list_id: int, now: datetime) -> tuple[WatchList, Calibration]:
        row = conn.execute(select(watch_lists).where(watch_lists.c.id == list_id)).one()
        size = self._gallery_size(conn, list_id, bool(row.all_profiles), now)
        calibration = self.calibrator.calibrate(size, float(row.target_fpir), row.threshold_floor)
        conn.execute(
            update(watch_lists)
            .where(watch_lists.c.id == list_id)
            .values(gallery_size=size, **_calibrated(calibration, self.calibrator))
        )
        return self._get(conn, list_id), calibration

    def _gallery_size(self, conn: Connection, list_id: int, all_profiles: bool, now: datetime) -> int:
        """Embeddings in force and unexpired on the list: each is one chance for a stranger to match."""
        joined = face_embeddings.join(profiles, profiles.c.id == face_embeddings.c.profile_id)
        where = [profiles.c.status.in_([s.value for s in IN_FORCE]), profiles.c.expires_at > now]
        if not all_profiles:
            joined = joined.join(
                watch_list_members,
                and_(
                    watch_list_members.c.profile_id == profiles.c.id, watch_list_members.c.list_id == list_id
                ),
            )
        return int(conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one())

    def _touch_members(self, conn: Connection, list_id: int, now: datetime) -> tuple[int, ...]:
        ids = select(watch_list_members.c.profile_id).where(watch_list_members.c.list_id == list_id)
        touched = tuple(int(i) for i in conn.execute(ids).scalars())
        conn.execute(update(profiles).where(profiles.c.id.in_(ids)).values(updated_at=now))
        return touched

    def _member_count(self, conn: Connection, row: Any) -> int:
        if row.all_profiles:
            return self._in_force_profiles(conn)
        query = select(func.count()).where(watch_list_members.c.list_id == row.id)
        return int(conn.execute(query).scalar_one())

    def _member_counts(self, conn: Connection) -> dict[int, int]:
        query = select(watch_list_members.c.list_id, func.count()).group_by(watch_list_members.c.list_id)
        return {int(list_id): int(n) for list_id, n in conn.execute(query).all()}

    def _in_force_profiles(self, conn: Connection) -> int:
        where = profiles.c.status.in_([s.value for s in IN_FORCE])
        return int(conn.execute(select(func.count()).select_from(profiles).where(where)).scalar_one())


_GALLERY_NOT_LIVE = (
    "a list of every profile answers investigative searches only: at national size no threshold keeps "
    "false alerts down while still finding people; put the persons who must raise alerts on a curated "
    "live list"
)


def _calibrated(calibration: Calibration, calibrator: Calibrator) -> dict[str, Any]:
    note = calibration.reason or (
        f"at {calibration.gallery:,} embeddings: similarity >= {calibration.threshold:.3f}, expected "
        f"{calibration.false_alerts_per_hour(calibrator.stranger_tracks_per_hour):.2g} false alerts per "
        f"camera-hour at {calibrator.stranger_tracks_per_hour:g} passers-by"
    )
    return {
        "threshold": calibration.threshold,
        "strong_threshold": calibration.strong_threshold,
        "fpir_bound": calibration.fpir_bound,
        "genuine_pass": calibration.genuine_pass,
        "calibration_note": note[:500],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mode | ListStatus):
        return value.value
    return value
