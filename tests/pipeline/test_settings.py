from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import ConfigError, load, parse

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_is_valid() -> None:
    settings = load(REPO / "configs" / "safecity.yaml")
    assert {c.id for c in settings.cameras} == {"cam-hamilton", "cam-group", "cam-plate"}


def test_environment_overrides_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECITY_DATABASE_URL", "sqlite:////tmp/x.db")
    monkeypatch.setenv("SAFECITY_RECOGNITION__THRESHOLD", "0.5")
    settings = parse({"database_url": "sqlite:////tmp/y.db", "recognition": {"threshold": 0.3, "top_k": 3}})
    assert settings.resolved_database_url == "sqlite:////tmp/x.db"
    assert settings.recognition.threshold == 0.5
    assert settings.recognition.top_k == 3


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    settings = parse({"data_dir": str(tmp_path)})
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'safecity.db'}"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"unknown_key": 1}, "unknown_key"),
        ({"recognition": {"threshold": 2}}, "recognition.threshold"),
        ({"cameras": [{"id": "bad id", "url": "rtsp://x/y"}]}, "camera id"),
        ({"cameras": [{"id": "a", "url": "http://x/y"}]}, "rtsp://"),
        ({"cameras": [{"id": "a", "url": "rtsp://x/1"}, {"id": "a", "url": "rtsp://x/2"}]}, "duplicate"),
        ({"watchlist": {"index": {"type": "annoy"}}}, "watchlist.index"),
        ({"plates": {"countries": ["pk", "zz"]}}, "no plate formats for zz"),
        ({"plates": {"countries": ["PK"]}}, "lower-case"),
        ({"plates": {"free_min_length": 8, "free_max_length": 6}}, "free_min_length"),
        (
            {"cameras": [{"id": "a", "url": "rtsp://x/1", "plate_countries": ["zz"]}]},
            "camera a: plate_countries",
        ),
        ({"cameras": [{"id": "a", "url": "rtsp://x/1", "plate_countries": ["us", "us"]}]}, "distinct"),
        ({"cameras": [{"id": "a", "url": "rtsp://x/1", "analysis_url": "x/2"}]}, "camera a: analysis_url"),
        ({"cameras": [{"id": "a", "url": "rtsp://x/1", "analysis_url": "rtsp://x/1"}]}, "names the main"),
        ({"worker": {"streams": {"keyframe_wait_s": 1}}}, "worker.streams.keyframe_wait_s"),
        ({"worker": {"streams": {"evidence_wait_s": 9}}}, "worker.streams.evidence_wait_s"),
        ({"worker": {"streams": {"skip_frames": True}}}, "worker.streams.skip_frames"),
    ],
)
def test_bad_settings_fail_loudly(data: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse(data)


def test_plates_are_read_region_free_unless_a_camera_or_the_fleet_declares_countries() -> None:
    settings = parse(
        {
            "plates": {"formats": {"xx": ["DDD-LL"]}},
            "cameras": [
                {"id": "a", "url": "rtsp://x/1", "analytics": ["plate"]},
                {"id": "b", "url": "rtsp://x/2", "analytics": ["plate"], "plate_countries": ["us", "xx"]},
                {"id": "c", "url": "rtsp://x/3", "analytics": ["plate"], "plate_countries": []},
            ],
        }
    )
    assert settings.plates.countries == []  # the built-in default: region-free
    a, b, c = (settings.plates.for_camera(cam.plate_countries).countries for cam in settings.cameras)
    assert (a, b, c) == ([], ["us", "xx"], [])
    fleet = parse({"plates": {"countries": ["pk"]}}).plates
    assert fleet.for_camera(None).countries == ["pk"] and fleet.for_camera([]).countries == []
    with pytest.raises(ValueError, match="zz"):
        fleet.for_camera(["zz"])  # a catalogue entry written against other settings
    assert load(REPO / "configs" / "safecity.yaml").plates.countries == []


def test_load_reports_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("worker: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.yaml")


@pytest.mark.parametrize("environment", ["test", "production"])
def test_default_secrets_are_refused_outside_development(environment: str) -> None:
    with pytest.raises(ConfigError, match="jwt_secret"):
        parse({"environment": environment})
    with pytest.raises(ConfigError, match="audit_key"):  # the audit chain's key is a secret too
        parse({"environment": environment, "security": {"jwt_secret": "x" * 40, "api_key_pepper": "y" * 40}})
    strong = {"jwt_secret": "x" * 40, "api_key_pepper": "y" * 40, "audit_key": "z" * 40}
    if environment == "production":
        strong |= {"sms_backend": "http", "sms_http_url": "https://sms.example.gov.pk/send"}
    assert parse({"environment": environment, "security": strong}).environment == environment


@pytest.mark.parametrize(
    ("security", "needle"),
    [({"sms_backend": "console"}, "production needs 'http'"), ({"sms_backend": "http"}, "sms_http_url")],
)
def test_production_needs_a_real_sms_gateway(security: dict[str, str], needle: str) -> None:
    strong = {"jwt_secret": "x" * 40, "api_key_pepper": "y" * 40, "audit_key": "z" * 40}
    with pytest.raises(ConfigError, match=needle):
        parse({"environment": "production", "security": strong | security})


def test_development_may_use_the_default_secrets() -> None:
    assert parse({"environment": "development"}).security.jwt_secret.get_secret_value()


def test_a_camera_analyses_its_sub_stream_when_it_names_one() -> None:
    settings = parse(
        {
            "cameras": [
                {"id": "a", "url": "rtsp://x/main"},
                {"id": "b", "url": "rtsp://x/main", "analysis_url": "rtsps://x/sub"},
            ]
        }
    )
    a, b = settings.cameras
    assert (a.analysed_stream.url, b.analysed_stream.url) == ("rtsp://x/main", "rtsps://x/sub")
    assert b.url == "rtsp://x/main"  # the evidence stream
