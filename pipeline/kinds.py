"""The kinds of alert, in one place: what a kind is called on the bus, in the store, the API and the console.

A hit kind arrives from workers on ``<prefix>.hits.<kind>.<camera>`` (prefix ``safecity`` by default; its
contract, naming its ``KIND``, is in ``pipeline.hits.Hit``): ``face`` (a watchlist profile seen), ``plate``
(a hotlisted vehicle read, matched by the command centre), ``tamper`` (a camera covered, out of focus or
turned away). ``checkin`` is raised by the command centre itself when a hotel guest's CNIC is a CRO
person's, and ``fusion`` when a CRO person's face and one of their known vehicles are seen close together in
time and place. A name is at most 8 characters (the alerts' ``kind`` column). README, "Adding an analytic",
lists what else a new kind needs.
"""

from __future__ import annotations

from typing import Literal, cast, get_args

AlertKind = Literal["face", "plate", "checkin", "tamper", "fusion"]
HitKind = Literal["face", "plate", "tamper"]  # the kinds that arrive from workers as hits

ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
HIT_KINDS: tuple[str, ...] = get_args(HitKind)


def hit_kind(name: str) -> HitKind:
    """The hit kind a subject token names; ValueError for any other (an unknown kind is never guessed)."""
    if name in HIT_KINDS:
        return cast(HitKind, name)
    raise ValueError(f"no kind of hit is called {name!r} (known: {', '.join(HIT_KINDS)})")
