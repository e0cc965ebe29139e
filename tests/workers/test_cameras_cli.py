"""``safecity cameras``: the catalogue in NATS KV edited from the command line (a fleet per test)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
import yaml

from safecity_cli.main import main
from tests.names import subjects


@pytest.fixture
def config(tmp_path: Path, nats_url: str) -> Iterator[Path]:
    fleet = f"cli{uuid.uuid4().hex[:8]}"
    path = tmp_path / "safecity.yaml"
    cameras = [
        {"id": "gate-1", "url": "rtsp://10.0.0.1/gate-1", "district": "Saddar"},
        {"id": "gate-2", "url": "rtsp://10.0.0.1/gate-2", "analytics": ["plate"]},
    ]
    path.write_text(yaml.safe_dump({"nats_url": nats_url, "worker": {"fleet": fleet}, "cameras": cameras}))
    yield path
    asyncio.run(_drop_buckets(nats_url, fleet))


async def _drop_buckets(url: str, fleet: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for bucket in (
        subjects.cameras_bucket(fleet),
        subjects.camera_leases_bucket(fleet),
        subjects.workers_bucket(fleet),
    ):
        with contextlib.suppress(Exception):
            await js.delete_key_value(bucket)
    await nc.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_list_set_remove(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = ["--config", str(config)]
    code, out, _ = run(capsys, "cameras", "import", *c)
    assert code == 0 and json.loads(out)["added"] == ["gate-1", "gate-2"]
    code, out, _ = run(capsys, "cameras", "import", *c)
    assert code == 0 and json.loads(out)["kept"] == ["gate-1", "gate-2"]  # never overwritten silently

    code, out, _ = run(capsys, "cameras", "set", "gate-1", "--name", "Main gate", "--analysis-fps", "2", *c)
    assert code == 0
    edited = json.loads(out)
    assert edited["name"] == "Main gate" and edited["district"] == "Saddar" and edited["analysis_fps"] == 2
    code, out, _ = run(
        capsys, "cameras", "set", "gate-3", "--url", "rtsp://10.0.0.1/3", "--analytics", "face,plate", *c
    )
    assert code == 0 and json.loads(out)["analytics"] == ["face", "plate"]
    code, out, _ = run(capsys, "cameras", "set", "gate-3", "--min-face-px", "48", *c)
    assert code == 0 and json.loads(out)["min_face_px"] == 48
    code, out, _ = run(capsys, "cameras", "set", "gate-3", "--min-face-px", "0", *c)
    assert code == 0 and json.loads(out)["min_face_px"] is None  # back to recognition.min_face_px
    code, _, err = run(capsys, "cameras", "set", "gate-3", "--min-face-px", "4", *c)
    assert code == 2 and "min_face_px" in err

    code, out, _ = run(capsys, "cameras", "set", "gate-2", "--plate-countries", "us, EU", *c)
    assert code == 0 and json.loads(out)["plate_countries"] == ["us", "eu"]
    code, out, _ = run(capsys, "cameras", "list", *c)
    assert "plates: us,eu" in out
    code, out, _ = run(capsys, "cameras", "set", "gate-2", "--plate-countries", "none", *c)
    assert code == 0 and json.loads(out)["plate_countries"] == []
    code, out, _ = run(capsys, "cameras", "list", *c)
    assert "plates: region-free" in out
    code, out, _ = run(capsys, "cameras", "set", "gate-2", "--plate-countries", "default", *c)
    assert code == 0 and json.loads(out)["plate_countries"] is None

    sub = "rtsp://10.0.0.2/Streaming/Channels/102"
    code, out, _ = run(capsys, "cameras", "set", "gate-2", "--analysis-url", sub, *c)
    assert code == 0 and json.loads(out)["analysis_url"] == sub
    code, out, _ = run(capsys, "cameras", "list", *c)
    assert "sub-stream analysed" in out
    code, out, _ = run(capsys, "cameras", "set", "gate-2", "--analysis-url", "none", *c)
    assert code == 0 and json.loads(out)["analysis_url"] is None

    code, out, _ = run(capsys, "cameras", "remove", "gate-2", *c)
    assert code == 0
    code, out, _ = run(capsys, "cameras", "list", "--json", *c)
    listed = json.loads(out)
    assert [cam["id"] for cam in listed["cameras"]] == ["gate-1", "gate-3"]
    assert listed["cameras"][0]["name"] == "Main gate" and listed["cameras"][0]["worker"] is None
    assert listed["workers"] == []
    code, out, _ = run(capsys, "cameras", "list", *c)
    assert "gate-3" in out and "(unassigned)" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("set", "new-cam"), 2, "--url is required"),
        (("set", "new-cam", "--url", "http://x"), 2, "rtsp://"),
        (("set", "bad id!", "--url", "rtsp://x"), 2, "must match"),
        (("set", "cam", "--url", "rtsp://x", "--analytics", "face,face"), 2, "at most once"),
        (("set", "cam", "--url", "rtsp://x", "--plate-countries", "us,zz"), 2, "no plate formats for zz"),
        (("set", "cam", "--url", "rtsp://x", "--plate-countries", ","), 2, "give country codes"),
        (("set", "cam", "--url", "rtsp://x", "--plate-countries", "us,us"), 2, "distinct"),
        (("set", "cam", "--url", "rtsp://x", "--analysis-url", "http://x/sub"), 2, "rtsp://"),
        (("set", "cam", "--url", "rtsp://x", "--analysis-url", "rtsp://x"), 2, "names the main stream"),
        (("remove", "nobody"), 1, "no camera 'nobody'"),
    ],
)
def test_bad_input_is_refused_clearly(
    config: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int, message: str
) -> None:
    got, _, err = run(capsys, "cameras", *args, "--config", str(config))
    assert got == code and message in err


def test_credentials_in_the_catalogue_are_references_and_no_output_shows_a_password(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret = "Gate@1#pw:%"
    encoded = "Gate%401%23pw%3A%25"
    settings = yaml.safe_load(config.read_text())
    settings["cameras"][0]["url"] = f"rtsp://admin:{encoded}@10.0.0.1/gate-1"  # written the old way
    settings["cameras"][1] |= {"username": "anpr", "password_ref": "env:GATE_2_PASSWORD"}
    config.write_text(yaml.safe_dump(settings))
    c = ["--config", str(config)]
    printed = []

    code, out, err = run(capsys, "cameras", "import", *c)
    printed.append(out + err)
    result = json.loads(out)
    assert code == 1 and result["added"] == ["gate-2"] and list(result["refused"]) == ["gate-1"]
    assert "password_ref" in result["refused"]["gate-1"]

    code, out, err = run(
        capsys, "cameras", "set", "gate-1", "--url", f"rtsp://admin:{encoded}@10.0.0.1/g1", *c
    )
    printed.append(out + err)
    assert code == 2 and "--password-ref" in err
    code, out, err = run(
        capsys,
        "cameras",
        "set",
        "gate-1",
        "--url",
        "rtsp://admin@10.0.0.1/gate-1",  # a user without a password is no secret
        "--password-ref",
        "file:/run/secrets/gate-1",
        *c,
    )
    printed.append(out + err)
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["username"], shown["password_ref"], shown["url"]) == (
        "admin",
        "file:/run/secrets/gate-1",
        "rtsp://10.0.0.1/gate-1",
    )
    code, out, err = run(capsys, "cameras", "list", "--json", *c)
    printed.append(out + err)
    listed = {cam["id"]: cam for cam in json.loads(out)["cameras"]}
    assert listed["gate-2"]["password_ref"] == "env:GATE_2_PASSWORD" and "password" not in listed["gate-2"]
    code, out, err = run(capsys, "cameras", "set", "gate-2", "--username", "none", *c)
    printed.append(out + err)
    assert code == 0 and json.loads(out).get("password_ref") is None and json.loads(out)["username"] is None
    joined = "\n".join(printed)
    assert secret not in joined and encoded not in joined and "Gate@1" not in joined
