"""What differs between kinds of alert, one module per kind (``face.py``, ``plate.py``, ``fusion.py``, ...).

A kind's module holds everything the command centre does differently for it: how a hit of that kind
becomes a sighting, what its subject is and links to, what an officer is told on a dispatch, and how the
console shows what it was matched against. Each module defines ``RULES``, an instance of
:class:`KindRules`. Modules are found by the kind's name: every kind in ``pipeline.kinds.ALERT_KINDS``
must have one, and :func:`check_every_kind` (run when the command centre starts) says which is missing.
An unknown kind raises; it is never taken for another.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from command_center.alerts.sightings import Sighting
from pipeline.contracts import Hit, LinkedSubject, ListedSubject
from pipeline.kinds import ALERT_KINDS

if TYPE_CHECKING:
    from command_center.alerts.store import Alert


class KindRules:
    """The behaviour of one kind; a kind's module subclasses this and overrides what differs."""

    kind: str = ""
    title: str = ""  # how the console names the kind ("Vehicle plate")
    follows: str = "profile"  # what the alert is about (a LinkedSubject kind): profile, vehicle, person, ...

    def sighting(self, hit: Hit) -> Sighting:
        """The sighting a hit of this kind is stored as (kinds raised by the command centre: none)."""
        raise TypeError(f"alerts of kind {self.kind!r} are not raised from hits")

    def links(self, alert: Alert) -> dict[str, str]:
        """The alert summary's links for this kind: profile_photo, vehicle or person."""
        return {}

    def subject(self, alert: Alert) -> LinkedSubject:
        """The subject an officer is sent about."""
        return LinkedSubject(kind=self.follows, id=alert.profile_id, name=alert.profile_name)

    def reason(self, alert: Alert, where: str) -> str:
        """One line for a dispatch: what was seen, where, how sure."""
        category = alert.category.replace("_", " ")
        return f"{category}: {alert.profile_name} seen on {where} (score {alert.best_similarity:.2f})"

    def listed(self, alert: Alert) -> ListedSubject:
        """What the console shows the sighting was matched against."""
        return ListedSubject(caption=self.title, headline=alert.profile_name, lines=[alert.category])


_RULES: dict[str, KindRules] = {}


def rules(kind: str) -> KindRules:
    """The rules of ``kind``; ValueError for a kind that is not an alert kind or has no module."""
    found = _RULES.get(kind)
    if found is not None:
        return found
    if kind not in ALERT_KINDS:
        raise ValueError(f"no kind of alert is called {kind!r} (known: {', '.join(ALERT_KINDS)})")
    try:
        module = importlib.import_module(f"{__name__}.{kind}")
    except ModuleNotFoundError as e:
        raise ValueError(f"the alert kind {kind!r} has no module {__name__}.{kind}") from e
    found = getattr(module, "RULES", None)
    if not isinstance(found, KindRules) or found.kind != kind:
        raise ValueError(f"{__name__}.{kind} defines no RULES for the kind {kind!r}")
    _RULES[kind] = found
    return found


def check_every_kind() -> list[KindRules]:
    """Every alert kind's rules, loaded now: a kind without its module stops the start, not an alert."""
    return [rules(kind) for kind in ALERT_KINDS]


def carried(hit: Hit) -> dict[str, Any]:
    """What a hit of any kind carries into its sighting alike: where and when, the box, the images."""
    return {
        "hit_id": hit.hit_id,
        "camera_id": hit.camera_id,
        "worker_id": hit.worker_id,
        "detector_score": hit.detector_score,
        "box": hit.box.model_dump(),
        "frame_sent_at": hit.frame_sent_at,
        "captured_at": hit.captured_at,
        "timings": hit.timings.model_dump(),
        "crop_jpeg": hit.crop_jpeg,
        "scene_jpeg": hit.scene_jpeg,
        "track_id": hit.track_id,
        "priority": hit.priority,
    }


def sighting_of(hit: Hit) -> Sighting:
    return rules(hit.KIND).sighting(hit)


def described(alert: Alert) -> dict[str, Any]:
    """The parts of an alert summary that depend on its kind."""
    kind = rules(alert.kind)
    return {"listed": kind.listed(alert), **kind.links(alert)}
