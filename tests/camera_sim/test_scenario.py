from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from camera_sim.scenario import load_scenario, parse_scenario
from pipeline.settings import ConfigError
from tests.services import REPO


def test_sample_scenario_loads_with_existing_files() -> None:
    scenario = load_scenario(REPO / "configs" / "scenarios" / "sample.yaml")
    assert [c.id for c in scenario.cameras] == ["cam-hamilton", "cam-group", "cam-plate"]
    assert all(c.file.is_absolute() and c.file.is_file() for c in scenario.cameras)
    assert all(c.loop and c.fps is None for c in scenario.cameras)


def test_relative_files_resolve_against_the_scenario_folder(tmp_path: Path, video_dir: Path) -> None:
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").symlink_to(video_dir / "hamilton_whitehouse_clip.mp4")
    (tmp_path / "scenarios").mkdir()
    path = tmp_path / "scenarios" / "s.yaml"
    path.write_text("cameras:\n  - {id: cam-a, file: ../videos/a.mp4, fps: 10, loop: false}\n")
    (camera,) = load_scenario(path).cameras
    assert camera.file == (tmp_path / "videos" / "a.mp4").resolve()
    assert camera.fps == 10
    assert camera.loop is False


@pytest.mark.parametrize(
    ("cameras", "message"),
    [
        ([{"id": "bad id", "file": "x.mp4"}], "camera id 'bad id' must match"),
        ([{"id": "cam.a", "file": "x.mp4"}], "must match"),
        ([{"id": "cam-a"}], "cameras.0.file: Field required"),
        ([{"id": "cam-a", "file": "x.mp4", "colour": "red"}], "cameras.0.colour: Extra inputs"),
        ([{"id": "cam-a", "file": "x.mp4", "fps": 0}], "cameras.0.fps"),
        ([], "cameras: List should have at least 1 item"),
        ([{"id": "cam-a", "file": "x.mp4"}, {"id": "cam-a", "file": "x.mp4"}], "duplicate camera ids: cam-a"),
        ([{"id": "cam-a", "file": "missing.mp4"}], "video file not found:\n  cam-a: "),
        ([{"id": "cam-a", "file": "x.mp4", "encode": {"codec": "vp9"}}], "cameras.0.encode.codec"),
        ([{"id": "cam-a", "file": "x.mp4", "substream": {"height": 8}}], "cameras.0.substream.height"),
        ([{"id": "cam-a", "file": "x.mp4", "substream": {"width": 640}}], "substream.width: Extra inputs"),
        ([{"id": "cam-a", "file": "x.mp4", "encode": {"fps": 6}}], "encode.fps: the camera's fps sets"),
    ],
)
def test_invalid_scenarios_say_what_is_wrong(
    cameras: list[dict[str, Any]], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_scenario({"cameras": cameras}, tmp_path)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cameras: [", "not valid YAML"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("", "cameras: Field required"),
    ],
)
def test_unreadable_scenario_files_name_the_file(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.yaml")


def test_a_camera_is_served_encoded_as_asked_with_a_sub_stream(video_dir: Path, tmp_path: Path) -> None:
    """An HEVC main stream and an H.264 sub-stream a third its height, of the same frames, from one file."""
    from camera_sim.feeder import MAIN, SUB
    from camera_sim.server import CameraSimulator

    camera = {
        "id": "cam-a",
        "file": str(video_dir / "hamilton_whitehouse_clip.mp4"),
        "fps": 25,
        "encode": {"codec": "hevc", "gop_s": 2},
        "substream": {"height": 120},
    }
    low = {**camera, "id": "cam-b", "substream": {"height": 120, "fps": 6}}
    scenario = parse_scenario({"cameras": [camera, low]}, tmp_path)
    sim = CameraSimulator.from_scenario(scenario, port=0)
    streams = sim.streams("cam-a")
    main, sub = streams[MAIN], streams[SUB]
    assert (main.codec, main.width, main.height) == ("hevc", 640, 360)
    assert (sub.codec, sub.width, sub.height) == ("h264", 214, 120)
    assert len(main.units) == len(sub.units) == 275
    assert main.fps == sub.fps == pytest.approx(25)
    # Two seconds of the file (29.97 fps) between keyframes, whatever rate it is replayed at.
    assert [u.keyframe for u in main.units][:61] == [i % 60 == 0 for i in range(61)]
    # A sub-stream at 6 fps of a 25 fps camera: every 4th frame, 6.25 fps, a keyframe a second.
    low_sub = sim.streams("cam-b")[SUB]
    assert (len(low_sub.units), low_sub.height) == (69, 120)
    assert low_sub.fps == pytest.approx(6.25)
    assert sim._feeders["cam-b"].substream_step == 4


def test_a_camera_login_comes_from_the_scenario_or_its_environment(
    tmp_path: Path, video_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = str(video_dir / "hamilton_whitehouse_clip.mp4")
    cameras = [
        {"id": "cam-a", "file": clip, "auth": {"username": "admin", "password": "inline-secret"}},
        {
            "id": "cam-b",
            "file": clip,
            "auth": {"method": "basic", "username": "op", "password_env": "SIM_B_PW"},
        },
        {"id": "cam-c", "file": clip},
    ]
    a, b, c = parse_scenario({"cameras": cameras}, tmp_path).cameras
    assert a.auth is not None and a.auth.sim_auth().password == "inline-secret"
    assert "inline-secret" not in repr(a) and "inline-secret" not in repr(a.auth.sim_auth())
    assert c.auth is None
    assert b.auth is not None
    with pytest.raises(ConfigError, match="SIM_B_PW is not set"):
        b.auth.sim_auth()
    monkeypatch.setenv("SIM_B_PW", "from-env")
    assert (b.auth.sim_auth().method, b.auth.sim_auth().password) == ("basic", "from-env")
    with pytest.raises(ConfigError, match="give password or password_env"):
        parse_scenario({"cameras": [{"id": "cam-d", "file": clip, "auth": {"username": "x"}}]}, tmp_path)
