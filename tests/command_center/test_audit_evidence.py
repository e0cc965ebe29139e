"""Evidence files are in the audit chain (both databases, through ``safecity audit verify``): one byte
changed in a stored photo fails verification naming that photo, a photo deleted outside a purge too; a
retention purge, audited, removes a guest photo and verification still passes."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from sqlalchemy import Engine, Table, select, update

from command_center.admin.retention import Purger
from command_center.alerts.tables import alert_evidence
from command_center.records.tables import checkins, photos
from command_center.security.permissions import Role
from pipeline.settings import Settings
from pipeline.settings.retention import RetentionSettings
from safecity_cli.main import main
from tests.command_center.helpers import Served, camera, eventually, hit, jpeg
from tests.command_center.records_helpers import add_person, checkin, client, cnic, hotel_key
from tests.names import subjects


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings) -> Path:
    monkeypatch.setenv("SAFECITY_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SAFECITY_NATS_URL", settings.nats_url)
    monkeypatch.setenv("SAFECITY_SECURITY__AUDIT_KEY", settings.security.audit_key.get_secret_value())
    path = tmp_path / "verify.yaml"
    path.write_text("{}\n")
    return path


async def verify(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["audit", "verify", "--config", str(config)])
    out = capsys.readouterr()
    return code, out.out + out.err


def rewrite(engine: Engine, table: Table, column: str, item_id: int, data: bytes | None) -> None:
    """What someone with write access to the database could do, outside the command centre."""
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == item_id).values({column: data}))


async def stored_photos(served: Served) -> tuple[int, bytes, int, bytes]:
    """A guest photo (hotel check-in) and a person's photo, stored through the API."""
    _, key = await hotel_key(served)
    guest = jpeg((10, 20, 30), 64)
    async with httpx.AsyncClient(base_url=served.url, timeout=15, headers={"X-API-Key": key}) as desk:
        posted = await desk.post(
            "/checkins", json=checkin("R-9", cnic(), photo_jpeg=base64.b64encode(guest).decode())
        )
        assert posted.status_code == 201, posted.text
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk:
        pid = (await add_person(clerk, "Muhammad Aslam"))["id"]
        added = await clerk.post(
            f"/persons/{pid}/photos", files={"photo": ("p.jpg", jpeg((40, 50, 60), 64), "image/jpeg")}
        )
        assert added.status_code == 201, added.text
    engine: Engine = served.app.state.services.engine
    with engine.connect() as conn:
        guest_stored = conn.execute(checkins.select().where(checkins.c.id == posted.json()["id"])).one()
        person_stored = conn.execute(photos.select().where(photos.c.id == added.json()["id"])).one()
    return guest_stored.id, guest_stored.photo_jpeg, person_stored.id, person_stored.jpeg


async def test_a_changed_or_deleted_photo_is_named_and_a_purged_one_is_not(
    served: Served, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine: Engine = served.app.state.services.engine
    guest_id, guest, photo_id, photo = await stored_photos(served)
    code, out = await verify(config, capsys)
    assert code == 0 and "evidence: 2 evidence files match" in out, out

    flipped = photo[:100] + bytes([photo[100] ^ 1]) + photo[101:]  # one byte of the person's photo
    rewrite(engine, photos, "jpeg", photo_id, flipped)
    code, out = await verify(config, capsys)
    assert code == 1 and f"changed: person_photo:{photo_id} no longer matches" in out, out
    assert "checkin_photo" not in out  # only the changed file is named
    rewrite(engine, photos, "jpeg", photo_id, photo)

    rewrite(engine, checkins, "photo_jpeg", guest_id, None)  # deleted, but not by a purge
    code, out = await verify(config, capsys)
    assert code == 1 and f"removed: checkin_photo:{guest_id}" in out, out
    rewrite(engine, checkins, "photo_jpeg", guest_id, guest)
    assert (await verify(config, capsys))[0] == 0

    later = datetime.now(UTC) + timedelta(days=31)
    purger = Purger(engine, RetentionSettings(), served.app.state.services.audit, clock=lambda: later)
    purged = {p.data: p.rows for p in await asyncio.to_thread(purger.purge)}
    assert purged["checkin_photos"] == 1
    code, out = await verify(config, capsys)
    assert code == 0 and "evidence: 1 evidence files match" in out, out  # the person's photo is kept


async def test_an_alerts_images_are_in_the_chain_and_a_changed_one_is_named(
    served: Served, nc: Client, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cam = camera()
    js = nc.jetstream()
    first = hit(cam, similarity=0.6, crop=jpeg((200, 10, 10), 48))
    await js.publish(subjects.hits("face", cam), first.to_bytes(), stream=subjects.hits_stream)
    [alert] = await eventually(lambda: alerts_on(served, cam), 20)
    code, out = await verify(config, capsys)
    assert code == 0 and "evidence: 2 evidence files match" in out, out  # the crop and the scene

    engine: Engine = served.app.state.services.engine
    crop = (alert_evidence.c.alert_id == alert["id"]) & (alert_evidence.c.kind == "crop")
    with engine.begin() as conn:
        stored = conn.execute(select(alert_evidence.c.jpeg).where(crop)).scalar_one()
        conn.execute(update(alert_evidence).where(crop).values(jpeg=stored[:-1] + bytes([stored[-1] ^ 1])))
    code, out = await verify(config, capsys)
    assert code == 1 and f"changed: alert_crop:{alert['id']} no longer matches" in out, out
    assert "alert_scene" not in out

    # A better hit replaces the images, and its entry vouches for the new ones.
    better = hit(cam, similarity=0.8, crop=jpeg((10, 200, 10), 48))
    await js.publish(subjects.hits("face", cam), better.to_bytes(), stream=subjects.hits_stream)

    async def replaced() -> bool:
        return bool((await alerts_on(served, cam))[0]["best_similarity"] >= 0.8)

    await eventually(replaced, 20)
    code, out = await verify(config, capsys)
    assert code == 0 and "evidence: 2 evidence files match" in out, out
    entries = (await served.http.get("/audit", params={"action": "alert.evidence"})).json()["entries"]
    mine = [e for e in entries if e["target"] == f"alert:{alert['id']}"]
    assert len(mine) == 2 and all(e["actor"] == "system:hits" for e in mine)


async def alerts_on(served: Served, cam: str) -> list[dict[str, Any]]:
    page = (await served.http.get("/alerts", params={"camera_id": cam})).json()
    return list(page["alerts"])
