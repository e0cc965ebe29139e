"""The pages learn the deployment's time zone and its kinds of alert from /console/config; an unknown zone is
refused at start."""

from __future__ import annotations

import pytest

from pipeline.settings import ConfigError, parse
from tests.command_center.helpers import Served


async def test_the_pages_are_told_the_deployments_time_zone(served: Served) -> None:
    answer = await served.anon.get("/console/config")
    assert answer.status_code == 200, answer.text
    config = answer.json()
    assert config["time_zone"] == ""  # the tests' default: none
    # Every kind of alert, named by its own module (command_center/alerts/kinds).
    assert config["alert_kinds"] == [
        {"kind": "face", "title": "Face"},
        {"kind": "plate", "title": "Vehicle plate"},
        {"kind": "checkin", "title": "Hotel check-in"},
        {"kind": "tamper", "title": "Camera tampering"},
        {"kind": "fusion", "title": "Face + vehicle"},
    ]


def test_a_known_zone_is_taken_and_an_unknown_one_refused_with_its_name() -> None:
    assert parse({"command_center": {"time_zone": "Asia/Karachi"}}).command_center.time_zone == "Asia/Karachi"
    with pytest.raises(ConfigError, match="'Asia/Lahore' is not a known IANA time zone"):
        parse({"command_center": {"time_zone": "Asia/Lahore"}})
