"""Fusion alerts: a CRO person's face and one of their known vehicles seen close together (raised by the
command centre's face + plate fusion, ``command_center.records.fusion``, never by a worker).

The alert's subject is the record person; its details name both alerts it fuses (``face_alert`` and
``plate_alert``: id, link, evidence, camera, time), and its evidence is the face crop (crop) and the plate
crop (scene)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from command_center.alerts.kinds import KindRules
from pipeline.contracts import ListedSubject

if TYPE_CHECKING:
    from command_center.alerts.store import Alert


class FusionRules(KindRules):
    kind = "fusion"
    title = "Face + vehicle"
    follows = "person"

    def links(self, alert: Alert) -> dict[str, str]:
        return {"person": f"/persons/{alert.profile_id}"}

    def reason(self, alert: Alert, where: str) -> str:
        category = alert.category.replace("_", " ")
        plate = _part(alert, "plate_alert").get("plate") or "a known vehicle"
        return f"{category}: {alert.profile_name} seen on {where} with vehicle {plate}"

    def listed(self, alert: Alert) -> ListedSubject:
        plate = _part(alert, "plate_alert").get("plate")
        lines = [f"face + vehicle {plate}" if plate else None, _apart(alert)]
        return ListedSubject(
            caption="Criminal record: face and vehicle",
            headline=alert.profile_name,
            lines=[line for line in lines if line],
        )


def _part(alert: Alert, key: str) -> dict[str, Any]:
    value = (alert.details or {}).get(key)
    return value if isinstance(value, dict) else {}


def _apart(alert: Alert) -> str | None:
    details = alert.details or {}
    gap, distance = details.get("gap_s"), details.get("distance_m")
    if not isinstance(gap, int | float) or not isinstance(distance, int | float):
        return None
    return f"{gap:.0f} s and {distance:.0f} m apart"


RULES = FusionRules()
