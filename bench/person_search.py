"""Spelling-agnostic person search on PostgreSQL at scale: latency p50/p99 and recall@10.

Generates a CRO table of ``--size`` persons (default 1.5M) from common Pakistani name parts, each part
stored in a random transliteration (Muhammad / Mohd / Muhammed ..., from ``records.names.VARIANTS``),
with father's names, aliases and addresses; loads it with COPY into a fresh database, builds the
trigram index, then runs ``--queries`` searches through the real ``PersonSearch`` for persons drawn at
random, each query spelled independently (another variant per part, sometimes a typo, sometimes the
parts reordered). Reported: load and index time, latency p50/p99, and recall of the intended person in
the top 10, for a name alone and for name + father's name. Many people share a name, so name-alone
recall is also given over the queries whose canonical name at most 10 persons share.

    python bench/person_search.py [--size 1500000] [--queries 300] [--keep]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from command_center.records.names import VARIANTS, name_key
from command_center.records.search import PersonSearch, Query
from pipeline.adapters.database import make_engine
from pipeline.adapters.migrations import upgrade

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
DB_NAME = "safecity_bench_persons"
MALE = """
    Muhammad Ahmad Ali Hassan Hussain Usman Umar Bilal Imran Kamran Asif Tariq Naveed Shahzad Zafar
    Javed Pervez Iqbal Ijaz Rizwan Irfan Sajjad Abbas Rashid Saeed Hameed Majeed Waheed Nazir
    Bashir Aslam Akhtar Farooq Mehmood Yousaf Ishaq Ismail Ibrahim Mustafa Zulfiqar Khalid Waqas
    Adnan Arshad Shafiq Rafiq Sadiq Zahid Sajid Wajid Amjad Asghar Akbar Anwar Babar Fahad Faisal
    Haroon Jamil Kashif Liaquat Mansoor Nadeem Noman Qasim Raheel Salman Shoaib Tahir Talha Yasir
    Zubair Danish Ehsan Fawad Ghulam Habib Junaid Kaleem Lateef Mazhar Nasir Obaid Qadeer Rauf
    Sohail Tanveer Waseem Yaqoob Zeeshan
""".split()  # noqa: SIM905
FEMALE = """
    Ayesha Fatima Zainab Nasreen Parveen Shamim Sadia Saima Rubina Shazia Nadia Asma Sana Hina
    Rabia Samina Kiran Uzma Amina Bushra Farzana Ghazala Humaira Iram Javeria Khadija Lubna Mehwish
    Naila Rehana
""".split()  # noqa: SIM905
SURNAMES = """
    Khan Chaudhry Qureshi Siddiqui Sheikh Syed Malik Butt Jutt Awan Rajput Gondal Bhatti Cheema
    Gill Warraich Abbasi Afridi Yousafzai Mughal Ansari Baloch Khattak Niazi Arain Hashmi Rizvi
    Naqvi Jafri Kazmi Bukhari Gilani Shah Mirza Tarar Virk Sandhu Dogar Kharal Sial Lodhi Durrani
    Marwat Bangash
""".split()  # noqa: SIM905
AREAS = [
    "Gulberg",
    "Model Town",
    "Johar Town",
    "Samanabad",
    "Islampura",
    "Shadman",
    "Garden Town",
    "Iqbal Town",
    "Faisal Town",
    "Township",
    "Wapda Town",
    "Sabzazar",
    "Mughalpura",
    "Baghbanpura",
    "Shahdara",
    "Ravi Road",
    "Data Nagar",
    "Krishan Nagar",
]
CITIES = """
    Lahore Karachi Rawalpindi Faisalabad Multan Gujranwala Peshawar Quetta Sialkot Sargodha
""".split()  # noqa: SIM905
CATEGORIES = ("wanted", "hbt_offender", "history_sheeter", "rowdy_sheeter", "local", "non_local", "missing")
SPELLINGS = {c: [c, *v] for c, v in VARIANTS.items() if c.isalpha()}


def spell(rng: random.Random, part: str, typo: float = 0.0) -> str:
    """A part in a random transliteration (capitalised as written), sometimes with one typo."""
    forms = SPELLINGS.get(part.lower(), [part.lower()])
    word = rng.choice(forms) if rng.random() < 0.6 else forms[0]
    if typo and len(word) >= 5 and rng.random() < typo:
        i = rng.randrange(1, len(word) - 1)
        word = (
            word[:i] + word[i + 1 :]
            if rng.random() < 0.5
            else word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        )
    return word.capitalize()


def parts(rng: random.Random) -> list[str]:
    first = rng.choice(FEMALE if rng.random() < 0.15 else MALE)
    middle = [rng.choice(MALE)] if rng.random() < 0.6 and first in MALE else []
    return [first, *middle, rng.choice(SURNAMES)]


def generate(rng: random.Random, person_id: int) -> dict[str, object]:
    name, father = parts(rng), [rng.choice(MALE), rng.choice(MALE), rng.choice(SURNAMES)]
    address = (
        f"House {rng.randint(1, 999)}, Street {rng.randint(1, 80)}, {rng.choice(AREAS)}, {rng.choice(CITIES)}"
    )
    aliases = [" ".join(spell(rng, p) for p in name[-2:])] if rng.random() < 0.3 else []
    return {
        "id": person_id,
        "category": rng.choice(CATEGORIES),
        "parts": name,
        "father_parts": father,
        "name": " ".join(spell(rng, p) for p in name),
        "father_name": " ".join(spell(rng, p) for p in father),
        "aliases": aliases,
        "address": address,
    }


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def load(url: str, size: int, seed: int) -> tuple[list[dict[str, object]], float]:
    """Generate and COPY ``size`` persons and their search keys; returns a sample kept for queries."""
    rng, picker = random.Random(seed), random.Random(seed + 7)
    sample: list[dict[str, object]] = []
    started = time.perf_counter()
    stamp = "2025-01-01T00:00:00+00"
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        chunk = 50_000
        for start in range(1, size + 1, chunk):
            persons, keys = io.StringIO(), io.StringIO()
            for person_id in range(start, min(start + chunk, size + 1)):
                p = generate(rng, person_id)
                if picker.random() < 0.002 or len(sample) < 50:
                    sample.append(p)
                row = [
                    person_id,
                    p["category"],
                    p["name"],
                    json.dumps(p["aliases"]),
                    p["father_name"],
                    p["address"],
                ]
                persons.write("\t".join(_copy_text(v) for v in row) + f"\tbench\t{stamp}\tbench\t{stamp}\n")
                texts = [("name", p["name"]), *(("alias", a) for a in p["aliases"])]  # type: ignore[attr-defined]
                texts += [("father", p["father_name"]), ("address", p["address"])]
                for what, text in texts:
                    k = name_key(str(text))
                    fields = [person_id, what, k.canonical, k.phonetic, k.phonetic_sorted, p["category"], "t"]
                    keys.write("\t".join(_copy_text(v) for v in fields) + "\n")
            with cur.copy(
                "COPY cro_persons (id, category, name, aliases, father_name, address, "
                "created_by, created_at, updated_by, updated_at) FROM STDIN"
            ) as copy:
                copy.write(persons.getvalue())
            with cur.copy(
                "COPY cro_search_keys "
                "(person_id, field, canonical, phonetic, phonetic_sorted, category, active) "
                "FROM STDIN"
            ) as copy:
                copy.write(keys.getvalue())
            conn.commit()
            done = min(start + chunk - 1, size)
            print(f"  loaded {done:>9,} persons  {time.perf_counter() - started:7.1f}s", flush=True)
    return sample, time.perf_counter() - started


def query_of(rng: random.Random, p: dict[str, object], with_father: bool) -> Query:
    name = list(p["parts"])  # type: ignore[call-overload]
    if rng.random() < 0.15:
        name = [name[-1], *name[:-1]]  # "Chaudhry Aslam" for "Aslam Chaudhry"
    father = p["father_parts"]
    text = " ".join(spell(rng, part, typo=0.15) for part in name)
    father_text = " ".join(spell(rng, part, typo=0.15) for part in father) if with_father else None  # type: ignore[attr-defined]
    return Query(name=text, father=father_text)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_queries(url: str, sample: list[dict[str, object]], count: int, seed: int) -> None:
    engine = make_engine(url)
    search = PersonSearch(engine)
    rng = random.Random(seed + 1)
    chosen = [rng.choice(sample) for _ in range(count)]
    with psycopg.connect(url) as conn:
        shared = Counter()
        for p in chosen:
            canonical = name_key(str(p["name"])).canonical
            shared[p["id"]] = conn.execute(
                "SELECT count(*) FROM cro_search_keys WHERE field = 'name' AND canonical = %s", (canonical,)
            ).fetchone()[0]
    for _ in range(5):  # warm the caches and connection pool
        search.search(query_of(rng, chosen[0], True), 10)
    for with_father in (False, True):
        latencies, hits, hits_unambiguous, unambiguous = [], 0, 0, 0
        for p in chosen:
            query = query_of(rng, p, with_father)
            began = time.perf_counter()
            found = search.search(query, 10)
            latencies.append((time.perf_counter() - began) * 1000)
            hit = p["id"] in [f.person_id for f in found]
            hits += hit
            if shared[p["id"]] <= 10:
                unambiguous += 1
                hits_unambiguous += hit
        label = "name + father" if with_father else "name alone   "
        share = hits_unambiguous / max(unambiguous, 1)
        extra = f", recall@10 where <=10 share the name {share:.3f} ({unambiguous})"
        print(
            f"{label}: p50 {percentile(latencies, 0.5):6.1f} ms  p99 {percentile(latencies, 0.99):6.1f} ms  "
            f"recall@10 {hits / len(chosen):.3f}" + ("" if with_father else extra)
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_500_000, help="persons to generate")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument(
        "--admin-url", default=ADMIN_URL, help="a PostgreSQL database to create the bench DB from"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (rerun with --reuse)")
    parser.add_argument(
        "--reuse", action="store_true", help="query an existing bench database without loading"
    )
    args = parser.parse_args()
    url = args.admin_url.rsplit("/", 1)[0] + f"/{DB_NAME}"
    if not args.reuse:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        engine = make_engine(url)
        upgrade(engine)  # the schema, with the search indexes
        engine.dispose()
        print(f"loading {args.size:,} persons into {DB_NAME}")
        sample, load_s = load(url, args.size, args.seed)
        began = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE cro_persons")
            conn.execute("ANALYZE cro_search_keys")
            keys = conn.execute("SELECT count(*) FROM cro_search_keys").fetchone()[0]
            size = conn.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('cro_search_keys'))"
            ).fetchone()[0]
        print(
            f"load {load_s:.0f}s, trigram index + analyze {time.perf_counter() - began:.0f}s; "
            f"{keys:,} keys ({size})"
        )
    else:
        rng = random.Random(args.seed)
        sample = [generate(rng, i) for i in range(1, min(args.size, 20_000) + 1)]
    run_queries(url, sample, args.queries, args.seed)
    if not args.keep and not args.reuse:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
