"""Spelling-agnostic person search on PostgreSQL at scale: latency p50/p99 and recall@10.

Generates a CRO table of ``--size`` persons (default 1.5M) from common Pakistani name parts, each part
stored in a random transliteration (Muhammad / Mohd / Muhammed ..., from ``records.names.VARIANTS``),
with father's names, aliases and addresses; loads it with COPY into a fresh database, builds the
trigram index, then runs ``--queries`` searches through the real ``PersonSearch`` for persons drawn at
random, each query spelled independently (another variant per part, sometimes a typo, sometimes the
parts reordered). Reported: load and index time, latency p50/p99, and recall of the intended person in
the top 10, for a name alone and for name + father's name. Many people share a name, so name-alone
recall is also given over the queries whose canonical name at most 10 persons share.

Name + father's name queries are the headline (``p50_ms``, ``p99_ms``, ``recall_at_10``); the same
persons are also asked for by name alone, and by name and father's name typed in Urdu script (every part
the transliteration table knows). Latency is wall time per search (the database's work included; on a
shared machine it carries the scheduler's delays), so the CPU each search costs is given too: this
process's (``client_cpu_ms_*``) and the local server's processes' (``server_cpu_ms_mean``, from /proc).

    python bench/person_search.py [--profiles 1500000] [--queries 300] [--json] [--db NAME] [--keep | --reuse]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from command_center.records.keys import key_rows, letters, token_rows
from command_center.records.names import VARIANTS, name_key
from command_center.records.search import PersonSearch, Query
from command_center.records.types import PersonFields
from command_center.records.urdu import WORDS
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


INDEXES = (
    "ix_cro_search_keys_trgm",
    "ix_cro_search_keys_codes",
    "ix_cro_search_keys_person",
    "ix_cro_search_keys_phonetic_sorted",
    "ix_cro_name_tokens_trgm",
    "ix_cro_search_keys_name_sound",
)


def _person_fields(p: dict[str, object]) -> PersonFields:
    return PersonFields(
        category=str(p["category"]),
        name=str(p["name"]),
        aliases=tuple(p["aliases"]),  # type: ignore[call-overload]
        father_name=str(p["father_name"]),
        address=str(p["address"]),
    )


def people(size: int, seed: int) -> Iterator[tuple[dict[str, object], bool]]:
    """The persons the bench loads, each with whether it is kept for the queries (the same whether the
    database is loaded now or reused)."""
    rng, picker = random.Random(seed), random.Random(seed + 7)
    kept = 0
    for person_id in range(1, size + 1):
        p = generate(rng, person_id)
        keep = picker.random() < 0.002 or kept < 50
        kept += keep
        yield p, keep


def load(url: str, size: int, seed: int) -> tuple[list[dict[str, object]], float, float]:
    """Generate and COPY ``size`` persons and their search keys (the services' ``records.keys``, so the
    keys are those a write would make); the indexes are dropped for the load and built after, as a bulk
    load should. Returns a sample kept for queries, the load's and the index build's seconds."""
    persons_ = people(size, seed)
    sample: list[dict[str, object]] = []
    started = time.perf_counter()
    stamp = "2025-01-01T00:00:00+00"
    tokens: dict[str, str] = {}
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        made = {
            name: cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,)).fetchone()[0]
            for name in INDEXES
        }
        for name in INDEXES:
            cur.execute(f"DROP INDEX {name}")
        conn.commit()
        chunk = 50_000
        for start in range(1, size + 1, chunk):
            persons, keys = io.StringIO(), io.StringIO()
            for person_id in range(start, min(start + chunk, size + 1)):
                p, keep = next(persons_)
                if keep:
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
                rows = key_rows(person_id, _person_fields(p), True)
                for k in rows:
                    fields = [k["person_id"], k["field"], k["canonical"], k["phonetic"], k["phonetic_sorted"]]
                    keys.write("\t".join(_copy_text(v) for v in [*fields, k["category"], "t"]) + "\n")
                for t in token_rows(rows):
                    tokens.setdefault(t["token"], t["code"])
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
            print(
                f"  loaded {done:>9,} persons  {time.perf_counter() - started:7.1f}s",
                file=sys.stderr,
                flush=True,
            )
        with cur.copy("COPY cro_name_tokens (token, code, letters) FROM STDIN") as copy:
            copy.write(
                "".join(f"{_copy_text(t)}\t{_copy_text(c)}\t{letters(t)}\n" for t, c in tokens.items())
            )
        cur.execute("SELECT setval(pg_get_serial_sequence('cro_persons', 'id'), %s)", (size,))
        conn.commit()
        loaded = time.perf_counter() - started
        conn.autocommit = True
        cur.execute("SET maintenance_work_mem = '512MB'")
        for name, definition in made.items():
            print(f"  building {name}", file=sys.stderr, flush=True)
            cur.execute(definition)
    return sample, loaded, time.perf_counter() - started - loaded


URDU = {latin: urdu for urdu, latin in WORDS.items() if " " not in latin and "/" not in latin}


def in_urdu(parts: object) -> str | None:
    """The parts written in Urdu script, when the table knows every one of them."""
    words = [URDU.get(name_key(str(part)).canonical) for part in parts]  # type: ignore[attr-defined]
    return None if None in words else " ".join(w for w in words if w)


def query_of(rng: random.Random, p: dict[str, object], with_father: bool, urdu: bool = False) -> Query:
    name = list(p["parts"])  # type: ignore[call-overload]
    if rng.random() < 0.15:
        name = [name[-1], *name[:-1]]  # "Chaudhry Aslam" for "Aslam Chaudhry"
    father = p["father_parts"]
    if urdu:
        return Query(name=in_urdu(name), father=in_urdu(father) if with_father else None)
    text = " ".join(spell(rng, part, typo=0.15) for part in name)
    father_text = " ".join(spell(rng, part, typo=0.15) for part in father) if with_father else None  # type: ignore[attr-defined]
    return Query(name=text, father=father_text)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _server_cpu_ms(url: str) -> float:
    """CPU time of the bench database's server processes so far (a local server: /proc)."""
    with psycopg.connect(url, autocommit=True) as conn:
        pids = [
            r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    return total


def _measure(search: PersonSearch, url: str, queries: list[tuple[int, Query]]) -> dict[str, float]:
    latencies, cpu, hits = [], [], 0
    server_before = _server_cpu_ms(url)
    for person_id, query in queries:
        began, began_cpu = time.perf_counter(), time.process_time()
        found = search.search(query, 10)
        latencies.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        hits += person_id in [f.person_id for f in found]
    server = (_server_cpu_ms(url) - server_before) / max(len(queries), 1)
    return {
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "recall_at_10": round(hits / max(len(queries), 1), 3),
        "client_cpu_ms_p50": round(percentile(cpu, 0.5), 1),
        "client_cpu_ms_p99": round(percentile(cpu, 0.99), 1),
        "server_cpu_ms_mean": round(server, 1),
        "queries": len(queries),
    }


def run_queries(url: str, sample: list[dict[str, object]], count: int, seed: int) -> dict[str, object]:
    """Name + father's name (the figures the issue names), name alone, and both typed in Urdu."""
    engine = make_engine(url)
    search = PersonSearch(engine)
    rng = random.Random(seed + 1)
    chosen = [rng.choice(sample) for _ in range(count)]
    with psycopg.connect(url) as conn:
        shared = {}
        for p in chosen:
            canonical = name_key(str(p["name"])).canonical
            shared[p["id"]] = conn.execute(
                "SELECT count(*) FROM cro_search_keys WHERE field = 'name' AND canonical = %s", (canonical,)
            ).fetchone()[0]
    for _ in range(5):  # warm the caches and connection pool
        search.search(query_of(rng, chosen[0], True), 10)
    both = _measure(search, url, [(int(p["id"]), query_of(rng, p, True)) for p in chosen])  # type: ignore[call-overload]
    alone = _measure(search, url, [(int(p["id"]), query_of(rng, p, False)) for p in chosen])  # type: ignore[call-overload]
    unambiguous = [p for p in chosen if shared[p["id"]] <= 10]
    alone_few = _measure(search, url, [(int(p["id"]), query_of(rng, p, False)) for p in unambiguous])  # type: ignore[call-overload]
    urdu = [(int(p["id"]), q) for p in chosen if (q := query_of(rng, p, True, urdu=True)).name and q.father]  # type: ignore[call-overload]
    engine.dispose()
    return {
        **{k: both[k] for k in ("p50_ms", "p99_ms", "recall_at_10")},
        "name_and_father": both,
        "name_alone": alone,
        "name_alone_shared_by_at_most_10": alone_few,
        "urdu_name_and_father": _measure(search, url, urdu) if urdu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", "--size", dest="size", type=int, default=1_500_000, help="persons")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument(
        "--admin-url", default=ADMIN_URL, help="a PostgreSQL database to create the bench DB from"
    )
    parser.add_argument(
        "--db", default=DB_NAME, help="name of the bench database (the profile count is appended)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (rerun with --reuse)")
    parser.add_argument(
        "--reuse", action="store_true", help="query an existing bench database without loading"
    )
    args = parser.parse_args()
    db_name = f"{args.db}_{args.size}"
    url = args.admin_url.rsplit("/", 1)[0] + f"/{db_name}"
    figures: dict[str, object] = {"profiles": args.size}
    if not args.reuse:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db_name}"')
        engine = make_engine(url)
        upgrade(engine)  # the schema, with the search indexes
        engine.dispose()
        print(f"loading {args.size:,} persons into {db_name}", file=sys.stderr)
        sample, load_s, index_s = load(url, args.size, args.seed)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
            keys = conn.execute("SELECT count(*) FROM cro_search_keys").fetchone()[0]
            size = conn.execute("SELECT pg_total_relation_size('cro_search_keys')").fetchone()[0]
        figures |= {"load_s": round(load_s), "index_s": round(index_s), "keys": keys, "keys_mb": size >> 20}
    else:
        sample = [p for p, keep in people(args.size, args.seed) if keep]
    figures |= run_queries(url, sample, args.queries, args.seed)
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name}: {value}")
    if not args.keep and not args.reuse:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
