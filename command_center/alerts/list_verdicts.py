"""One watch list's alerts per camera with the operators' verdicts, beside what its calibration expects.

The calibration bounds false alerts per stranger track; at the assumed passers-by per hour that is an
expected count of false alerts per camera over a period. Dismissed alerts (false positives) well above
it say the model meets harder conditions on that camera than it was measured in: raise the camera's
threshold, or the list's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine, select

from command_center.admin.api.watch_list_views import CameraVerdicts, ListPerformance
from command_center.alerts.tables import alerts
from command_center.alerts.verdicts import count_statuses
from pipeline.adapters import transactions
from pipeline.settings import CameraConfig
from watchlist.list_types import WatchList


def list_performance(
    engine: Engine,
    watch_list: WatchList,
    cameras: Sequence[CameraConfig],
    since: datetime,
    until: datetime,
    tracks_per_hour: float,
    sees_district: Callable[[str], bool],
) -> ListPerformance:
    query = (
        select(alerts.c.camera_id, alerts.c.district, *count_statuses())
        .where(
            alerts.c.kind == "face",
            alerts.c.watch_list_id == watch_list.id,
            alerts.c.created_at >= since,
            alerts.c.created_at < until,
        )
        .group_by(alerts.c.camera_id, alerts.c.district)
    )
    with transactions.connect(engine) as conn:
        rows = conn.execute(query).all()
    hours = (until - since).total_seconds() / 3600
    expected_per_camera = watch_list.fpir_bound * tracks_per_hour * hours if watch_list.live else 0.0
    known = {c.id: c for c in cameras}
    found: dict[str, CameraVerdicts] = {}
    for row in rows:
        if not sees_district(row.district):
            continue
        camera = known.get(row.camera_id)
        covered = camera is not None and watch_list.covers(camera.id, camera.district)
        found[row.camera_id] = _verdicts(
            row.camera_id,
            int(row.total),
            int(row.confirmed),
            int(row.false_positive),
            int(row.open),
            expected_per_camera if covered else 0.0,
            camera.face_threshold if camera is not None else None,
        )
    for camera in cameras:  # cameras where the list is live but nothing was raised count too
        covered = "face" in camera.analytics and watch_list.covers(camera.id, camera.district)
        if covered and camera.id not in found and sees_district(camera.district):
            found[camera.id] = _verdicts(camera.id, 0, 0, 0, 0, expected_per_camera, camera.face_threshold)
    return ListPerformance(
        list_id=watch_list.id,
        since=since,
        until=until,
        hours=round(hours, 2),
        threshold=watch_list.threshold,
        false_alerts_per_camera_hour=watch_list.fpir_bound * tracks_per_hour,
        cameras=sorted(found.values(), key=lambda c: (-c.false_positive, -c.alerts, c.camera_id)),
    )


def _verdicts(
    camera_id: str,
    total: int,
    confirmed: int,
    false_positive: int,
    open_: int,
    expected: float,
    face_threshold: float | None,
) -> CameraVerdicts:
    decided = confirmed + false_positive
    return CameraVerdicts(
        camera_id=camera_id,
        alerts=total,
        confirmed=confirmed,
        false_positive=false_positive,
        open=open_,
        false_positive_rate=round(false_positive / decided, 4) if decided else None,
        expected_false_alerts=expected,
        face_threshold=face_threshold,
    )
