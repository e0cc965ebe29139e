"""``safecity persons import``: good rows in, bad rows reported with reasons, resumable, photos enrolled."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from command_center.records import tables as t
from command_center.security.audit import AuditTrail
from pipeline.adapters.database import make_engine
from safecity_cli.main import main
from tests.services import AUDIT_KEY, REPO, TEST_SECURITY
from watchlist.tables import profiles

HEADER = ["name", "father's name", "CNIC", "gender", "district", "category", "cases", "vehicles", "photo"]


@pytest.fixture
def config(tmp_path: Path, database_url: str, nats_url: str, models_dir: Path) -> Path:
    path = tmp_path / "config.yaml"
    settings = {
        "environment": "test",
        "database_url": database_url,
        "nats_url": nats_url,
        "models_dir": str(models_dir),
        "security": TEST_SECURITY,
    }
    path.write_text(yaml.safe_dump(settings))
    return path


def cnic(i: int) -> str:
    return f"35202-{i:07d}-1"


def good_row(i: int) -> list[str]:
    case = f"{i}/2024|PS Gulberg|302 PPC,34 PPC|under_trial" if i % 3 == 0 else ""
    vehicle = f"LEA-{i % 10000:04d}|white corolla" if i % 5 == 0 else ""
    return [f"Person {i}", f"Father {i}", cnic(i), "male", "Lahore", "wanted", case, vehicle, ""]


def sample(rows: int) -> tuple[list[list[str]], dict[int, str]]:
    """``rows`` data rows, every 17th bad (a different fault in turn): (rows, spreadsheet row -> reason)."""
    faults = [
        (lambda r: r.__setitem__(5, "thief"), "category"),
        (lambda r: r.__setitem__(2, "12345"), "cnic"),
        (lambda r: r.__setitem__(2, cnic(1)), "already on the records"),
        (lambda r: r.__setitem__(6, "1/2024|PS Gulberg"), "cases"),
        (lambda r: r.__setitem__(0, ""), "name"),
    ]
    data, bad = [], {}
    for i in range(1, rows + 1):
        row = good_row(i)
        if i % 17 == 0:
            fault, reason = faults[(i // 17) % len(faults)]
            fault(row)
            bad[i + 1] = reason
        data.append(row)
    return data, bad


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, dict[str, object], str]:
    code = main(["persons", "import", "--config", str(config), "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def stored_cnics(database_url: str) -> list[str]:
    with make_engine(database_url).connect() as conn:
        return list(conn.execute(select(t.persons.c.cnic)).scalars())


def test_good_rows_go_in_and_bad_rows_are_reported(
    capsys: pytest.CaptureFixture[str], config: Path, database_url: str, tmp_path: Path
) -> None:
    rows, bad = sample(300)
    source = write_csv(tmp_path / "persons.csv", rows)
    code, summary, _ = run(capsys, config, str(source), "--batch", "64")
    assert code == 0
    assert summary["imported"] == 300 - len(bad) and summary["skipped"] == len(bad)
    assert summary["complete"] is True and summary["rows"] == 300
    assert "person_ids" not in summary and float(str(summary["rows_per_s"])) > 0
    listed = report(tmp_path / "persons.csv.errors.csv")
    assert [int(e["row"]) for e in listed] == sorted(bad)
    for entry in listed:
        assert entry["outcome"] == "skipped"
        assert bad[int(entry["row"])] in entry["reason"].lower(), entry
    cnics = stored_cnics(database_url)
    assert len(cnics) == len(set(cnics)) == 300 - len(bad)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.cases)).scalar_one() == sum(
            1 for i in range(1, 301) if i % 3 == 0 and i + 1 not in bad
        )
        keys = conn.execute(select(func.count()).select_from(t.search_keys)).scalar_one()
    assert keys == 3 * (300 - len(bad))  # name, father's name and the two's codes (records.keys) of each
    trail = AuditTrail(engine, AUDIT_KEY)
    entries = trail.query(action="persons.import")
    assert len(entries) == 5  # 300 rows in batches of 64
    assert sum(int(e.details["imported"]) for e in entries) == 300 - len(bad)
    assert trail.verify().ok


def test_an_interrupted_import_resumes_and_imports_every_row_once(
    capsys: pytest.CaptureFixture[str], config: Path, database_url: str, tmp_path: Path
) -> None:
    rows, bad = sample(250)
    source = write_csv(tmp_path / "persons.csv", rows)
    code, first, err = run(capsys, config, str(source), "--batch", "40", "--limit", "110")
    assert code == 0 and first["complete"] is False and first["rows"] == 110
    assert first["through_row"] == 111 and "run the same command again" in err
    assert len(stored_cnics(database_url)) == 110 - sum(1 for r in bad if r <= 111)
    code, second, err = run(capsys, config, str(source), "--batch", "40")
    assert code == 0 and second["complete"] is True and second["rows"] == 140
    assert "continuing after row 111" in err
    cnics = stored_cnics(database_url)
    assert sorted(cnics) == sorted({cnic(i) for i in range(1, 251) if i + 1 not in bad})
    assert [int(e["row"]) for e in report(tmp_path / "persons.csv.errors.csv")] == sorted(bad)
    code, third, _ = run(capsys, config, str(source))
    assert code == 0 and third["rows"] == 0 and third["imported"] == 0
    assert len(stored_cnics(database_url)) == len(cnics)


def test_json_lines_are_imported_like_the_api_body(
    capsys: pytest.CaptureFixture[str], config: Path, database_url: str, tmp_path: Path
) -> None:
    lines = [
        {"name": "Zahid Iqbal", "category": "history_sheeter", "cnic": "3520299999991", "aliases": ["Zaidi"]},
        {"name": "Kamran", "category": "local", "cases": [{"fir_number": "9/2023"}]},
        "not json",
        {"name": "Asif", "category": "non_local", "vehicles": [{"plate": "LHR-77"}], "district": "Lahore"},
    ]
    source = tmp_path / "persons.jsonl"
    source.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    code, summary, _ = run(capsys, config, str(source))
    assert code == 0 and summary["imported"] == 2 and summary["skipped"] == 2
    reasons = {int(e["row"]): e["reason"] for e in report(tmp_path / "persons.jsonl.errors.csv")}
    assert "police_station" in reasons[2] and "not valid JSON" in reasons[3]
    assert sorted(map(str, stored_cnics(database_url))) == ["35202-9999999-1", "None"]


@pytest.mark.parametrize("full", [False, True], ids=["fast-faces", "full-faces"])
def test_photos_with_one_face_are_enrolled_as_the_persons_profile(
    capsys: pytest.CaptureFixture[str],
    config: Path,
    database_url: str,
    tmp_path: Path,
    media_dir: Path,
    full: bool,
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    faces = media_dir / "faces"
    shutil.copy(faces / "biden" / "examples_biden.jpg", photos / "biden.jpg")
    shutil.copy(faces / "obama" / "examples_obama.jpg", photos / "obama.jpg")
    shutil.copy(faces / "_multi" / "couple.jpg", photos / "couple.jpg")
    rows = [good_row(i) for i in range(1, 6)]
    rows[0][5], rows[0][8] = "hbt_offender", "biden.jpg"
    rows[1][8] = "obama.jpg"
    rows[2][8] = "couple.jpg"  # two faces: stored, not enrolled
    rows[3][8] = "gone.jpg"  # no such file: the person without a photo
    source = write_csv(tmp_path / "persons.csv", rows)
    full_faces = ["--full-faces"] if full else []
    code, summary, _ = run(capsys, config, str(source), "--photos", str(photos), *full_faces)
    assert code == 0 and summary["imported"] == 5 and summary["photos_enrolled"] == 2
    assert summary["imported_with_notes"] == 2
    notes = {int(e["row"]): e for e in report(tmp_path / "persons.csv.errors.csv")}
    assert set(notes) == {4, 5} and all(e["outcome"] == "imported" for e in notes.values())
    assert "2 faces" in notes[4]["reason"] and "gone.jpg" in notes[5]["reason"]
    engine = make_engine(database_url)
    with engine.connect() as conn:
        linked = dict(conn.execute(select(t.persons.c.cnic, t.persons.c.watchlist_profile_id)).all())
        enrolled = {r.id: r for r in conn.execute(select(profiles))}
        stored_photos = conn.execute(select(func.count()).select_from(t.photos)).scalar_one()
    assert stored_photos == 3
    assert linked[cnic(1)] in enrolled and linked[cnic(2)] in enrolled and linked[cnic(3)] is None
    first = enrolled[linked[cnic(1)]]
    assert (first.name, first.category, first.status) == ("Person 1", "hbt", "active")
    assert enrolled[linked[cnic(2)]].legal_reference.startswith("CRO records import")
    assert AuditTrail(engine, AUDIT_KEY).verify().ok


def import_process(config: Path, source: Path) -> subprocess.Popen[str]:
    argv = [
        sys.executable,
        "-m",
        "safecity_cli.main",
        "persons",
        "import",
        str(source),
        "--config",
        str(config),
    ]
    argv += ["--no-progress", "--batch", "100"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def wait_for_batches(database_url: str, proc: subprocess.Popen[str], batches: int) -> None:
    """Until ``batches`` batches are committed (their audit entries), while the import still runs."""
    trail = AuditTrail(make_engine(database_url), AUDIT_KEY)
    deadline = time.monotonic() + 120
    while len(trail.query(action="persons.import")) < batches:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no batch committed in 120 s"
        time.sleep(0.02)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_a_killed_or_interrupted_import_resumes_with_every_row_once(
    capsys: pytest.CaptureFixture[str], config: Path, database_url: str, tmp_path: Path, how: signal.Signals
) -> None:
    rows, bad = sample(4000)
    source = write_csv(tmp_path / "persons.csv", rows)
    AuditTrail(make_engine(database_url), AUDIT_KEY).create_schema()  # the tables, before the import's
    proc = import_process(config, source)
    wait_for_batches(database_url, proc, 2)
    proc.send_signal(how)
    out, err = proc.communicate(timeout=120)
    if how == signal.SIGINT:  # stops after the batch under way, says so, and where
        assert proc.returncode == 130, err
        stopped = json.loads(out)
        assert stopped["complete"] is False and "run the same command again" in err
        assert len(stored_cnics(database_url)) == stopped["imported"]
    else:
        assert proc.returncode == -signal.SIGKILL
    assert 0 < len(stored_cnics(database_url)) < 4000 - len(bad)
    code, summary, _ = run(capsys, config, str(source), "--batch", "500")
    assert code == 0 and summary["complete"] is True
    cnics = stored_cnics(database_url)
    assert sorted(cnics) == sorted({cnic(i) for i in range(1, 4001) if i + 1 not in bad})
    listed = [int(e["row"]) for e in report(tmp_path / "persons.csv.errors.csv")]
    assert len(listed) == len(set(listed)) and set(listed) <= set(bad)
