"""``safecity vehicles ...`` through the real entry point, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from command_center.security.audit import AuditTrail
from pipeline.adapters.database import make_engine
from safecity_cli.main import main
from safecity_cli.vehicles_cmd import search_vehicles
from tests.services import AUDIT_KEY

BY = ("--by", "staff:1:admin")


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    monkeypatch.setenv("SAFECITY_DATABASE_URL", database_url)
    config = tmp_path / "safecity.yaml"
    config.write_text("{}\n")
    return config


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, object, str]:
    code = main([*argv, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith(("{", "[")) else out), err


def test_import_add_search_remove(
    cli_env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, database_url: str
) -> None:
    csv_path = tmp_path / "hotlist.csv"
    csv_path.write_text(
        "plate,status,reason,case_reference\n"
        "LEA-1234,stolen,stolen from a market,FIR 1/2025\n"
        "LEA-1299,wanted,hit and run,FIR 2/2025\n"
    )
    code, report, _ = run(capsys, cli_env, "vehicles", "import", str(csv_path), *BY)
    assert code == 0 and isinstance(report, dict) and report["created"] == 2 and report["audited"]
    assert report["seconds"] >= 0 and report["rows_per_s"] >= 0 and "created_ids" not in report

    code, entry, _ = run(
        capsys, cli_env, "vehicles", "add", "KA22P3368", "--status", "crime-involved", "--reason",
        "used in a robbery", "--case", "FIR 3/2025", "--priority", "1", *BY,
    )  # fmt: skip
    assert code == 0 and isinstance(entry, dict) and entry["status"] == "crime_involved"

    code, found, _ = run(capsys, cli_env, "vehicles", "search", "LEA-12*", "--reason", "enquiry 7", *BY)
    assert code == 0 and isinstance(found, list)
    assert sorted(r["plate"] for r in found) == ["LEA-1234", "LEA-1299"]
    code, found, _ = run(capsys, cli_env, "vehicles", "search", "KA22P33G8", *BY)
    assert code == 0 and isinstance(found, list) and found[0]["match"]["kind"] == "confusion"
    code, by_plate, _ = run(capsys, cli_env, "plates", "search", "KA22P33G8", "--reason", "ANPR enquiry", *BY)
    assert code == 0 and by_plate == found  # the ANPR spelling of the same audited search

    code, removed, _ = run(
        capsys, cli_env, "vehicles", "remove", str(entry["id"]), "--reason", "closed case", *BY
    )
    assert code == 0 and isinstance(removed, dict) and removed["removed_by"] == "staff:1:admin"

    engine = make_engine(database_url)
    try:
        assert [r.entry.plate for r in search_vehicles(engine, "KA22P3368")] == []
        actions = [e.action for e in AuditTrail(engine, AUDIT_KEY).query(actor="staff:1:admin")]
        assert actions == [
            "vehicles.remove",
            "vehicles.search",
            "vehicles.search",
            "vehicles.search",
            "vehicles.add",
            "vehicles.import",
        ]
    finally:
        engine.dispose()


def test_refusals_exit_2_and_change_nothing(
    cli_env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text("plate,status,reason,case_reference\nLEA-1234,stolen,why not,FIR 1\nX,lost,a,b\n")
    code, report, err = run(capsys, cli_env, "vehicles", "import", str(csv_path), *BY)
    assert code == 2 and isinstance(report, dict) and report["created"] == 0 and "row 3" in err
    code, _, err = run(capsys, cli_env, "vehicles", "add", "LEA_1", "--status", "stolen", "--reason", "why",
                       "--case", "FIR 1", *BY)  # fmt: skip
    assert code == 2 and "plate" in err
    code, _, err = run(capsys, cli_env, "vehicles", "search", "*", *BY)
    assert code == 2 and "cannot search" in err
    code, found, _ = run(capsys, cli_env, "vehicles", "search", "LEA1234", *BY)
    assert code == 0 and found == []
