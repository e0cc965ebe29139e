"""Camera credentials: split out of URLs, checked, percent-encoded at connection, redacted everywhere."""

from __future__ import annotations

import logging
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import yaml

from pipeline.camera_credentials import CredentialsUnavailable, StreamAddress, redact
from pipeline.log_format import JsonFormatter, TextFormatter
from pipeline.settings import CameraConfig, ConfigError, parse

REPO = Path(__file__).resolve().parents[2]
SECRET = "p@ss#w:rd%/ü"  # every character that breaks a URL written by hand


def camera(**fields: object) -> CameraConfig:
    return CameraConfig.model_validate({"id": "cam-gate", "url": "rtsp://10.0.0.7:554/main", **fields})


def test_a_url_with_credentials_is_split_into_fields() -> None:
    encoded = urllib.parse.quote(SECRET, safe="")
    cam = camera(url=f"rtsp://admin:{encoded}@10.0.0.7:554/main", analysis_url="rtsp://10.0.0.7:554/sub")
    assert cam.url == "rtsp://10.0.0.7:554/main"
    assert cam.username == "admin"
    assert cam.password is not None and cam.password.get_secret_value() == SECRET
    assert SECRET not in repr(cam) and encoded not in repr(cam) and SECRET not in str(cam.public_dict())
    # both streams log in with the one account, the password percent-encoded
    assert cam.analysed_stream.connect_url() == f"rtsp://admin:{encoded}@10.0.0.7:554/sub"
    assert cam.main_stream.connect_url() == f"rtsp://admin:{encoded}@10.0.0.7:554/main"
    assert str(cam.main_stream) == "rtsp://10.0.0.7:554/main"


def test_a_password_reference_is_read_at_each_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "cam.secret"
    secret_file.write_text(SECRET + "\n")
    by_file = camera(username="admin", password_ref=f"file:{secret_file}")
    assert by_file.main_stream.current_password() == SECRET
    secret_file.write_text("rotated-secret\n")
    assert by_file.main_stream.current_password() == "rotated-secret"
    by_env = camera(username="admin", password_ref="env:CAM_GATE_PASSWORD")
    with pytest.raises(CredentialsUnavailable) as missing:
        by_env.main_stream.connect_url()
    assert "CAM_GATE_PASSWORD" in str(missing.value)
    monkeypatch.setenv("CAM_GATE_PASSWORD", "from-the-environment")
    assert by_env.main_stream.connect_url() == "rtsp://admin:from-the-environment@10.0.0.7:554/main"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://10.0.0.7/main", "not an rtsp:// or rtsps:// URL (scheme 'http')"),
        ("10.0.0.7/main", "no scheme"),
        ("rtsp:///main", "names no host"),
        ("rtsp://10.0.0.7:99999/main", "port that is not a number from 1 to 65535"),
        ("rtsp://10.0.0.7:http/main", "port that is not a number from 1 to 65535"),
        ("rtsp://admin:Secr3t@Pass@10.0.0.7/main", "unencoded reserved character"),
        ("rtsp://admin:Secr3t#Pass@10.0.0.7/main", "percent-encode it"),
        ("rtsp://admin:Secr3t/Pass@10.0.0.7/main", "percent-encode it"),
        ("rtsp://admin:Secr3t%zzPass@10.0.0.7/main", "'%' not followed by two hex digits"),
        ("rtsp://admin:Secr3t Pass@10.0.0.7/main", "space"),
    ],
)
def test_malformed_urls_are_refused_naming_the_camera_not_the_password(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse({"cameras": [{"id": "cam-gate", "url": url}]})
    message = str(refused.value)
    assert "camera cam-gate: url" in message and problem in message
    assert "Secr3t" not in message and "Pass" not in message


def test_validate_config_refuses_a_password_with_reserved_characters(tmp_path: Path) -> None:
    config = tmp_path / "safecity.yaml"
    config.write_text(
        yaml.safe_dump({"cameras": [{"id": "cam-gate", "url": f"rtsp://admin:{SECRET}@cam/main"}]})
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "safecity_cli.main",
            "cameras",
            "list",
            "--config",
            str(config),
            "--validate-config",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "camera cam-gate: url" in done.stderr and "percent-encode" in done.stderr
    assert "p@ss" not in done.stdout + done.stderr and "w:rd" not in done.stdout + done.stderr


def test_credentials_are_given_once() -> None:
    with pytest.raises(ValueError, match="give password or password_ref, not both"):
        camera(username="u", password="x", password_ref="env:X")
    with pytest.raises(ValueError, match="needs a username"):
        camera(password_ref="env:X")
    with pytest.raises(ValueError, match="password_ref must be env:NAME"):
        camera(username="u", password_ref="vault:x")
    with pytest.raises(ValueError, match="other ones are given") as both:
        camera(url="rtsp://admin:one-secret@h/main", username="admin", password="another-secret")
    assert "one-secret" not in str(both.value) and "another-secret" not in str(both.value)


def test_redaction_covers_urls_known_secrets_and_password_fields() -> None:
    address = StreamAddress("rtsp://cam/main", "admin", password_ref=None)
    assert address.connect_url() == "rtsp://admin@cam/main"  # a user without a password
    ffmpeg = "Server returned 401 Unauthorized (authorization failed): 'rtsp://admin:c%40t@10.0.0.7:554/m'"
    assert redact(ffmpeg).endswith("'rtsp://***@10.0.0.7:554/m'")
    assert redact("{'password': 'hunter22', 'user': 'x'}") == "{'password': ***, 'user': 'x'}"
    remembered = camera(username="admin", password="only-in-memory-42")
    remembered.main_stream.connect_url()  # reading a password makes redaction know it
    assert redact("a library said only-in-memory-42 somewhere") == "a library said *** somewhere"


def test_log_formatters_redact_every_line() -> None:
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "open %s failed", ("rtsp://u:pw-9f@h/m",), None
    )
    record.url = "rtsp://u:pw-9f@h/m"
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record)
        assert "pw-9f" not in line and "rtsp://***@h/m" in line
