"""What an officer is told about a dispatch: built from the alert, its camera and its best crop."""

from __future__ import annotations

from command_center.alerts import kinds
from command_center.alerts.store import Alert
from command_center.dispatch.records import Dispatch
from pipeline.contracts import DispatchNotice, LinkedSubject
from pipeline.settings import CameraConfig


def subject_of(alert: Alert) -> LinkedSubject:
    """The watchlist profile (face), hotlisted vehicle (plate) or record person (check-in) of an alert."""
    return kinds.rules(alert.kind).subject(alert)


def position_of(alert: Alert, camera: CameraConfig | None) -> tuple[float, float] | None:
    """Where to go: the camera's position, else the place the alert names (a hotel check-in's hotel)."""
    if camera is not None and camera.latitude is not None and camera.longitude is not None:
        return camera.latitude, camera.longitude
    place = (alert.details or {}).get("hotel")
    if isinstance(place, dict):
        latitude, longitude = place.get("latitude"), place.get("longitude")
        if isinstance(latitude, int | float) and isinstance(longitude, int | float):
            return float(latitude), float(longitude)
    return None


def reason_of(alert: Alert, camera: CameraConfig | None) -> str:
    """One line: what was seen, where, how sure (and, for a missing person, that it is a welfare check)."""
    where = (camera.name if camera and camera.name else None) or alert.camera_id
    return kinds.rules(alert.kind).reason(alert, where)


def notice(
    kind: str,
    alert: Alert,
    dispatch: Dispatch,
    officer_id: int,
    camera: CameraConfig | None,
    photo: bytes | None,
    cancel_reason: str | None = None,
) -> DispatchNotice:
    return DispatchNotice(
        kind="cancelled" if kind == "cancelled" else "dispatch",
        dispatch_id=dispatch.id,
        alert_id=alert.id,
        unit_id=dispatch.unit_id,
        officer_id=officer_id,
        attempt=dispatch.attempt,
        camera_id=alert.camera_id,
        camera_name=camera.name if camera else "",
        district=alert.district,
        latitude=place[0] if (place := position_of(alert, camera)) else None,
        longitude=place[1] if place else None,
        category=alert.category,
        priority=alert.priority,
        subject=subject_of(alert),
        reason=reason_of(alert, camera),
        note=dispatch.note,
        photo_jpeg=photo,
        evidence_url=f"/alerts/{alert.id}/evidence/crop",
        distance_m=dispatch.distance_m,
        eta_s=dispatch.eta_s,
        ack_deadline=dispatch.ack_deadline,
        dispatched_by=dispatch.dispatched_by,
        auto=dispatch.auto,
        cancel_reason=cancel_reason,
    )
