"""`safecity plates read` through the real entry point: one JSON list, in order, errors per entry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from safecity_cli.main import main

GWT = "plates/br/GWT2180.jpg"
JSP = "plates/br/JSP7678.jpg"


@pytest.fixture
def config(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAFECITY_MODELS_DIR", str(models_dir))
    path = tmp_path / "safecity.yaml"
    path.write_text("plates:\n  countries: [br]\n  crop_variants: 1\n")
    return path


def _read(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, list[dict], str]:
    code = main(["plates", "read", *argv, "--config", str(config)])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_order_is_kept_and_a_bad_file_gets_an_error_entry(
    config: Path, media_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    images = [media_dir / JSP, tmp_path / "missing.jpg", broken, media_dir / GWT]
    code, out, err = _read(capsys, config, *map(str, images))
    assert code == 1
    assert "Traceback" not in err
    assert [entry["image"] for entry in out] == [str(p) for p in images]
    assert [p["text"] for p in out[0]["plates"]] == ["JSP7678"]
    assert out[1]["error"] == "no such file" and out[1]["plates"] == []
    assert out[2]["error"] == "not a readable image" and out[2]["plates"] == []
    (plate,) = out[3]["plates"]
    assert plate["text"] == "GWT2180" and plate["display"] == "GWT-2180" and plate["country"] == "br"
    assert 0.5 <= plate["confidence"] <= 1.0
    box = plate["box"]
    assert set(box) == {"x", "y", "w", "h"}
    # The labelled box is 529,308 227x73; ours encloses the plate's characters.
    assert abs(box["x"] - 529) < 30 and abs(box["y"] - 308) < 30 and 150 < box["w"] < 260


def test_all_good_images_exit_zero_and_country_can_be_chosen(
    config: Path, media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _read(capsys, config, str(media_dir / GWT), "--country", "pk")
    assert code == 0
    # GWT-2180 fits Pakistan's LLL-DDDD too: read under pk formats.
    assert [(p["text"], p["country"]) for p in out[0]["plates"]] == [("GWT2180", "pk")]
    code, out, _ = _read(capsys, config, str(media_dir / "faces/obama/examples_knn_examples_test_obama1.jpg"))
    assert code == 0 and out[0]["plates"] == []


def test_plates_of_other_countries_are_read_and_region_free_names_no_country(
    config: Path, media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    us = str(media_dir / "plates/us/wts-lg-000126.jpg")  # 6NZT067, California's 1ABC234
    code, out, _ = _read(capsys, config, us, "--country", "pk")
    assert code == 0 and [(p["text"], p["country"]) for p in out[0]["plates"]] == [("6NZT067", "us")]
    code, out, _ = _read(capsys, config, str(media_dir / GWT), "--region-free")
    # GWT-2180 fits the formats of Brazil, Pakistan, the US and Europe alike: none is named.
    assert code == 0 and [(p["text"], p["country"]) for p in out[0]["plates"]] == [("GWT2180", None)]
    with pytest.raises(SystemExit) as stopped:
        main(["plates", "read", us, "--country", "pk", "--region-free", "--config", str(config)])
    assert stopped.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_unknown_country_is_a_usage_error(
    config: Path, media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["plates", "read", str(media_dir / GWT), "--country", "zz", "--config", str(config)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "zz" in err and "Traceback" not in err


def test_installed_command_prints_one_json_list(config: Path, media_dir: Path) -> None:
    argv = ["plates", "read", str(media_dir / GWT), "nope.png", "--config", str(config)]
    done = subprocess.run(
        [sys.executable, "-m", "safecity_cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    out = json.loads(done.stdout)
    assert [e["image"] for e in out] == [str(media_dir / GWT), "nope.png"]
    assert out[0]["plates"][0]["text"] == "GWT2180" and "error" in out[1]
