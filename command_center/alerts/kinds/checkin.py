"""Check-in alerts: a hotel guest whose CNIC is a CRO person's (raised by the command centre's screening
of check-ins, never by a worker; the hotel is in the alert's details)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from command_center.alerts.kinds import KindRules
from pipeline.contracts import ListedSubject

if TYPE_CHECKING:
    from command_center.alerts.store import Alert


class CheckinRules(KindRules):
    kind = "checkin"
    title = "Hotel check-in"
    follows = "person"

    def links(self, alert: Alert) -> dict[str, str]:
        return {"person": f"/persons/{alert.profile_id}"}

    def reason(self, alert: Alert, where: str) -> str:
        hotel = (alert.details or {}).get("hotel")
        name = hotel.get("name") if isinstance(hotel, dict) else None
        category = alert.category.replace("_", " ")
        return f"{category}: {alert.profile_name} checked in at {name or where}"

    def listed(self, alert: Alert) -> ListedSubject:
        hotel = (alert.details or {}).get("hotel")
        name = hotel.get("name") if isinstance(hotel, dict) else None
        lines = [alert.category.replace("_", " "), f"at {name}" if isinstance(name, str) else None]
        return ListedSubject(
            caption="Criminal record", headline=alert.profile_name, lines=[x for x in lines if x]
        )


RULES = CheckinRules()
