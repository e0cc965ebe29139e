"""``safecity persons import`` timed: N synthetic CRO persons (M with a photo) into a fresh database.

Generates a CSV of ``--persons`` rows (names, fathers' names, CNICs, districts, categories; every third
with a case, every fifth with a vehicle) and gives ``--photos`` of them a photo: the single-face photos
of the shared face set (faces/labels.csv), each use a new picture (mirrored, brightness and a small
crop varied) so no two rows share a file. The import runs in a child process, as an operator runs it
(``safecity persons import FILE --photos DIR --no-progress``), into a fresh SQLite file or a fresh
PostgreSQL database (created at 127.0.0.1:5432 and dropped afterwards); the time is the child's wall
time, model loading included. Photos/s divides the photos by the same time (rows and photos share it);
``cpu_s`` is the child's CPU time (user + system, all its threads), the figure a busy machine does not
inflate much, and ``load_average`` the 1-minute load at the end.

    python bench/persons_import.py --persons 100000 --photos 1000 --db sqlite --json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from live_system import ADMIN_URL, bench_database, models_dir

from tests.services import REPO, SHARED, TEST_SECURITY

DISTRICTS = ("Lahore", "Islamabad", "Rawalpindi", "Karachi South", "Peshawar", "Quetta", "Multan")
CATEGORIES = ("wanted", "hbt_offender", "history_sheeter", "rowdy_sheeter", "local", "non_local")
FIRST = ("Muhammad", "Ali", "Ahmed", "Bilal", "Usman", "Imran", "Zahid", "Kamran", "Asif", "Tariq", "Naveed")
LAST = ("Khan", "Butt", "Malik", "Chaudhry", "Qureshi", "Sheikh", "Awan", "Raja", "Mirza", "Abbasi")


def single_face_photos() -> list[Path]:
    with (SHARED / "media" / "faces" / "labels.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [SHARED / "media" / r["file"] for r in rows if r["yunet_faces"] == "1"]


def variant(image: np.ndarray, k: int, rng: random.Random) -> np.ndarray:
    """A different picture of the same face: mirrored every other time, brightness and border varied."""
    out = cv2.flip(image, 1) if k % 2 else image.copy()
    h, w = out.shape[:2]
    m = rng.randint(0, max(1, min(h, w) // 20))
    out = out[m : h - m or h, m : w - m or w]
    return cv2.convertScaleAbs(out, alpha=rng.uniform(0.85, 1.15), beta=rng.randint(-15, 15))


def write_photos(directory: Path, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    sources = [cv2.imread(str(p)) for p in single_face_photos()]
    names = []
    for k in range(count):
        name = f"p{k:06d}.jpg"
        cv2.imwrite(str(directory / name), variant(sources[k % len(sources)], k // len(sources), rng))
        names.append(name)
    return names


def write_persons(path: Path, persons: int, photos: list[str], seed: int) -> None:
    rng = random.Random(seed)
    with_photo = set(rng.sample(range(persons), len(photos)))
    names = iter(photos)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["name", "father_name", "cnic", "gender", "district", "category", "cases", "vehicles", "photo"]
        )
        for i in range(persons):
            case = f"{i}/2024|PS {rng.choice(DISTRICTS)}|302 PPC,34 PPC|under_trial" if i % 3 == 0 else ""
            vehicle = f"LE{chr(65 + i % 26)}-{i % 10000:04d}" if i % 5 == 0 else ""
            writer.writerow(
                [
                    f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}",
                    f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    f"{35000 + i // 10_000_000:05d}-{i % 10_000_000:07d}-{i % 10}",
                    "male" if i % 7 else "female",
                    rng.choice(DISTRICTS),
                    rng.choice(CATEGORIES),
                    case,
                    vehicle,
                    next(names) if i in with_photo else "",
                ]
            )


@contextmanager
def fresh_database(kind: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / 'safecity.db'}"
        return
    with bench_database(ADMIN_URL, f"bench_persons_import_{int(time.time())}") as url:
        yield url


def timed_import(work: Path, database_url: str, source: Path, photos: Path, batch: int) -> tuple[float, dict]:
    config = work / "config.yaml"
    settings = {"environment": "test", "database_url": database_url, "security": TEST_SECURITY}
    settings |= {"models_dir": str(models_dir()), "data_dir": str(work / "data")}
    config.write_text(yaml.safe_dump(settings))
    argv = [
        sys.executable,
        "-m",
        "safecity_cli.main",
        "persons",
        "import",
        str(source),
        "--photos",
        str(photos),
    ]
    argv += ["--config", str(config), "--no-progress", "--batch", str(batch)]
    started, cpu = time.monotonic(), _children_cpu_s()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"the import failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout) | {"cpu_s": _children_cpu_s() - cpu}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-persons-") as tmp:
        work = Path(tmp)
        (work / "photos").mkdir()
        names = write_photos(work / "photos", min(args.photos, args.persons), args.seed)
        write_persons(work / "persons.csv", args.persons, names, args.seed)
        with fresh_database(args.db, work) as url:
            seconds, summary = timed_import(work, url, work / "persons.csv", work / "photos", args.batch)
    result = {
        "persons": args.persons,
        "photos": len(names),
        "seconds": round(seconds, 2),
        "persons_per_s": round(args.persons / seconds, 1),
        "photos_per_s": round(len(names) / seconds, 2),
        "cpu_s": round(summary["cpu_s"], 2),
        "load_average": round(os.getloadavg()[0], 1),
    }
    if not args.json:
        print(f"database {args.db}; import summary: {json.dumps(summary)}", file=sys.stderr)
        result |= {
            "database": args.db,
            "imported": summary["imported"],
            "enrolled": summary["photos_enrolled"],
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
