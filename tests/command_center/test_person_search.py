"""Person search on SQLite and PostgreSQL: Latin misspellings and Urdu script find the right person in
the top 10, the keys follow every write (create, update, archive, bulk import), and migration 0006
backfills the keys of a database that already holds persons."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, insert, select

from command_center.records import search_pg as pg
from command_center.records import tables as t
from command_center.records.bulk_store import NewPerson, insert_persons
from command_center.records.keys import NAME_TAG, PERSON_FIELD
from command_center.records.names import name_key
from command_center.records.search import CANDIDATES, PersonSearch, Query
from command_center.records.spellings import positions_of
from command_center.records.store import PersonStore
from command_center.records.types import PersonFields
from pipeline.adapters import migrations, transactions
from pipeline.adapters.database import make_engine

_NOW = datetime(2026, 1, 1, tzinfo=UTC)
# (name, father's name): common Pakistani names, some sharing parts, two written in Urdu script.
PEOPLE = [
    ("Muhammad Ali Khan", "Muhammad Aslam Khan"),
    ("Muhammad Ali Qureshi", "Ghulam Rasool Qureshi"),
    ("Ahmed Hussain", "Muhammad Yousaf"),
    ("Ahmad Hassan Butt", "Abdul Majeed Butt"),
    ("Fatima Bibi", "Muhammad Iqbal"),
    ("Ayesha Siddiqui", "Tariq Mehmood Siddiqui"),
    ("Imran Khan Niazi", "Ikramullah Khan Niazi"),
    ("Zulfiqar Ali Bhatti", "Nazir Ahmad Bhatti"),
    ("Chaudhry Shahzad Akhtar", "Chaudhry Bashir Ahmad"),
    ("Syed Hussain Shah", "Syed Abbas Shah"),
    ("عمران علی", "محمد شفیق"),  # Imran Ali s/o Muhammad Shafiq, as a clerk in Lahore typed it
    ("زینب فاطمہ", "غلام حسین"),  # Zainab Fatima d/o Ghulam Hussain
]
# (name, father's name or None) -> the person meant (by their stored name)
SEARCHES = [
    (("Mohd Ali Khan", "Mohammed Aslam Kahn"), "Muhammad Ali Khan"),
    (("Muhammad Aly Qurashi", "Gulam Rasul"), "Muhammad Ali Qureshi"),  # typos and variants
    (("Ahmad Husain", None), "Ahmed Hussain"),
    (("Ahmed Hasan But", "Abdul Majid"), "Ahmad Hassan Butt"),
    (("Fatma Bibi", "Mohd Iqbaal"), "Fatima Bibi"),
    (("Aisha Sidiqi", None), "Ayesha Siddiqui"),
    (("Zulfikar Aly Bhati", "Nazeer Ahmed"), "Zulfiqar Ali Bhatti"),
    (("Ch. Shehzad Akhter", None), "Chaudhry Shahzad Akhtar"),
    (("Shah Syed Hussain", None), "Syed Hussain Shah"),  # another order
    # Urdu script for names stored in Latin letters
    (("محمد علی خان", "محمد اسلم خان"), "Muhammad Ali Khan"),
    (("احمد حسین", None), "Ahmed Hussain"),
    (("فاطمہ بی بی", "محمد اقبال"), "Fatima Bibi"),
    (("عمران خان نیازی", None), "Imran Khan Niazi"),
    (("ذوالفقار علی بھٹی", None), "Zulfiqar Ali Bhatti"),
    (("سید حسین شاہ", "سيد عباس شاه"), "Syed Hussain Shah"),  # the father typed on an Arabic keyboard
    # Latin letters for names stored in Urdu script
    (("Imran Ali", "Muhammad Shafiq"), "عمران علی"),
    (("Imraan Aly", None), "عمران علی"),
    (("Zainab Fatima", "Ghulam Hussain"), "زینب فاطمہ"),
    (("Zaynab Fatimah", None), "زینب فاطمہ"),
]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    PersonStore(engine).create_schema()
    yield engine
    engine.dispose()


def _add_all(store: PersonStore) -> dict[str, int]:
    ids = {}
    for name, father in PEOPLE:
        fields = PersonFields(category="history_sheeter", name=name, father_name=father)
        ids[name] = store.add(fields, "test").id
    return ids


def _top10(search: PersonSearch, name: str, father: str | None = None) -> list[int]:
    return [f.person_id for f in search.search(Query(name=name, father=father), 10)]


def test_latin_misspellings_and_urdu_script_find_the_person_in_the_top_10(engine: Engine) -> None:
    ids = _add_all(PersonStore(engine))
    search = PersonSearch(engine)
    missed = []
    for (name, father), meant in SEARCHES:
        found = _top10(search, name, father)
        if ids[meant] not in found:
            missed.append(f"{name} / {father}: {found} (expected {ids[meant]}, {meant})")
    assert missed == []
    # the Urdu query's best answer is the person it names, not merely one of ten
    assert _top10(search, "محمد علی خان", "محمد اسلم خان")[0] == ids["Muhammad Ali Khan"]
    assert _top10(search, "Imran Ali", "Muhammad Shafiq")[0] == ids["عمران علی"]


def test_keys_follow_an_edit_and_an_archive(engine: Engine) -> None:
    store = PersonStore(engine)
    ids = _add_all(store)
    search = PersonSearch(engine)
    pid = ids["Ahmed Hussain"]
    store.update(pid, {"name": "Waqas Mehmood", "father_name": "Rafiq Ahmad"}, "test")
    assert pid in _top10(search, "Waqas Mahmood", "Rafeeq Ahmed")
    assert pid in _top10(search, "وقاص محمود", None)
    assert pid not in _top10(search, "Ahmed Hussain", "Muhammad Yousaf")
    store.archive(pid, "test")
    assert pid not in _top10(search, "Waqas Mahmood", "Rafeeq Ahmed")
    with engine.connect() as conn:  # the vocabulary has the new words, for misspellings of them
        tokens = set(conn.execute(select(t.name_tokens.c.token)).scalars())
    assert {"waqas", "mehmood", "rafiq"} <= tokens


def test_bulk_import_writes_the_same_keys(engine: Engine) -> None:
    people = [
        NewPerson(PersonFields(category="local", name=name, father_name=father)) for name, father in PEOPLE
    ]
    with transactions.begin(engine) as conn:
        inserted = insert_persons(conn, people, "import", datetime.now(UTC))
    ids = dict(zip([name for name, _ in PEOPLE], inserted.person_ids, strict=True))
    search = PersonSearch(engine)
    assert ids["Muhammad Ali Khan"] in _top10(search, "محمد علی خان", "محمد اسلم خان")
    assert ids["زینب فاطمہ"] in _top10(search, "Zainab Fatima", "Ghulam Hussain")
    with engine.connect() as conn:
        person_rows = conn.execute(
            select(func.count()).where(t.search_keys.c.field == PERSON_FIELD)
        ).scalar_one()
    assert person_rows == len(PEOPLE)


def test_migration_0006_backfills_the_keys_of_persons_already_stored(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        migrations.upgrade(engine, "0005")
        stamp = datetime(2025, 1, 1, tzinfo=UTC)
        made = {"created_by": "old", "created_at": stamp, "updated_by": "old", "updated_at": stamp}
        with engine.begin() as conn:
            for i, (name, father) in enumerate(PEOPLE, start=1):
                row = {"id": i, "category": "local", "name": name, "aliases": [], "father_name": father}
                conn.execute(insert(t.persons), row | made)
                old = name_key(name)  # a key as 0005 wrote it (Urdu-script names had none)
                if name.isascii():
                    conn.execute(
                        insert(t.search_keys),
                        {
                            "person_id": i,
                            "field": "name",
                            "canonical": old.canonical,
                            "phonetic": old.phonetic,
                        }
                        | {"phonetic_sorted": old.phonetic_sorted, "category": "local", "active": True},
                    )
        migrations.upgrade(engine)
        with engine.connect() as conn:
            fields = conn.execute(select(t.search_keys.c.person_id, t.search_keys.c.field)).all()
        by_person = {pid: {f for p, f in fields if p == pid} for pid, _ in fields}
        assert all(by_person.get(i) == {"name", "father", PERSON_FIELD} for i in range(1, len(PEOPLE) + 1))
        search = PersonSearch(engine)
        assert 11 in _top10(search, "Imran Ali", "Muhammad Shafiq")  # stored in Urdu before 0006
        assert 1 in _top10(search, "Mohd Ali Khan", "Mohammed Aslam Kahn")
    finally:
        engine.dispose()


def test_a_name_hundreds_share_answers_with_the_newest_of_them(engine: Engine) -> None:
    """A name alone that more persons share than the database proposes (CANDIDATES): the answer is
    still the best, i.e. the newest of those spelling it as asked (ties go to the newest), whichever
    spelling each was stored in, and a person whose name is rare is still found among them."""
    spellings = ["Muhammad Khan", "Mohd Khan", "Muhammed Kahn", "Mohammad Khan", "Khan Muhammad"]
    common = [f"{spellings[i % len(spellings)]}" for i in range(CANDIDATES + 40)]
    others = ["Muhammad Ali Khan", "Muhammad Khan Afridi", "Zeeshan Khan Bangash"] * 5
    people = [NewPerson(PersonFields(category="local", name=n, father_name="Ghulam Rasool")) for n in common]
    people += [NewPerson(PersonFields(category="local", name=n, father_name="Abdul Majeed")) for n in others]
    with transactions.begin(engine) as conn:
        inserted = insert_persons(
            conn, people[:20] + people[-len(others) :] + people[20 : -len(others)], "t", _NOW
        )
    ids = inserted.person_ids
    shared = sorted(ids[:20] + ids[20 + len(others) :], reverse=True)  # the common name's persons
    found = PersonSearch(engine).search(Query(name="Mohamed Khan"), 10)
    assert [f.person_id for f in found] == shared[:10]
    assert all(f.score == 1.0 for f in found)
    rare = PersonSearch(engine).search(Query(name="Zeshan Bangash"), 10)
    assert rare and rare[0].matched["name"] == "zeeshan khan bangash"


def test_two_letters_swapped_stand_for_the_word_on_the_records(postgres_url: str) -> None:
    """ "Mzahar" has few trigrams in common with "Mazhar" and another sound: its sorted letters find the
    word on the records, whose code the search then asks the index for."""
    engine = make_engine(postgres_url)
    try:
        fields = PersonFields(category="local", name="Mazhar Kazmi", father_name="Iqbal Kazmi")
        pid = PersonStore(engine).add(fields, "test").id
        (position,) = positions_of({"name": name_key("Mzahar")})
        st = pg.Statement()
        with engine.connect() as conn:
            codes = conn.exec_driver_sql(f"SELECT {pg.alternatives(st, position)}", st.params).scalar_one()
        assert name_key("Mzahar").phonetic != name_key("Mazhar").phonetic
        assert NAME_TAG + name_key("Mazhar").phonetic in codes
        assert _top10(PersonSearch(engine), "Mzahar Kazmi")[:1] == [pid]
    finally:
        engine.dispose()
