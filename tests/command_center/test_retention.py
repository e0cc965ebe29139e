"""Data that is no longer needed is deleted on schedule, each purge audited with its counts (both
databases, the clock moved forward): unlisted plate reads, guest photos and check-ins, closed alerts'
images, dismissed alerts; hotlisted reads kept, the audit chain never touched."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from command_center.admin.retention import Purger
from command_center.alerts.tables import alert_evidence, alerts, plate_reads
from command_center.security.permissions import Role
from pipeline.settings.retention import RetentionSettings
from tests.command_center.helpers import Served, camera, hit, jpeg
from tests.command_center.records_helpers import checkin, client, cnic, hotel_key
from tests.command_center.test_plate_reads import plate_read


def count(served: Served, table: Any, *where: Any) -> int:
    with served.app.state.services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


async def test_each_class_is_purged_after_its_retention_and_audited(served: Served) -> None:
    services = served.app.state.services
    now = datetime.now(UTC)
    cam = camera()
    # Two passing cars today, one of them on the hotlist.
    log = services.plate_reads.log
    for read, entry in (
        (plate_read(cam, "LEA1234", "LEA-1234"), None),
        (plate_read(cam, "BFR123", "BFR-123"), 1),
    ):
        fresh = read.model_copy(update={"first_seen_at": now, "last_seen_at": now, "captured_at": now})
        assert await asyncio.to_thread(log.record, fresh, entry, now)
    # A guest with a photo.
    hotel_id, key = await hotel_key(served)
    async with httpx.AsyncClient(base_url=served.url, timeout=15, headers={"X-API-Key": key}) as desk:
        photo = base64.b64encode(jpeg((10, 20, 30), 64)).decode()
        posted = await desk.post("/checkins", json=checkin("R-1", cnic(), photo_jpeg=photo))
        assert posted.status_code == 201, posted.text
    # Two alerts dismissed as false positives, one still open.
    store = services.alerts
    dismissed = [
        (await asyncio.to_thread(store.record_hit, hit(cam, profile_id=p), now)).alert.id for p in (31, 32)
    ]
    still_open = (await asyncio.to_thread(store.record_hit, hit(cam, profile_id=33), now)).alert.id
    operator = await client(served, Role.SUPERVISOR)
    async with operator:
        for alert_id in dismissed:
            done = await operator.post(
                f"/alerts/{alert_id}/dismiss", json={"reason": "not him: a look-alike"}
            )
            assert done.status_code == 200, done.text

    def purge(days: int) -> dict[str, int]:
        later = now + timedelta(days=days)
        purger = Purger(services.engine, RetentionSettings(), services.audit, clock=lambda: later)
        return {p.data: p.rows for p in purger.purge()}

    assert purge(1) == dict.fromkeys(
        ("plate_reads", "checkin_photos", "checkins", "closed_alert_images", "dismissed_alerts"), 0
    )
    assert purge(31) == {
        "plate_reads": 1,  # the unlisted car; the hotlisted read is evidence and stays
        "checkin_photos": 1,
        "checkins": 0,
        "closed_alert_images": 0,
        "dismissed_alerts": 0,
    }
    assert count(served, plate_reads, plate_reads.c.camera_id == cam) == 1
    assert purge(181)["closed_alert_images"] == 4  # crop and scene of both closed alerts
    assert count(served, alerts, alerts.c.id.in_(dismissed)) == 2
    assert count(served, alert_evidence, alert_evidence.c.alert_id.in_(dismissed)) == 0
    assert count(served, alert_evidence, alert_evidence.c.alert_id == still_open) == 2  # open: kept
    later = purge(366)
    assert (later["dismissed_alerts"], later["checkins"]) == (2, 1)
    assert count(served, alerts, alerts.c.id.in_(dismissed)) == 0
    assert count(served, alerts, alerts.c.id == still_open) == 1
    assert (await served.http.get(f"/alerts/{dismissed[0]}/lifecycle")).status_code == 404

    trail = (await served.http.get("/audit", params={"action": "retention.purge"})).json()["entries"]
    purged = {e["target"]: e["details"]["rows"] for e in trail}
    assert purged["data:plate_reads"] >= 1 and purged["data:dismissed_alerts"] >= 1
    verified = (await served.http.get("/audit/verify")).json()
    assert verified["ok"], verified
    assert hotel_id
