"""Plate alerts: a hotlisted vehicle read by a camera (a PlateHit: the command centre matched a worker's
plate read against the hotlist)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from command_center.alerts.kinds import KindRules, carried
from command_center.alerts.sightings import Sighting
from pipeline.contracts import Hit, LinkedSubject, ListedSubject, PlateHit

if TYPE_CHECKING:
    from command_center.alerts.store import Alert


class PlateRules(KindRules):
    kind = "plate"
    title = "Vehicle plate"
    follows = "vehicle"

    def sighting(self, hit: Hit) -> Sighting:
        assert isinstance(hit, PlateHit)
        return Sighting(
            **carried(hit),
            kind="plate",
            subject_id=hit.entry_id,
            subject_name=hit.plate_display,
            category=f"vehicle:{hit.status}",
            score=hit.match_score,
            details={
                "read_id": str(hit.read_id),
                "read_text": hit.read_text,
                "read_display": hit.read_display,
                "read_confidence": hit.read_confidence,
                "match_kind": hit.match_kind,
                "plate": hit.plate,
                "status": hit.status,
                "reason": hit.reason,
                "case_reference": hit.case_reference,
            },
        )

    def links(self, alert: Alert) -> dict[str, str]:
        return {"vehicle": f"/vehicles/{alert.profile_id}"}

    def subject(self, alert: Alert) -> LinkedSubject:
        """The hotlist entry as matched (kept in the alert's details): why the vehicle is to be stopped."""
        return LinkedSubject(
            kind="vehicle",
            id=alert.profile_id,
            name=alert.profile_name,
            status=_detail(alert, "status"),
            reason=_detail(alert, "reason"),
            case_reference=_detail(alert, "case_reference"),
        )

    def reason(self, alert: Alert, where: str) -> str:
        why, case = _detail(alert, "reason") or "", _detail(alert, "case_reference")
        if case and case not in why:
            why = f"{why}; {case}" if why else case
        category = alert.category.replace("_", " ")
        seen = f"{category}: vehicle {alert.profile_name} read on {where} (match {alert.best_similarity:.2f})"
        return f"{seen}: {why}" if why else seen

    def listed(self, alert: Alert) -> ListedSubject:
        status, read = _detail(alert, "status"), _detail(alert, "read_display")
        match = (_detail(alert, "match_kind") or "").replace("_", " ")
        lines = [
            status.replace("_", " ") if status else None,
            _detail(alert, "reason"),
            _detail(alert, "case_reference"),
            f"read: {read} ({match})" if read else None,
        ]
        return ListedSubject(
            caption="Hotlist entry",
            headline=_detail(alert, "plate") or alert.profile_name,
            lines=[line for line in lines if line],
        )


def _detail(alert: Alert, key: str) -> str | None:
    value = (alert.details or {}).get(key)
    return value if isinstance(value, str) and value else None


RULES = PlateRules()
