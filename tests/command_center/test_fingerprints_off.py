"""``POST /fingerprints/identify`` with no AFIS configured: 503 with the reason, on both databases."""

from __future__ import annotations

from command_center.security.permissions import Role
from tests.command_center.helpers import Served
from tests.command_center.records_helpers import REASON, client


async def test_no_afis_configured_is_503(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    async with officer:
        files = {"image": ("print.png", b"\x89PNG", "image/png")}
        answer = await officer.post("/fingerprints/identify", files=files, data=REASON)
    assert answer.status_code == 503
    assert "no AFIS is configured" in answer.json()["detail"]
