"""``POST /fingerprints/identify`` on both databases against a real AFIS: the project's own
``safecity afis serve`` in a process of its own (free port, gallery under tmp_path), holding synthetic
prints (safecity_afis.synth, SFinGe-style) enrolled under CRO person ids."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from command_center.security.permissions import Role
from pipeline.settings import Settings
from pipeline.settings.afis import AfisSettings
from safecity_afis import synth
from safecity_afis.gallery import Gallery
from tests.command_center.helpers import Served
from tests.command_center.records_helpers import REASON, add_person, audited, client
from tests.e2e.procs import wait_http
from tests.services import free_port


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


@pytest.fixture(scope="module")
def prints() -> list[tuple[np.ndarray, np.ndarray]]:
    """Three fingers, two impressions of each (enrolled, searched), and a finger never enrolled."""
    rng = np.random.default_rng(77)
    fingers = [synth.master(rng) for _ in range(4)]
    return [(synth.impression(f, rng), synth.impression(f, rng)) for f in fingers]


@pytest.fixture
def afis_url(tmp_path: Path) -> Iterator[str]:
    """A ``safecity afis serve`` process; ready once its /health answers."""
    port = free_port()
    data = tmp_path / "afis"
    serve = ["afis", "serve", "--port", str(port), "--data", str(data)]
    process = subprocess.Popen(
        [sys.executable, "-m", "safecity_cli.main", *serve],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health", 60, process)  # polls the health check until it answers
        yield f"{base}/transactions"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def settings(settings: Settings, afis_url: str) -> Settings:
    return settings.model_copy(update={"afis": AfisSettings(url=afis_url)})


def enrol_by_cli(image: np.ndarray, subject: int, data: Path, tmp_path: Path) -> None:
    path = tmp_path / f"enrol-{subject}.png"
    path.write_bytes(png(image))
    command = ["afis", "enrol", str(path), "--subject", str(subject), "--data", str(data)]
    done = subprocess.run(
        [sys.executable, "-m", "safecity_cli.main", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"as subject {subject}" in done.stdout


async def test_officer_identifies_a_print_and_the_search_is_audited(
    served: Served, prints: list[tuple[np.ndarray, np.ndarray]], tmp_path: Path
) -> None:
    clerk = await client(served, Role.RECORDS_CLERK)
    officer = await client(served, Role.PATROL_OFFICER)
    async with clerk, officer:
        ids = [(await add_person(clerk, name))["id"] for name in ("Asif Ali", "Bilal Khan", "Kamran Butt")]
        enrol_by_cli(prints[0][0], ids[0], tmp_path / "afis", tmp_path)
        for (enrolled, _), pid in list(zip(prints, ids, strict=False))[1:]:
            Gallery(tmp_path / "afis").enrol(str(pid), enrolled)

        files = {"image": ("print.png", png(prints[1][1]), "image/png")}
        assert (await officer.post("/fingerprints/identify", files=files)).status_code == 422  # no reason
        found = await officer.post("/fingerprints/identify", files=files, data=REASON)
        assert found.status_code == 200, found.text
        body = found.json()
        first = body["candidates"][0]
        assert first["rank"] == 1 and first["person"]["id"] == ids[1]
        assert first["person"]["name"] == "Bilal Khan" and first["score"] >= body["min_score"]
        assert body["tcn"].startswith("SC-") and body["minutiae"] >= 20
        [entry] = audited(served, "fingerprints.identify", "persons")
        assert entry.reason == REASON["reason"] and entry.role == "patrol_officer"
        assert entry.details["tcn"] == body["tcn"]
        assert entry.details["returned"][0] == [str(ids[1]), first["score"]]

        stranger = {"image": ("print.png", png(prints[3][1]), "image/png")}
        nobody = await officer.post("/fingerprints/identify", files=stranger, data=REASON)
        assert nobody.status_code == 200 and nobody.json()["candidates"] == []

        junk = {"image": ("print.png", b"not an image", "image/png")}
        refused = await officer.post("/fingerprints/identify", files=junk, data=REASON)
        assert refused.status_code == 422 and "PNG or JPEG" in refused.json()["detail"]
