"""The kinds of alert, in one place: what a kind is called on the bus, in the store, the API and the console.

``face`` and ``plate`` arrive as hits on ``safecity.hits.<kind>.<camera>`` (their contracts are in
``pipeline.contracts.HIT_CONTRACTS``); ``checkin`` is raised by the command centre itself when a hotel
guest's CNIC is a CRO person's.
"""

from __future__ import annotations

from typing import Literal, get_args

AlertKind = Literal["face", "plate", "checkin"]
HitKind = Literal["face", "plate"]  # the kinds that arrive from workers as hits

ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
HIT_KINDS: tuple[str, ...] = get_args(HitKind)


def hit_kind(name: str) -> HitKind:
    """The hit kind a subject token names; ValueError for any other (an unknown kind is never guessed)."""
    if name == "face":
        return "face"
    if name == "plate":
        return "plate"
    raise ValueError(f"no kind of hit is called {name!r} (known: {', '.join(HIT_KINDS)})")
