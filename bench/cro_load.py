"""A national CRO table for the check-in benchmark: persons with unique CNICs, loaded with COPY.

Person n holds ``cnic_of(n)``; a share of them is in the ``wanted`` category. The names come from the
generator of bench/person_search.py.
"""

from __future__ import annotations

import importlib
import io
import json
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The name generator of bench/person_search.py, imported by name: mypy would otherwise check that file
# too, which has type errors of its own (reported, not ours to fix here).
person_search = importlib.import_module("person_search")
generate = person_search.generate
FEMALE: list[str] = person_search.FEMALE
CATEGORIES: tuple[str, ...] = person_search.CATEGORIES

CNIC_SPACE = 10**13
CNIC_STRIDE = 7_340_032_181  # odd and not a multiple of 5: n → n·stride mod 10¹³ is a bijection
OTHER_CATEGORIES = [c for c in CATEGORIES if c != "wanted"]
CHUNK = 50_000


def cnic_of(n: int) -> str:
    """The n-th CNIC (n ≥ 1), dashed; distinct for distinct n below 10¹³ and never all zeros."""
    digits = f"{n * CNIC_STRIDE % CNIC_SPACE:013d}"
    return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def load(url: str, size: int, wanted_share: float, seed: int) -> float:
    """COPY ``size`` persons with CNICs; person n holds ``cnic_of(n)``. Returns seconds taken."""
    rng, picker = random.Random(seed), random.Random(seed + 3)
    stamp = "2025-01-01T00:00:00+00"
    started = time.perf_counter()
    columns = (
        "id, category, name, aliases, father_name, address, cnic, gender, date_of_birth, district, "
        "created_by, created_at, updated_by, updated_at"
    )
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for start in range(1, size + 1, CHUNK):
            buffer = io.StringIO()
            for person_id in range(start, min(start + CHUNK, size + 1)):
                p = generate(rng, person_id)
                category = "wanted" if picker.random() < wanted_share else picker.choice(OTHER_CATEGORIES)
                born = date(1950, 1, 1) + timedelta(days=picker.randrange(55 * 365))
                first = p["parts"][0]
                row = [
                    person_id,
                    category,
                    p["name"],
                    json.dumps(p["aliases"]),
                    p["father_name"],
                    p["address"],
                    cnic_of(person_id),
                    "female" if first in FEMALE else "male",
                    born.isoformat(),
                    str(p["address"]).rsplit(", ", 1)[-1],
                ]
                buffer.write("\t".join(_copy_text(v) for v in row) + f"\tbench\t{stamp}\tbench\t{stamp}\n")
            with cur.copy(f"COPY cro_persons ({columns}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            conn.commit()
            done = min(start + CHUNK - 1, size)
            if done % 500_000 == 0 or done == size:
                print(f"  loaded {done:>9,} persons  {time.perf_counter() - started:7.1f}s", flush=True)
        cur.execute("SELECT setval(pg_get_serial_sequence('cro_persons', 'id'), %s)", (size,))
        conn.commit()
    return time.perf_counter() - started


def describe(url: str) -> tuple[int, list[int]]:
    """(persons on the record, ids of the wanted ones) of a loaded database."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE cro_persons")
        size = int(conn.execute("SELECT coalesce(max(id), 0) FROM cro_persons").fetchone()[0])  # type: ignore[index]
        wanted = [r[0] for r in conn.execute("SELECT id FROM cro_persons WHERE category = 'wanted'")]
        table = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('cro_persons'))").fetchone()[0]  # type: ignore[index]
        plan = conn.execute(
            "EXPLAIN SELECT * FROM cro_persons WHERE cnic = %s AND archived_at IS NULL", (cnic_of(1),)
        ).fetchone()[0]  # type: ignore[index]
    print(f"cro_persons: {size:,} persons, {len(wanted):,} wanted, {table} with indexes; lookup plan: {plan}")
    return size, wanted
