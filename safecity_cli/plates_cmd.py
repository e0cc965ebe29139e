"""``safecity plates``: licence plates from the command line.

``safecity plates read IMAGE...`` prints ONE JSON list on stdout with an entry per image, in the order
given: ``{"image": path, "plates": [{"text", "display", "confidence", "box": {x, y, w, h}, "country",
"format", ...}]}``. An image that cannot be read gets ``"error"`` (and no plates); the others are still
read, and the exit code is then 1. Plates are read whatever their country: the countries expected
(``plates.countries`` in the settings, or ``--country``, repeatable; ``--region-free`` for none) only
decide which formats weigh most when a reading is doubtful (O or 0, I or 1).

``safecity plates search TEXT`` searches the vehicle hotlist (exact, ``LEA-12*`` or fuzzy), audited, as
``safecity vehicles search`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.settings import Settings
from pipeline.settings.plates import LpdYuNetDetector, PlateDetDetector, PlatesSettings
from safecity_cli.main import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError
from safecity_cli.vehicles_cmd import add_search_arguments

if TYPE_CHECKING:
    from pipeline.plates.reader import PlateObservation, PlateReader
    from pipeline.types import Image

MAX_IMAGE_BYTES = 50_000_000


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "plates", help="read licence plates", description="Licence plates (ANPR) from the command line."
    )
    actions = parser.add_subparsers(dest="plates_command", metavar="ACTION", required=True)
    read = actions.add_parser(
        "read",
        parents=[parent],
        help="read the plates in photos; prints one JSON list, an entry per image in order",
    )
    read.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    expected = read.add_mutually_exclusive_group()
    expected.add_argument(
        "--country",
        action="append",
        dest="countries",
        metavar="CODE",
        help="a country whose plates are expected, e.g. pk, in, us, eu, br: its formats weigh most "
        "(repeatable; default: plates.countries). Other plates are still read.",
    )
    expected.add_argument(
        "--region-free",
        action="store_true",
        help="expect no country: every known format weighs the same (whatever plates.countries says)",
    )
    read.add_argument(
        "--detector",
        choices=["lpd_yunet", "platedet"],
        help="plate detector (default: plates.detector; platedet weights are AGPL-3.0)",
    )
    read.add_argument("--all", action="store_true", help="also list plates found but not readable")
    read.set_defaults(func=run_read)

    search = actions.add_parser(
        "search",
        parents=[parent],
        help="find a plate on the vehicle hotlist: exact, LEA-12*, or fuzzy (as 'safecity vehicles search')",
    )
    add_search_arguments(search)


def _plate_settings(args: argparse.Namespace, settings: Settings) -> PlatesSettings:
    plates = settings.plates
    update: dict[str, object] = {}
    if args.countries:
        update["countries"] = list(dict.fromkeys(c.lower() for c in args.countries))
    elif args.region_free:
        update["countries"] = []
    if args.detector == "platedet" and plates.detector.type != "platedet":
        update["detector"] = PlateDetDetector(type="platedet")
    elif args.detector == "lpd_yunet" and plates.detector.type != "lpd_yunet":
        update["detector"] = LpdYuNetDetector()
    if not update:
        return plates
    try:
        return PlatesSettings.model_validate({**plates.model_dump(), **update})
    except ValueError as exc:
        raise CommandError(f"invalid plate settings: {exc}", EXIT_USAGE) from None


def _reader(args: argparse.Namespace, settings: Settings) -> PlateReader:
    from pipeline.models.registry import ModelError, load_registry, locate_registry
    from pipeline.plates.formats import FormatError
    from pipeline.plates.reader import PlateReader

    try:
        registry = load_registry(locate_registry(settings.models_registry))
        reader = PlateReader(
            _plate_settings(args, settings), settings.models_dir, registry, engines=settings.models
        )
        reader.load()
    except FormatError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except ModelError as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from None
    return reader


def load_image(path: Path) -> Image:
    """A BGR image from ``path``; ValueError with a short reason when it cannot be had."""
    import cv2

    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise ValueError(f"larger than {MAX_IMAGE_BYTES} bytes")
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except IsADirectoryError:
        raise ValueError("is a directory") from None
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError("not a readable image")
    return np.ascontiguousarray(image, dtype=np.uint8)


def plate_json(obs: PlateObservation) -> dict[str, object]:
    x, y, w, h = obs.box
    return {
        "text": obs.text,
        "display": obs.display,
        "confidence": round(obs.confidence, 3),
        "box": {"x": round(x), "y": round(y), "w": round(w), "h": round(h)},
        "country": obs.country,
        "format": obs.plate_format,
        "detector_score": round(obs.detector_score, 3),
        "raw_text": obs.raw_text,
        "candidates": [{"text": t, "share": round(s, 3)} for t, s in obs.candidates[:3]],
    }


def run_read(args: argparse.Namespace, settings: Settings) -> int:
    reader = _reader(args, settings)
    results: list[dict[str, object]] = []
    failed = False
    for path in args.images:
        entry: dict[str, object] = {"image": str(path)}
        try:
            image = load_image(path)
        except ValueError as exc:
            entry.update(error=str(exc), plates=[])
            failed = True
        else:
            found = reader.read(image)
            entry["plates"] = [plate_json(o) for o in found if args.all or o.readable]
        results.append(entry)
    json.dump(results, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return EXIT_FAILURE if failed else EXIT_OK
