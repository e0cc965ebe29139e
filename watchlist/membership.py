"""Which watch lists a profile is on: read inside any transaction, and set when a profile is enrolled.

Kept apart from ``watchlist.lists`` (which calibrates and changes lists) so the profile store can put a
new profile on its lists in the enrolment's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from watchlist.governance import InvalidProfileError
from watchlist.tables import watch_list_members, watch_lists

_CHUNK = 500
_ACTIVE = "active"


class UnknownListError(InvalidProfileError):
    def __init__(self, list_id: int) -> None:
        super().__init__(f"no active watch list with id {list_id} that profiles can be put on")
        self.list_id = list_id


def member_lists(conn: Connection, profile_ids: Sequence[int]) -> dict[int, list[int]]:
    """Profile id -> the ids of the active lists it is a member of (all-profile lists not included)."""
    found: dict[int, list[int]] = {}
    for start in range(0, len(profile_ids), _CHUNK):
        chunk = list(profile_ids[start : start + _CHUNK])
        query = (
            select(watch_list_members.c.profile_id, watch_list_members.c.list_id)
            .join(watch_lists, watch_lists.c.id == watch_list_members.c.list_id)
            .where(watch_list_members.c.profile_id.in_(chunk), watch_lists.c.status == _ACTIVE)
            .order_by(watch_list_members.c.list_id)
        )
        for profile_id, list_id in conn.execute(query).all():
            found.setdefault(int(profile_id), []).append(int(list_id))
    return found


def member_lists_on(conn: Connection, list_id: int, profile_ids: Sequence[int]) -> list[int]:
    """Which of ``profile_ids`` are on the list."""
    query = select(watch_list_members.c.profile_id).where(
        watch_list_members.c.list_id == list_id, watch_list_members.c.profile_id.in_(list(profile_ids))
    )
    return [int(i) for i in conn.execute(query).scalars()]


def join_lists(
    conn: Connection, profile_id: int, category: str, lists: Sequence[int] | None, actor: str
) -> list[int]:
    """Inside an enrolment's transaction: the new profile joins ``lists``, or by default the active list
    that takes its category (none if there is none). UnknownListError names a list that does not exist,
    is archived, or holds every profile already."""
    chosen = chosen_lists(conn, category, lists)
    add_members(conn, [(profile_id, chosen)], actor)
    return chosen


def chosen_lists(conn: Connection, category: str, lists: Sequence[int] | None) -> list[int]:
    """The lists a new profile of ``category`` joins: ``lists`` once checked, or the active list that
    takes its category (none if there is none). Raises UnknownListError as ``join_lists``."""
    if lists is None:
        found = conn.execute(
            select(watch_lists.c.id).where(
                watch_lists.c.auto_category == category, watch_lists.c.status == _ACTIVE
            )
        ).first()
        return [int(found.id)] if found is not None else []
    chosen = sorted(set(lists))
    rows = conn.execute(
        select(watch_lists.c.id, watch_lists.c.all_profiles).where(
            watch_lists.c.id.in_(chosen), watch_lists.c.status == _ACTIVE
        )
    ).all()
    usable = {int(r.id) for r in rows if not r.all_profiles}
    missing = [i for i in chosen if i not in usable]
    if missing:
        raise UnknownListError(missing[0])
    return chosen


def add_members(conn: Connection, joins: Sequence[tuple[int, Sequence[int]]], actor: str) -> None:
    """Each (profile id, list ids) of ``joins`` put on its lists, in one statement."""
    now = datetime.now(UTC)
    rows = [
        {"list_id": i, "profile_id": profile_id, "added_by": actor, "added_at": now}
        for profile_id, chosen in joins
        for i in chosen
    ]
    if rows:
        conn.execute(insert(watch_list_members), rows)
