"""`safecity audit verify|tail` through the real entry point, on both databases."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from command_center.security.audit import AuditTrail
from pipeline.adapters.database import make_engine
from safecity_cli.main import main
from tests.services import deployment_audit_key


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, nats_url: str) -> Path:
    monkeypatch.setenv("SAFECITY_DATABASE_URL", database_url)
    monkeypatch.setenv("SAFECITY_NATS_URL", nats_url)
    monkeypatch.setenv("SAFECITY_SECURITY__AUDIT_KEY", deployment_audit_key())
    path = tmp_path / "safecity.yaml"
    path.write_text("{}\n")
    return path


def test_verify_passes_then_exits_1_on_a_changed_entry(
    config: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(database_url)
    trail = AuditTrail(engine, os.environ["SAFECITY_SECURITY__AUDIT_KEY"].encode())
    trail.create_schema()
    for n in range(3):
        trail.record("staff:1:sup", "watchlist.view", f"watchlist_profile:{n}", reason="enquiry 7/2025")

    assert main(["audit", "verify", "--config", str(config)]) == 0
    assert "audit trail OK: 3 entries" in capsys.readouterr().out
    assert main(["audit", "tail", "-n", "2", "--config", str(config)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == [2, 3] and lines[0]["reason"] == "enquiry 7/2025"

    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 2"))
    assert main(["audit", "verify", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "BROKEN at entry 2 (changed)" in err and "1 entries before it are intact" in err
    assert main(["audit", "tail", "-n", "0", "--config", str(config)]) == 2
    engine.dispose()
