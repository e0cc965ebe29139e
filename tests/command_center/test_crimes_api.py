"""Crime reports over HTTP on both databases: officers report with GPS, type and photos; staff search by
type, time, area, police station and FIR with an audited reason; the hotspot grid for the console map."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from command_center.records.crimes import M_PER_DEG, cell_centre, cell_of
from command_center.security.permissions import Role
from tests.command_center.casework_helpers import ago
from tests.command_center.helpers import Served, jpeg
from tests.command_center.records_helpers import REASON, audited, client

# Gulberg, Lahore; a degree of latitude is ~111.2 km.
LAT, LON = 31.5204, 74.3587


def north(metres: float) -> float:
    return LAT + metres / M_PER_DEG


def crime(kind: str = "theft", **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "type": kind,
        "occurred_at": ago(hours=2),
        "latitude": LAT,
        "longitude": LON,
        "district": "Lahore",
        "police_station": "PS Gulberg",
        "place": "Main Boulevard, Gulberg",
    }
    values.update(fields)
    return values


async def report(http: httpx.AsyncClient, kind: str = "theft", **fields: Any) -> dict[str, Any]:
    response = await http.post("/crimes", json=crime(kind, **fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def search(http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await http.get("/crimes", params={**params, **REASON})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_officer_reports_a_crime_and_staff_search_it(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    operator = await client(served, Role.OPERATOR)
    async with officer, operator:
        theft = await report(officer, "theft", fir_number="301/2025")
        assert theft["officer_id"] >= 1 and theft["photos"] == []
        photo = await officer.post(
            f"/crimes/{theft['id']}/photos",
            files={"photo": ("scene.jpg", jpeg((9, 9, 200), 64), "image/jpeg")},
        )
        assert photo.status_code == 201, photo.text
        seen = await operator.get(photo.json()["url"])
        assert seen.status_code == 200 and seen.content[:2] == b"\xff\xd8"
        await report(officer, "snatching", latitude=north(800), occurred_at=ago(days=3))
        await report(
            officer, "murder", latitude=north(5000), police_station="PS Model Town", fir_number="12/2025"
        )
        await report(
            officer, "other", type_detail="Cattle theft", latitude=north(50_000), occurred_at=ago(days=40)
        )

        everything = await search(operator, limit=2)
        assert everything["total"] >= 4 and len(everything["reports"]) == 2
        assert (await search(operator, type="theft"))["total"] >= 1
        near = await search(operator, lat=LAT, lon=LON, radius_m=1000)
        assert sorted(r["type"] for r in near["reports"]) == ["snatching", "theft"]
        assert all(r["distance_m"] <= 1000 for r in near["reports"])
        wider = await search(operator, lat=LAT, lon=LON, radius_m=6000)
        assert sorted(r["type"] for r in wider["reports"]) == ["murder", "snatching", "theft"]
        recent = await search(operator, lat=LAT, lon=LON, radius_m=6000, since=ago(days=1))
        assert sorted(r["type"] for r in recent["reports"]) == ["murder", "theft"]
        by_station = await search(operator, police_station="ps model town")
        assert [r["fir_number"] for r in by_station["reports"]] == ["12/2025"]
        by_fir = await search(operator, fir="301/2025")
        assert [r["id"] for r in by_fir["reports"]] == [theft["id"]]
        assert by_fir["reports"][0]["photos"] == [photo.json()["url"]]
        view = await operator.get(f"/crimes/{theft['id']}", params=REASON)
        assert view.status_code == 200 and view.json()["place"] == "Main Boulevard, Gulberg"

        [entry, *_] = audited(served, "crimes.search")
        assert entry.reason == REASON["reason"] and entry.details["filters"]["fir"] == "301/2025"
        assert audited(served, "crimes.report")
        types = await operator.get("/crimes/types")
        assert {"theft", "murder", "other"} <= {t["type"] for t in types.json()}


async def test_hotspots_count_reports_on_a_fixed_grid(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    async with officer:
        district = f"Hotspot {datetime.now(UTC).timestamp():.0f}"
        for kind in ("theft", "theft", "snatching"):  # one cell
            await report(officer, kind, district=district, latitude=north(20), longitude=LON + 0.0002)
        await report(officer, "robbery", district=district, latitude=north(3000))  # another
        await report(officer, "robbery", district=district, latitude=north(3000), occurred_at=ago(days=20))

        params = {"district": district, "cell_m": 500, "since": ago(days=7)}
        response = await served.http.get("/crimes/hotspots", params=params)
        assert response.status_code == 200, response.text
        grid = response.json()
        assert set(grid) == {"cell_m", "cells", "total"} and grid["cell_m"] == 500
        assert grid["total"] == 4
        busiest, other = grid["cells"]
        assert busiest["count"] == 3 and busiest["by_type"] == {"theft": 2, "snatching": 1}
        assert other["count"] == 1 and other["by_type"] == {"robbery": 1}
        assert set(busiest) == {"lat", "lon", "count", "by_type"}
        row, column = cell_of(north(20), LON + 0.0002, 500)
        assert (busiest["lat"], busiest["lon"]) == pytest.approx(cell_centre(row, column, 500), abs=1e-6)
        assert abs(busiest["lat"] - north(20)) <= 250 / M_PER_DEG

        thefts = (await served.http.get("/crimes/hotspots", params={**params, "type": "theft"})).json()
        assert thefts["total"] == 2 and thefts["cells"][0]["by_type"] == {"theft": 2}
        everything = (await served.http.get("/crimes/hotspots", params={"district": district})).json()
        assert everything["total"] == 5
        coarse = (
            await served.http.get("/crimes/hotspots", params={"district": district, "cell_m": 20_000})
        ).json()
        assert [c["count"] for c in coarse["cells"]] == [5]
        assert audited(served, "crimes.hotspots")


async def test_crime_statistics_by_police_station_district_and_type_as_json_and_csv(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    async with officer:
        district = f"Stats {datetime.now(UTC).timestamp():.0f}"
        for kind, station in [("theft", "PS Gulberg"), ("theft", "PS Gulberg"), ("robbery", "PS Gulberg")]:
            await report(officer, kind, district=district, police_station=station)
        await report(officer, "snatching", district=district, police_station="PS Model Town")
        await report(officer, "theft", district=district, police_station=None)
        await report(
            officer, "theft", district=district, police_station="=HYPERLINK", occurred_at=ago(days=20)
        )

        week = {"district": district, "since": ago(days=7)}
        by_station = (await served.http.get("/crimes/stats", params=week)).json()
        assert by_station["group_by"] == "police_station" and by_station["total"] == 5
        assert [(g["key"], g["count"], g["by_type"]) for g in by_station["groups"]] == [
            ("PS Gulberg", 3, {"theft": 2, "robbery": 1}),
            ("PS Model Town", 1, {"snatching": 1}),
            (None, 1, {"theft": 1}),
        ]
        by_type = (await served.http.get("/crimes/stats", params={**week, "group_by": "type"})).json()
        assert [(g["key"], g["count"]) for g in by_type["groups"]] == [
            ("theft", 3),
            ("robbery", 1),
            ("snatching", 1),
        ]
        thefts = await served.http.get(
            "/crimes/stats", params={**week, "group_by": "district", "type": "theft"}
        )
        assert [(g["key"], g["count"]) for g in thefts.json()["groups"]] == [(district, 3)]

        everything = await served.http.get("/crimes/stats", params={"district": district, "format": "csv"})
        assert everything.headers["content-type"].startswith("text/csv")
        rows = everything.text.splitlines()
        assert rows[0] == "police_station,count,robbery,snatching,theft"
        assert rows[1] == "PS Gulberg,3,1,0,2" and rows[-1] == "total,6,1,1,4"
        assert "'=HYPERLINK,1,0,0,1" in rows, "a name that looks like a formula is quoted"

        assert (await served.http.get("/crimes/stats", params={"group_by": "camera"})).status_code == 422
        late = {"since": ago(days=1), "until": ago(days=2)}
        assert (await served.http.get("/crimes/stats", params=late)).status_code == 422
        assert audited(served, "crimes.stats")


def test_grid_cells_keep_their_size_and_place() -> None:
    for latitude in (24.86, 31.52, 35.92):  # Karachi, Lahore, Gilgit
        row, column = cell_of(latitude, 70.0, 500)
        lat0, lon0 = cell_centre(row, column, 500)
        east = cell_centre(row, column + 1, 500)
        width = (east[1] - lon0) * M_PER_DEG * math.cos(math.radians(lat0))
        assert width == pytest.approx(500, rel=1e-6)
        assert cell_of(lat0, lon0, 500) == (row, column)


async def test_bad_reports_and_searches_are_refused(served: Served) -> None:
    officer = await client(served, Role.PATROL_OFFICER)
    reader = await client(served, Role.RECORDS_CLERK)
    async with officer, reader:
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        refused = [
            (crime("shoplifting"), "unknown type"),
            (crime("other"), "other without detail"),
            (crime(latitude=91), "latitude"),
            (crime(occurred_at=future), "future"),
            (crime(occurred_at="2025-01-01T10:00:00"), "no timezone"),
            (crime(fir_number="12/2025 ;drop"), "fir"),
            (crime(colour="red"), "unknown field"),
        ]
        for body, why in refused:
            response = await officer.post("/crimes", json=body)
            assert response.status_code == 422, (why, response.text)
        assert (await reader.post("/crimes", json=crime())).status_code == 403  # clerks read, officers report
        assert (await reader.get("/crimes")).status_code == 422  # no reason
        for params in ({"lat": LAT}, {"type": "shoplifting"}, {"since": ago(hours=1), "until": ago(hours=2)}):
            response = await reader.get("/crimes", params={**params, **REASON})
            assert response.status_code == 422, params
        assert (await reader.get("/crimes/hotspots", params={"cell_m": 10})).status_code == 422
        assert (await reader.get("/crimes/424242", params=REASON)).status_code == 404
