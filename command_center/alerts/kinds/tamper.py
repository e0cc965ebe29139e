"""Tamper alerts: a camera covered, out of focus or turned away (a TamperHit from the camera's worker).

The subject is the camera itself: one alert per camera and condition (subject 1 covered, 2 defocused,
3 moved), kept current while the condition lasts. The console shows the view now beside the usual view;
a dispatch sends a unit to look at the camera.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from command_center.alerts.kinds import KindRules, carried
from command_center.alerts.sightings import Sighting
from pipeline.contracts import Hit, LinkedSubject, ListedSubject
from pipeline.hits import TamperHit

if TYPE_CHECKING:
    from command_center.alerts.store import Alert

CONDITIONS = {"covered": (1, "lens covered"), "defocused": (2, "out of focus"), "moved": (3, "turned away")}
CATEGORY = "camera_tamper"


class TamperRules(KindRules):
    kind = "tamper"
    title = "Camera tampering"
    follows = "camera"

    def sighting(self, hit: Hit) -> Sighting:
        assert isinstance(hit, TamperHit)
        subject, said = CONDITIONS[hit.condition]
        return Sighting(
            **carried(hit),
            kind="tamper",
            subject_id=subject,
            subject_name=f"camera {said}",
            category=CATEGORY,
            score=hit.score,
            details={"condition": hit.condition, "since": hit.since.isoformat(), "measures": hit.measures},
        )

    def links(self, alert: Alert) -> dict[str, str]:
        return {}

    def subject(self, alert: Alert) -> LinkedSubject:
        return LinkedSubject(kind="camera", id=None, name=f"{alert.camera_id}: {alert.profile_name}")

    def reason(self, alert: Alert, where: str) -> str:
        since = (alert.details or {}).get("since")
        when = f" since {since[11:19]} UTC" if isinstance(since, str) and len(since) >= 19 else ""
        return (
            f"camera tampering: {where} {alert.profile_name.removeprefix('camera ')}{when}; check the camera"
        )

    def listed(self, alert: Alert) -> ListedSubject:
        return ListedSubject(caption="Usual view", photo=f"/alerts/{alert.id}/evidence/scene")


RULES = TamperRules()
