"""The pages learn the deployment's time zone from /console/config; an unknown zone is refused at start."""

from __future__ import annotations

import pytest

from pipeline.settings import ConfigError, parse
from tests.command_center.helpers import Served


async def test_the_pages_are_told_the_deployments_time_zone(served: Served) -> None:
    answer = await served.anon.get("/console/config")
    assert answer.status_code == 200 and answer.json() == {"time_zone": ""}  # the tests' default: none


def test_a_known_zone_is_taken_and_an_unknown_one_refused_with_its_name() -> None:
    assert parse({"command_center": {"time_zone": "Asia/Karachi"}}).command_center.time_zone == "Asia/Karachi"
    with pytest.raises(ConfigError, match="'Asia/Lahore' is not a known IANA time zone"):
        parse({"command_center": {"time_zone": "Asia/Lahore"}})
