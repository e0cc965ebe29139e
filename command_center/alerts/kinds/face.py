"""Face alerts: a watchlist profile seen by a camera (a FaceHit from a worker's vote over a face track)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from command_center.alerts.instructions import instruction_for
from command_center.alerts.kinds import KindRules, carried
from command_center.alerts.sightings import Sighting
from pipeline.contracts import FaceHit, Hit, LinkedSubject, ListedSubject

if TYPE_CHECKING:
    from command_center.alerts.store import Alert


class FaceRules(KindRules):
    kind = "face"
    title = "Face"
    follows = "profile"

    def sighting(self, hit: Hit) -> Sighting:
        assert isinstance(hit, FaceHit)
        details: dict[str, Any] = {"threshold": hit.threshold, "embedder": hit.embedder_model}
        if hit.decision is not None:
            details["decision"] = hit.decision.model_dump(mode="json")
        if hit.watch_list_id is not None:
            details["watch_list"] = {"id": hit.watch_list_id, "name": hit.watch_list_name}
        if hit.evidence is not None:
            details["evidence"] = hit.evidence.model_dump(mode="json")
        return Sighting(
            **carried(hit),
            kind="face",
            subject_id=hit.profile_id,
            subject_name=hit.profile_name,
            category=hit.category,
            score=hit.similarity,
            details=details,
            watch_list_id=hit.watch_list_id,
            requires_ack=hit.requires_ack,
        )

    def links(self, alert: Alert) -> dict[str, str]:
        return {"profile_photo": self._photo(alert)}

    def subject(self, alert: Alert) -> LinkedSubject:
        return LinkedSubject(
            kind="profile", id=alert.profile_id, name=alert.profile_name, photo_url=self._photo(alert)
        )

    def reason(self, alert: Alert, where: str) -> str:
        category = alert.category.replace("_", " ")
        seen = f"{alert.profile_name} seen on {where} (similarity {alert.best_similarity:.2f})"
        if instruction_for(alert.category) is not None:
            return f"welfare check, not an arrest: {category} person {seen}"
        return f"{category}: {seen}"

    def listed(self, alert: Alert) -> ListedSubject:
        return ListedSubject(caption="Enrolled", photo=self._photo(alert))

    @staticmethod
    def _photo(alert: Alert) -> str:
        return f"/watchlist/profiles/{alert.profile_id}/photo"


RULES = FaceRules()
