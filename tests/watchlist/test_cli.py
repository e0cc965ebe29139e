"""`safecity watchlist ...` and `safecity models ...` through the real entry point."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from safecity_cli.main import main
from tests.watchlist.conftest import OBAMA_ENROL, OBAMA_PROBE

LEGAL = (
    "--legal-reference",
    "FIR 9/2025",
    "--authorised-by",
    "SSP Ops",
    "--expires",
    str(date.today() + timedelta(days=90)),
    "--by",
    "staff:1:admin",
)
REASON = ("--reason", "case closed", "--by", "staff:1:admin")


def _run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, object, str]:
    code = main([*argv, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and out.strip().startswith(("{", "[")) else out), err


def test_watchlist_enroll_match_list_remove(
    cli_env: Path, capsys: pytest.CaptureFixture[str], faces_dir: Path
) -> None:
    photos = [str(faces_dir / "obama" / name) for name in OBAMA_ENROL]
    code, enrolled, _ = _run(
        capsys,
        cli_env,
        "watchlist",
        "enroll",
        "--name",
        "Barack Obama",
        "--category",
        "wanted",
        *LEGAL,
        *photos,
    )
    assert code == 0
    assert isinstance(enrolled, dict)
    assert enrolled["photos"] == 3 and enrolled["embeddings"] == 3 and enrolled["announced"] is True
    assert enrolled["status"] == "active" and enrolled["audited"] is True
    profile_id = enrolled["profile_id"]

    code, faces, _ = _run(
        capsys, cli_env, "watchlist", "match", str(faces_dir / "obama" / OBAMA_PROBE), "--top-k", "3"
    )
    assert code == 0 and isinstance(faces, list) and len(faces) == 1
    best = faces[0]["matches"][0]
    assert best["profile_id"] == profile_id and best["name"] == "Barack Obama" and best["passes"] is True
    assert set(best) == {"profile_id", "name", "category", "similarity", "passes"}

    code, listed, _ = _run(capsys, cli_env, "watchlist", "list")
    assert code == 0 and [p["profile_id"] for p in listed] == [profile_id]  # type: ignore[union-attr, index]

    code, removed, _ = _run(capsys, cli_env, "watchlist", "remove", str(profile_id), *REASON)
    assert code == 0 and removed["removed_embedding_ids"] == enrolled["embedding_ids"]  # type: ignore[index]
    code, faces, _ = _run(capsys, cli_env, "watchlist", "match", str(faces_dir / "obama" / OBAMA_PROBE))
    assert code == 0 and faces == [{**faces[0], "matches": []}]  # type: ignore[index]

    code, _, err = _run(capsys, cli_env, "watchlist", "remove", str(profile_id), *REASON)
    assert code == 1 and f"no active watchlist profile with id {profile_id}" in err

    code = main(["audit", "tail", "-n", "5", "--config", str(cli_env)])
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and actions == ["watchlist.enroll_admin", "watchlist.remove_admin"]
    code, out, _ = _run(capsys, cli_env, "audit", "verify")
    assert code == 0 and "audit trail OK: 2 entries" in str(out)


def test_watchlist_enroll_refusal_exits_2_and_stores_nothing(
    cli_env: Path, capsys: pytest.CaptureFixture[str], faces_dir: Path
) -> None:
    two = str(faces_dir / "_multi" / "examples_two_people.jpg")
    good = str(faces_dir / "obama" / OBAMA_ENROL[0])
    code, _, err = _run(
        capsys, cli_env, "watchlist", "enroll", "--name", "X", "--category", "wanted", *LEGAL, good, two
    )
    assert code == 2
    assert "examples_two_people.jpg" in err and "2 faces found" in err and "nothing stored" in err
    code, listed, _ = _run(capsys, cli_env, "watchlist", "list")
    assert code == 0 and listed == []


def test_models_verify(cli_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, cli_config, "models", "verify")
    assert code == 0
    assert isinstance(out, str) and "mobilefacenet" in out and "AGPL-3.0" in out


def test_models_verify_fails_on_missing_default_and_pull_copies_from_file_registry(
    cli_config: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    models_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv("SAFECITY_MODELS_DIR", str(empty))
    code, out, _ = _run(capsys, cli_config, "models", "verify")
    assert code == 1 and "FAILED: yunet, mobilefacenet" in str(out)

    # A registry whose sources point at the shared files, so `pull` runs end to end without the network.
    registry = Path("configs/models.yaml").read_text()
    for name in ("face_detection_yunet_2023mar.onnx", "face_recognition_mobilefacenet_foamliu_128d.onnx"):
        shutil.copy(models_dir / name, tmp_path / name)
    lines = []
    for line in registry.splitlines():
        if "url: https://raw.githubusercontent.com/ShiqiYu" in line:
            line = f"      url: {(tmp_path / 'face_detection_yunet_2023mar.onnx').as_uri()}"
        elif "url: https://raw.githubusercontent.com/foamliu" in line:
            line = f"      url: {(tmp_path / 'face_recognition_mobilefacenet_foamliu_128d.onnx').as_uri()}"
        lines.append(line)
    local = tmp_path / "models.yaml"
    local.write_text("\n".join(lines))
    monkeypatch.setenv("SAFECITY_MODELS_REGISTRY", str(local))
    code, out, _ = _run(capsys, cli_config, "models", "pull")
    assert code == 0, out
    assert sorted(p.name for p in empty.iterdir()) == [
        "face_detection_yunet_2023mar.onnx",
        "face_recognition_mobilefacenet_foamliu_128d.onnx",
    ]
    code, out, _ = _run(capsys, cli_config, "models", "verify")
    assert code == 0
