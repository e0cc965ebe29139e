"""The read APIs behind the console's statistics and map: alerts per hour, day, camera, type, category and
district with verdicts (JSON and CSV), scoped by district; the cameras and the basemap settings; the pages
and their Content-Security-Policy (a configured tile server's origin, and nothing else, admitted)."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from sqlalchemy import update

from command_center.alerts.api.alert_stats import AlertGroup, AlertReport, as_csv
from command_center.alerts.tables import alerts
from command_center.security.permissions import Role
from pipeline.settings import ConfigError, Settings, parse
from tests.command_center.dispatch_helpers import serve_city, staff
from tests.command_center.helpers import Served, hit, settings_for

KARACHI_MORNING = datetime(2025, 3, 3, 6, 30, tzinfo=UTC)  # 11:30 in Karachi (UTC+5)


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def settings(
    database_url: str, nats_url: str, redis_url: str, tmp_path: Path, models_dir: Path, tag: str
) -> Settings:
    cameras = [
        {
            "id": f"cam-a-{tag}",
            "url": "rtsp://127.0.0.1/a",
            "district": "North",
            "name": "Blue Area",
            "latitude": 33.70,
            "longitude": 73.05,
        },
        {
            "id": f"cam-b-{tag}",
            "url": "rtsp://127.0.0.1/b",
            "district": "South",
            "name": "Saddar",
            "latitude": 33.60,
            "longitude": 73.10,
        },
        {"id": f"cam-c-{tag}", "url": "rtsp://user:secret@127.0.0.1/c", "district": "North"},
    ]
    return settings_for(database_url, nats_url, tmp_path, models_dir, redis_url=redis_url, cameras=cameras)


@pytest.fixture
async def served(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    async with serve_city(settings, nc) as running:
        yield running


async def open_alert(served: Served, camera_id: str, profile_id: int, category: str, at: datetime) -> int:
    """An alert as the hit consumer stores it, opened at ``at``."""
    found = hit(camera_id, profile_id=profile_id).model_copy(update={"category": category})
    store = served.app.state.services.alerts
    alert_id: int = (await asyncio.to_thread(store.record_hit, found, datetime.now(UTC))).alert.id
    with served.app.state.services.engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(created_at=at))
    return alert_id


async def stats(served: Served, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    response = await served.http.get("/stats/alerts", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def counts(body: dict[str, Any]) -> dict[str, tuple[int, int, int, int, float | None]]:
    return {
        g["key"]: (g["total"], g["confirmed"], g["false_positive"], g["open"], g["false_positive_rate"])
        for g in body["groups"]
    }


async def test_alerts_per_camera_category_hour_and_day_with_verdicts(served: Served, tag: str) -> None:
    a, b = f"cam-a-{tag}", f"cam-b-{tag}"
    ids = [
        await open_alert(served, a, 1, "wanted", KARACHI_MORNING),
        await open_alert(served, a, 2, "wanted", KARACHI_MORNING + timedelta(minutes=20)),
        await open_alert(
            served, a, 3, "missing", KARACHI_MORNING + timedelta(hours=20)
        ),  # next day in Karachi
        await open_alert(served, b, 4, "wanted", KARACHI_MORNING + timedelta(hours=1)),
    ]
    for alert_id in ids[:2]:
        dismissed = await served.http.post(f"/alerts/{alert_id}/dismiss", json={"reason": "not him: checked"})
        assert dismissed.status_code == 200, dismissed.text
    period = {"since": "2025-03-01T00:00:00Z", "until": "2025-03-08T00:00:00Z"}

    by_camera = await stats(served, group_by="camera", **period)
    assert counts(by_camera) == {a: (3, 0, 2, 1, 1.0), b: (1, 0, 0, 1, None)}
    assert [g["label"] for g in by_camera["groups"]] == ["Blue Area", "Saddar"]  # most alerts first
    assert by_camera["total"]["total"] == 4 and by_camera["total"]["false_positive"] == 2

    assert counts(await stats(served, group_by="category", **period)) == {
        "wanted": (3, 0, 2, 1, 1.0),
        "missing": (1, 0, 0, 1, None),
    }
    assert counts(await stats(served, group_by="kind", **period)) == {"face": (4, 0, 2, 2, 1.0)}
    assert counts(await stats(served, group_by="district", **period)) == {
        "North": (3, 0, 2, 1, 1.0),
        "South": (1, 0, 0, 1, None),
    }

    hours = await stats(served, group_by="hour", tz="Asia/Karachi", **period)
    assert [g["key"] for g in hours["groups"]] == [f"{h:02d}" for h in range(24)]  # no gaps in the chart
    busy = {k: v[0] for k, v in counts(hours).items() if v[0]}
    assert busy == {"11": 2, "12": 1, "07": 1}  # 06:30Z, 06:50Z, 07:30Z and 02:30Z next day, in Karachi
    assert {k: v[0] for k, v in counts(await stats(served, group_by="hour", **period)).items() if v[0]} == {
        "06": 2,
        "07": 1,
        "02": 1,
    }

    days = await stats(served, group_by="day", tz="Asia/Karachi", **period)
    assert len(days["groups"]) == 7 + 1  # the period in Karachi touches eight calendar days
    assert {k: v[0] for k, v in counts(days).items() if v[0]} == {"2025-03-03": 3, "2025-03-04": 1}

    north = await staff(served, Role.OPERATOR, "North")  # district-scoped: counts only his cameras
    assert list(counts(await stats(served, north, group_by="camera", **period))) == [a]

    response = await served.http.get(
        "/stats/alerts", params={"group_by": "camera", "format": "csv", **period}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    disposition = 'attachment; filename="alerts-by-camera-2025-03-01-2025-03-08.csv"'
    assert response.headers["content-disposition"] == disposition
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [
        (r["key"], r["label"], r["total"], r["false_positive"], r["false_positive_rate"]) for r in rows
    ] == [
        (a, "Blue Area", "3", "2", "1.0"),
        (b, "Saddar", "1", "0", ""),
        ("total", "all", "4", "2", "1.0"),
    ]


def test_csv_cells_that_look_like_formulas_are_defused() -> None:
    def group(key: str) -> AlertGroup:
        return AlertGroup(
            key=key, label=key, total=1, confirmed=0, false_positive=0, open=1, false_positive_rate=None
        )

    now = datetime.now(UTC)
    report = AlertReport(
        group_by="category",
        since=now,
        until=now,
        tz="UTC",
        groups=[group("=HYPERLINK(1)"), group("-1+2")],
        total=group("total"),
    )
    rows = list(csv.reader(io.StringIO(as_csv(report))))
    assert rows[1][:2] == ["'=HYPERLINK(1)", "'=HYPERLINK(1)"] and rows[2][0] == "'-1+2"


BAD_QUESTIONS = [
    ({"tz": "Mars/Olympus"}, "not a known time zone"),
    ({"tz": "../../etc/passwd"}, "string_pattern_mismatch"),
    ({"group_by": "weekday"}, "literal_error"),
    ({"format": "xlsx"}, "literal_error"),
    ({"since": "2025-03-08T00:00:00Z", "until": "2025-03-01T00:00:00Z"}, "must come before"),
    ({"since": "2020-01-01T00:00:00Z", "until": "2025-03-01T00:00:00Z"}, "within three years"),
    ({"since": "9999-12-30T00:00:00Z", "until": "9999-12-31T23:00:00Z"}, "between 2000 and 2100"),
    ({"tz": "America/"}, "not a known time zone"),
    ({"since": "2025-03-01T00:00:00"}, "timezone"),
]


async def test_bad_questions_are_refused_with_the_reason(served: Served) -> None:
    for params, why in BAD_QUESTIONS:
        response = await served.http.get("/stats/alerts", params=params)
        assert response.status_code == 422, (params, response.text)
        assert why in response.text, (params, response.text)


async def test_cameras_and_map_config_follow_the_callers_districts(served: Served, tag: str) -> None:
    response = await served.http.get("/cameras")
    assert response.status_code == 200
    cameras = response.json()
    assert [c["id"] for c in cameras] == [f"cam-a-{tag}", f"cam-b-{tag}", f"cam-c-{tag}"]
    assert cameras[2]["name"] == f"cam-c-{tag}" and cameras[2]["latitude"] is None
    assert "secret" not in response.text and "rtsp" not in response.text  # stream URLs stay server-side

    north = await staff(served, Role.OPERATOR, "North")
    mine = (await served.http.get("/cameras", headers=north)).json()
    assert [c["id"] for c in mine] == [f"cam-a-{tag}", f"cam-c-{tag}"]
    config = (await served.http.get("/map/config", headers=north)).json()
    assert config["centre"] == [33.70, 73.05]  # the one placed camera this operator sees
    assert config["tile_url"] == "" and config["basemap"].startswith("/static/")
    basemap = await served.http.get(config["basemap"])
    assert basemap.status_code == 200
    assert "Pakistan" in {f["properties"]["name"] for f in basemap.json()["features"]}
    everyone = (await served.http.get("/map/config")).json()
    assert everyone["centre"] == [33.65, 73.075]

    # The pages themselves are public (their every call is not), with the app's policy unchanged.
    for path, script in (("/", "/static/js/console/main.js"), ("/officer", "/static/js/officer/main.js")):
        page = await served.anon.get(path)
        assert page.status_code == 200
        assert f'src="{script}"' in page.text
        assert page.headers["content-security-policy"].count("img-src 'self' data:;") == 1
        assert (await served.anon.get(script)).status_code == 200


async def test_a_tile_server_is_admitted_by_origin(settings: Settings, nc: Client) -> None:
    tiles = "https://tiles.police.example:8443/osm/{z}/{x}/{y}.png"
    cc = settings.command_center.model_copy(update={"map_tile_url": tiles, "map_attribution": "© OSM"})
    async with serve_city(settings.model_copy(update={"command_center": cc}), nc) as served:
        policy = (await served.anon.get("/")).headers["content-security-policy"]
        assert "img-src 'self' data: https://tiles.police.example:8443;" in policy
        assert "script-src 'self';" in policy  # nothing else widened
        config = (await served.http.get("/map/config")).json()
        assert config["tile_url"] == tiles and config["attribution"] == "© OSM"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://tiles.example/{z}/{x}/{y}.png",
        "https://tiles.example/tiles.png",
        "https://tiles.example/{z}/{x}/{y}.png' https://evil.example",
        "javascript:alert(1)//{z}{x}{y}",
    ],
)
def test_a_bad_tile_url_is_refused_at_start(url: str, tmp_path: Path) -> None:
    with pytest.raises((ConfigError, ValueError)) as refused:
        parse(
            {"environment": "development", "data_dir": str(tmp_path), "command_center": {"map_tile_url": url}}
        )
    assert "map_tile_url" in str(refused.value)
