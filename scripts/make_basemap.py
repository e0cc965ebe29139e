"""Make the console map's offline basemap: Pakistan and its neighbours, from Natural Earth 1:10m.

The console must draw a map with no internet, so it ships a small GeoJSON outline instead of fetching
tiles. This script made ``command_center/static/vendor/basemap/pakistan.geojson`` from the npm package
``world-atlas`` (Natural Earth 4.1.0, public domain; TopoJSON by Mike Bostock, ISC):

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/make_basemap.py package/countries-10m.json \\
        command_center/static/vendor/basemap/pakistan.geojson

Each country's polygons are decoded from the topology, clipped to the bounding box below and rounded to
the data's own precision (~200 m), which keeps the file small.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

BBOX = (60.0, 23.0, 79.0, 37.5)  # west, south, east, north: Pakistan with room around it
DIGITS = 4

Point = tuple[float, float]
Ring = list[Point]


def decode_arcs(topology: dict[str, Any]) -> list[Ring]:
    """Quantized, delta-encoded arcs → absolute longitude/latitude."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_of(indices: list[int], arcs: list[Ring]) -> Ring:
    """A ring from arc indices (a negative index ~i is arc i reversed); shared end points once."""
    ring: Ring = []
    for index in indices:
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        ring.extend(points[1:] if ring else points)
    return ring


def clip(ring: Ring, bbox: tuple[float, float, float, float]) -> Ring:
    """Sutherland-Hodgman against the box (convex), which is all a rectangular window needs."""
    west, south, east, north = bbox
    edges = [
        (lambda p: p[0] >= west, lambda a, b: _at_x(a, b, west)),
        (lambda p: p[0] <= east, lambda a, b: _at_x(a, b, east)),
        (lambda p: p[1] >= south, lambda a, b: _at_y(a, b, south)),
        (lambda p: p[1] <= north, lambda a, b: _at_y(a, b, north)),
    ]
    out = ring
    for inside, cross in edges:
        if not out:
            break
        source, out = out, []
        previous = source[-1]
        for point in source:
            if inside(point):
                if not inside(previous):
                    out.append(cross(previous, point))
                out.append(point)
            elif inside(previous):
                out.append(cross(previous, point))
            previous = point
    return out


def _at_x(a: Point, b: Point, x: float) -> Point:
    t = (x - a[0]) / (b[0] - a[0])
    return (x, a[1] + t * (b[1] - a[1]))


def _at_y(a: Point, b: Point, y: float) -> Point:
    t = (y - a[1]) / (b[1] - a[1])
    return (a[0] + t * (b[0] - a[0]), y)


def polygons(geometry: dict[str, Any]) -> list[list[list[int]]]:
    if geometry["type"] == "Polygon":
        return [geometry["arcs"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["arcs"])
    return []


def rounded(ring: Ring) -> list[list[float]]:
    points: list[list[float]] = []
    for x, y in ring:
        point = [round(x, DIGITS), round(y, DIGITS)]
        if not points or points[-1] != point:
            points.append(point)
    if points and points[0] != points[-1]:
        points.append(points[0])
    return points


def basemap(topology: dict[str, Any]) -> dict[str, Any]:
    arcs = decode_arcs(topology)
    features = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        shapes = []
        for polygon in polygons(geometry):
            rings = [rounded(clip(ring_of(r, arcs), BBOX)) for r in polygon]
            if len(rings[0]) >= 4:
                shapes.append([r for r in rings if len(r) >= 4])
        if shapes:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"name": geometry["properties"]["name"]},
                    "geometry": {"type": "MultiPolygon", "coordinates": shapes},
                }
            )
    return {
        "type": "FeatureCollection",
        "properties": {
            "source": "Natural Earth 1:10m Admin 0 countries 4.1.0 (public domain), via world-atlas 2.0.2",
            "bbox": list(BBOX),
        },
        "features": features,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("topology", type=Path, help="world-atlas countries-10m.json")
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    made = basemap(json.loads(args.topology.read_text()))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(made, separators=(",", ":")))
    names = ", ".join(f["properties"]["name"] for f in made["features"])
    print(f"{args.output}: {len(made['features'])} countries ({names}), {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
