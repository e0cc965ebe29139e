"""camera_sim's faults: declared in a scenario, injected, listed and cleared over its HTTP API (4xx with a
reason for what it cannot do), and a clip that starts with its first viewer. The worker's recovery from
each fault is tested in tests/workers/test_fault_recovery.py."""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from camera_sim.clip import Clip
from camera_sim.faults import FAULT_KINDS, FaultBoard, corrupted, parse_fault
from camera_sim.scenario import load_scenario, parse_scenario
from camera_sim.server import CameraSimulator, SimCamera
from pipeline.frame_stamp import H264, nal_units
from pipeline.settings import ConfigError
from safecity_cli.camera_sim_metrics import serve_metrics
from tests.services import free_port
from tests.workers.source_reader import Reader


def call(
    url: str, method: str = "GET", body: object = None, raw: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"kind": "flood", "duration_s": 1}, "kind"),
        ({"kind": "stall"}, "duration_s"),
        ({"kind": "stall", "duration_s": 1, "height": 240}, "height is not a parameter of a stall fault"),
        ({"kind": "resolution", "duration_s": 1}, "needs height"),
        ({"kind": "corrupt", "duration_s": 1, "fraction": 2}, "fraction"),
        ({"kind": "skew", "duration_s": 1}, "non-zero skew_s"),
    ],
)
def test_an_invalid_fault_is_refused_saying_why(fault: dict[str, Any], reason: str, video_dir: Path) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_fault(fault)
    data = {"cameras": [{"id": "c", "file": "hamilton_whitehouse_clip.mp4", "faults": [fault]}]}
    with pytest.raises(ConfigError, match="faults"):
        parse_scenario(data, video_dir)


def test_a_scenario_declares_faults_and_a_first_viewer_start(video_dir: Path, tmp_path: Path) -> None:
    data = {
        "cameras": [
            {
                "id": "gate",
                "file": "hamilton_whitehouse_clip.mp4",
                "start": "on_first_viewer",
                "faults": [
                    {"kind": "stall", "at_s": 30, "duration_s": 4},
                    {"kind": "resolution", "at_s": 40, "duration_s": 5, "height": 240},
                ],
            }
        ]
    }
    scenario = parse_scenario(data, video_dir)
    with CameraSimulator.from_scenario(scenario, port=0, cache_dir=tmp_path) as sim:
        # Nobody watches yet: the clock waits, and the faults (counted from it) are not scheduled.
        assert not sim.wait_started("gate", 0) and sim.faults() == []
        assert sim.stats()["gate"].frames_sent == 0
        reader = Reader(sim.url("gate"))
        reader.source.start()
        try:
            assert sim.wait_started("gate", 10)
            kinds = [(f.spec.kind, round(f.ends_at - f.starts_at)) for f in sim.faults("gate")]
            assert kinds == [("stall", 4), ("resolution", 5)]
            assert all(f.view(f.starts_at - 1)["state"] == "scheduled" for f in sim.faults())
        finally:
            reader.stop.set()
            reader.source.join(10)


def test_a_skew_needs_a_camera_that_stamps_its_frames(video_dir: Path) -> None:
    camera = {"id": "c", "file": "hamilton_whitehouse_clip.mp4", "stamps": False}
    skew = {"kind": "skew", "duration_s": 1, "skew_s": 5}
    with pytest.raises(ConfigError, match="stamps: false"):
        parse_scenario({"cameras": [camera | {"faults": [skew]}]}, video_dir)


def test_the_example_scenario_with_faults_loads() -> None:
    scenario = load_scenario(Path(__file__).parents[2] / "configs" / "scenarios" / "faults.yaml")
    faulty = scenario.cameras[0]
    assert faulty.start == "on_first_viewer"
    assert sorted(f.kind for f in faulty.faults) == sorted(FAULT_KINDS)


def test_a_short_clip_starts_with_its_first_viewer_however_late(short_clip: Clip) -> None:
    camera = SimCamera("late", short_clip, loop=False, on_first_viewer=True)
    with CameraSimulator([camera], port=0) as sim:
        assert sim.readiness().cameras_playing == ["late"]  # servable while it waits
        assert not sim.wait_started("late", 0) and sim.stats()["late"].frames_sent == 0
        reader = Reader(sim.url("late"), fps=120, stop_at_end=True)
        reader.source.start()
        frames = []
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until the clip ends (the source closes its queue)
                frame = reader.queue.get(timeout=0.2)
                if frame is not None:
                    frames.append(frame)
                elif reader.queue.closed:
                    break
        finally:
            reader.stop.set()
            reader.source.join(10)
    # (The keyframe the mount was primed with while it waited carries no stamp: it is not the clip's.)
    seqs = [f.seq for f in frames if f.seq is not None]
    assert seqs and seqs[0] == 0, seqs[
        :5
    ]  # the clip from its first frame, not from wherever its clock had got
    # ... through it (its last few frames may be cut by the end of the stream, as test_source finds)
    assert seqs[-1] >= len(short_clip.units) * 3 // 4 and len(seqs) >= len(short_clip.units) // 2, seqs


def test_faults_are_injected_listed_and_cleared_over_http(hamilton: Clip, tmp_path: Path) -> None:
    plain = SimCamera("plain", hamilton, stamps=False)
    cameras = [SimCamera("gate", hamilton), SimCamera("yard", hamilton), plain]
    sim = CameraSimulator(cameras, port=0, cache_dir=tmp_path)
    port = free_port()
    server = serve_metrics(sim, "127.0.0.1", port)
    base = f"http://127.0.0.1:{port}/faults"
    try:
        sim.start()
        status, body = call(f"{base}/nowhere", "POST", {"kind": "stall", "duration_s": 5})
        assert status == 404 and "unknown camera 'nowhere'" in body["error"]
        status, body = call(f"{base}/gate", "POST", {"kind": "melt", "duration_s": 5})
        assert status == 422 and "kind" in body["error"]
        assert call(f"{base}/gate", "POST", raw=b"{not json")[0] == 400
        assert call(f"{base}/gate", "POST", [1, 2])[0] == 400
        assert call(base, "POST", {"kind": "stall", "duration_s": 5})[0] == 405
        assert call(f"{base}/gate", "PUT", {})[0] == 405

        status, stall = call(f"{base}/gate", "POST", {"kind": "stall", "duration_s": 600})
        assert status == 201 and stall["state"] == "active" and stall["camera"] == "gate", stall
        status, later = call(
            f"{base}/yard", "POST", {"kind": "skew", "at_s": 600, "duration_s": 5, "skew_s": -3}
        )
        assert status == 201 and later["state"] == "scheduled" and later["skew_s"] == -3
        status, resized = call(
            f"{base}/yard", "POST", {"kind": "resolution", "duration_s": 600, "height": 180}
        )
        assert status == 201, resized
        assert call(f"{base}/yard", "POST", {"kind": "resolution", "duration_s": 1, "height": 360})[0] == 422
        status, body = call(f"{base}/plain", "POST", {"kind": "skew", "duration_s": 1, "skew_s": 5})
        assert status == 422 and "stamps: false" in body["error"], body

        status, listed = call(base)
        assert status == 200 and {f["id"] for f in listed["faults"]} == {
            stall["id"],
            later["id"],
            resized["id"],
        }
        assert [f["id"] for f in call(f"{base}/gate")[1]["faults"]] == [stall["id"]]

        assert call(f"{base}/gate/{later['id']}", "DELETE")[0] == 404  # it is yard's
        assert call(f"{base}/yard/x", "DELETE")[0] == 404
        assert call(f"{base}/yard/{later['id']}", "DELETE") == (200, {"cleared": 1})
        assert call(f"{base}/gate", "DELETE") == (200, {"cleared": 1})
        assert call(base, "DELETE") == (200, {"cleared": 1})
        assert call(base) == (200, {"faults": []})
        # The probes are untouched.
        assert call(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        server.shutdown()
        sim.stop()


def test_corruption_flips_slice_bytes_only(hamilton: Clip) -> None:
    unit = next(u.data for u in hamilton.units if u.keyframe)
    out = corrupted(unit, H264, 0.01, random.Random(1))
    assert len(out) == len(unit) and out != unit
    assert nal_units(out, H264) == nal_units(unit, H264)  # start codes and headers intact
    differing = sum(a != b for a, b in zip(out, unit, strict=True))
    assert 0.005 * len(unit) <= differing <= 0.011 * len(unit), differing
    slices = [start for start, t in nal_units(unit, H264) if t in H264.vcl_types]
    assert all(a == b for a, b in zip(out[: slices[0]], unit[: slices[0]], strict=True))


def test_a_board_says_which_fault_is_in_effect_when() -> None:
    board = FaultBoard("c")
    first = board.add(parse_fault({"kind": "stall", "at_s": 1, "duration_s": 2}), origin=100.0)
    assert board.active("stall", 100.5) is None
    assert board.active("stall", 101.0) == first
    assert board.active("drop", 101.0) is None
    assert board.active("stall", 103.0) is None
    assert board.listed(103.0) == [] and board.clear() == 0
