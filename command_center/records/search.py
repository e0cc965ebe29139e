"""Spelling-agnostic, ranked search of the CRO records by name/alias, father's name and address.

Two steps on both databases: the database proposes candidates from the search keys (``records.keys``),
then every candidate person is scored in Python (``names.score``) on all of its keys and the best are
returned. A name typed in Urdu script keys as its Latin spelling (``records.urdu``), so either finds
the other.

Candidates on PostgreSQL for a name and/or a father's name (how a police station searches; also each
alone): one statement (``records.search_pg``). Each person's ``person`` row holds all the codes of
their name, aliases and father's name, GIN-indexed; one index scan finds the persons holding, for each
word asked, its code or the code of a close spelling (``records.spellings``: the table's, and the
words on the records, looked up by a subquery of the statement). The rarest code bounds the work, so
a common name at 1.5M profiles costs no more than a rare one. A name alone adds the newest persons
whose name sounds exactly like it, read in order from a partial index and cut short: ties in the
ranking go to the newest person, so a name that thousands share costs no more than a rare one and
still answers with its best. Too few found, the persons holding every word but one are added in the
same statement. None at all: name and father's name one by one, then the trigram index per field.

Candidates per field otherwise (an address; PostgreSQL), and every field on SQLite:

* PostgreSQL: keys sounding exactly like the query (B-tree on the sorted codes), and keys holding
  every phonetic code of the query (a GIN index on the code array): each
  spelling that sounds alike, in any word order, with more words around it; if that finds fewer than
  ``FEW``, the same with each word left out in turn (a word misspelled beyond its sound), then the
  trigram index (``canonical % query``, pg_trgm at ``TRGM_THRESHOLD``) for typos. The closest by
  trigram similarity are kept, ``CANDIDATES`` at most;
* SQLite (no trigram index): rows sharing the query's phonetic codes, most shared codes first. A name
  must keep at least one word's sound to be found; SQLite serves small installations.

A person's score is the weighted mean of the fields asked for (name 0.6, father 0.25, address 0.15),
each field's score being the best of that person's keys for it (the name field: name and aliases).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Text,
    and_,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from command_center.records import search_pg as pg
from command_center.records import tables as t
from command_center.records.names import NameKey, name_key, score
from command_center.records.spellings import positions_of
from pipeline.adapters import transactions

CANDIDATES = pg.CANDIDATES  # persons proposed per query field before scoring
FEW = 10  # fewer candidates than this by sound: look further (words dropped, then trigrams)
MAX_SOUNDING = pg.HELD  # keys read for one sound query before the closest spellings are kept
TRGM_THRESHOLD = 0.45
MIN_SCORE = 0.5  # below this a person is not returned at all
KeyRow = tuple[int, str, NameKey]  # person id, field, key
WEIGHTS = {"name": 0.6, "father": 0.25, "address": 0.15}
FIELDS_OF = {"name": ("name", "alias"), "father": ("father",), "address": ("address",)}


@dataclass(frozen=True, slots=True)
class Query:
    name: str | None = None
    father: str | None = None
    address: str | None = None
    category: str | None = None

    def keys(self) -> dict[str, NameKey]:
        texts = {"name": self.name, "father": self.father, "address": self.address}
        keys = {what: name_key(value) for what, value in texts.items() if value}
        return {what: key for what, key in keys.items() if not key.empty}


@dataclass(frozen=True, slots=True)
class Found:
    person_id: int
    score: float
    matched: dict[str, str]  # field asked for -> the stored text's canonical form that matched best


class PersonSearch:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def search(self, query: Query, limit: int) -> list[Found]:
        keys = query.keys()
        if not keys:
            return []
        people = {what: key for what, key in keys.items() if what in ("name", "father")}
        with transactions.connect(self._engine) as conn:
            ids: set[int] = set()
            rows: list[KeyRow] = []
            if self._postgres and people:
                ids, rows = self._pg_people(conn, people, query.category, keys, limit)
            more: set[int] = set()
            for what, key in keys.items():
                if not self._postgres or what not in people:
                    more |= self._candidates(conn, what, key, query.category)
            if (ids or more) and (not rows or more - ids):
                rows = self._keys_of(conn, sorted(ids | more), keys)
        return rank(keys, rows, limit)

    def _pg_people(
        self,
        conn: Connection,
        people: dict[str, NameKey],
        category: str | None,
        keys: dict[str, NameKey],
        limit: int,
    ) -> tuple[set[int], list[KeyRow]]:
        """PostgreSQL, one statement (``records.search_pg``): persons whose ``person`` row holds, for every
        word of the name and/or father's name asked, its code or the code of a spelling close to it, with
        their keys; a name alone adds the newest persons sounding exactly like it (and when ``limit`` of
        them spell it as asked, they alone are the answer), and when that finds fewer than ``FEW``,
        those holding every word but one. A name and a father's name that no one
        holds all the words of: every word but one (a second statement); none still, one by one.
        A field alone that finds no one: the trigram index (then only the ids). A name and a father's
        name together single a person out: one person holding every word is enough, and looking further
        would only cost time."""
        positions = positions_of(people)
        wanted = " ".join(key.canonical for key in people.values())
        st = pg.Statement()
        held = pg.held(st, [positions], wanted, category)
        if set(people) == {"name"}:
            ctes = pg.name_alone(st, people["name"], held, limit, category)
        else:
            ctes = f"first AS MATERIALIZED ({held})"
        dropped = [positions[:i] + positions[i + 1 :] for i in range(len(positions))]
        alone = len(people) == 1  # a name and a father's name: one word missing is the rare fallback
        more = pg.held(st, dropped, wanted, category) if alone and len(positions) >= 3 else None
        result = conn.exec_driver_sql(pg.candidates(st, ctes, more, FEW, _fields(keys)), st.params)
        rows = [(r[0], r[1], NameKey(r[2], r[3], r[4])) for r in result]
        ids = {person_id for person_id, _, _ in rows}
        if ids:
            return ids, rows
        if not alone and len(positions) >= 3:
            st = pg.Statement()
            ids = {int(r[0]) for r in conn.exec_driver_sql(pg.held(st, dropped, wanted, category), st.params)}
            if ids:
                return ids, []
        if not alone:  # no one close by both: by each alone, as bounded
            for what, key in people.items():
                found, more_rows = self._pg_people(conn, {what: key}, category, keys, limit)
                ids |= found
                rows += more_rows
            return ids, rows
        ((what, key),) = people.items()
        _set_threshold(conn, TRGM_THRESHOLD)  # no one sounds or is spelt close: trigrams
        return _ids(conn, _pg_similar(key, _scope(category, FIELDS_OF[what]))), []

    def _candidates(self, conn: Connection, what: str, key: NameKey, category: str | None) -> set[int]:
        scope = _scope(category, FIELDS_OF[what])
        if not self._postgres:
            return _ids(conn, self._sqlite_candidates(key, scope))
        codes = list(dict.fromkeys(key.codes))
        ids = _ids(conn, _pg_same_sound(key, scope)) | _ids(conn, _pg_sounding(key, codes, scope))
        if len(ids) < FEW and len(codes) >= 3:  # one word misspelled beyond its sound: drop each in turn
            for dropped in range(len(codes)):
                ids |= _ids(conn, _pg_sounding(key, codes[:dropped] + codes[dropped + 1 :], scope))
        if len(ids) < FEW:
            _set_threshold(conn, TRGM_THRESHOLD)
            ids |= _ids(conn, _pg_similar(key, scope))
        return ids

    @staticmethod
    def _sqlite_candidates(key: NameKey, scope: list[ColumnElement[bool]]) -> Select[tuple[int]]:
        k = t.search_keys.c
        padded = literal(" ") + k.phonetic + literal(" ")
        shared = [func.instr(padded, f" {code} ") > 0 for code in dict.fromkeys(key.codes)]
        hits = sum((func.iif(c, 1, 0) for c in shared), literal(0))
        return (
            select(k.person_id)
            .where(and_(*scope), or_(*shared, k.phonetic_sorted == key.phonetic_sorted))
            .order_by(hits.desc(), k.person_id.desc())
            .limit(CANDIDATES)
        )

    @staticmethod
    def _keys_of(
        conn: Connection, ids: Iterable[int] | Select[tuple[int]], keys: dict[str, NameKey]
    ) -> list[KeyRow]:
        """The keys of the persons ``ids`` names (a list, or a query of them) for the fields asked."""
        k = t.search_keys.c
        ids = ids if isinstance(ids, Select) else list(ids)
        rows = conn.execute(
            select(k.person_id, k.field, k.canonical, k.phonetic, k.phonetic_sorted).where(
                k.person_id.in_(ids), k.active.is_(True), k.field.in_(_fields(keys))
            )
        ).all()
        return [(r.person_id, r.field, NameKey(r.canonical, r.phonetic, r.phonetic_sorted)) for r in rows]


def _fields(keys: dict[str, NameKey]) -> list[str]:
    return sorted({field for what in keys for field in FIELDS_OF[what]})


def _scope(category: str | None, fields: tuple[str, ...]) -> list[ColumnElement[bool]]:
    k = t.search_keys.c
    scope: list[ColumnElement[bool]] = [k.active.is_(True), k.field.in_(fields)]
    if category is not None:
        scope.append(k.category == category)
    return scope


def _set_threshold(conn: Connection, value: float) -> None:
    conn.execute(text("SELECT set_config('pg_trgm.similarity_threshold', :v, true)"), {"v": str(value)})


def _ids(conn: Connection, query: Select[tuple[int]]) -> set[int]:
    return {int(row[0]) for row in conn.execute(query)}


def _codes_array() -> ColumnElement[Any]:
    """The indexed expression of the codes GIN index, written as in the index (a literal separator)."""
    return func.string_to_array(t.search_keys.c.phonetic, literal_column("' '"))


def _pg_same_sound(key: NameKey, scope: list[ColumnElement[bool]]) -> Select[tuple[int]]:
    """Keys that sound exactly like the query, words in any order (B-tree): never cut short by the
    limit of a common name's wider sound query below."""
    k = t.search_keys.c
    return select(k.person_id).where(and_(*scope), k.phonetic_sorted == key.phonetic_sorted).limit(CANDIDATES)


def _pg_sounding(key: NameKey, codes: list[str], scope: list[ColumnElement[bool]]) -> Select[tuple[int]]:
    """Keys holding every one of ``codes`` (GIN on the code array), the closest spellings first.

    The inner limit bounds the work for a very common name (one word: "Muhammad")."""
    k = t.search_keys.c
    holding = _codes_array().op("@>")(literal(codes, type_=ARRAY(Text)))
    inner = select(k.person_id, k.canonical).where(and_(*scope), holding).limit(MAX_SOUNDING).subquery()
    return (
        select(inner.c.person_id)
        .order_by(func.similarity(inner.c.canonical, key.canonical).desc())
        .limit(CANDIDATES)
    )


def _pg_similar(key: NameKey, scope: list[ColumnElement[bool]]) -> Select[tuple[int]]:
    """Keys whose text is trigram-similar (pg_trgm GIN): typos and spellings that sound different."""
    k = t.search_keys.c
    return (
        select(k.person_id)
        .where(and_(*scope), k.canonical.op("%")(literal(key.canonical)))
        .order_by(func.similarity(k.canonical, key.canonical).desc())
        .limit(CANDIDATES)
    )


def rank(keys: dict[str, NameKey], rows: list[KeyRow], limit: int) -> list[Found]:
    """Score each person on its best key per field asked for; the best first, ties by newest id.

    A score depends on the stored text alone, so each text is scored once however many share it."""
    scored: dict[tuple[str, str], float] = {}
    best: dict[int, dict[str, tuple[float, str]]] = {}
    for person_id, stored_field, stored in rows:
        for what, wanted in keys.items():
            if stored_field not in FIELDS_OF[what]:
                continue
            value = scored.get((what, stored.canonical))
            if value is None:
                value = scored[what, stored.canonical] = score(wanted, stored)
            fields = best.setdefault(person_id, {})
            if value > fields.get(what, (-1.0, ""))[0]:
                fields[what] = (value, stored.canonical)
    total = sum(WEIGHTS[what] for what in keys)
    found = []
    for person_id, fields in best.items():
        value = sum(WEIGHTS[what] * fields.get(what, (0.0, ""))[0] for what in keys) / total
        if value >= MIN_SCORE:
            matched = {what: text for what, (_, text) in fields.items()}
            found.append((value, Found(person_id, round(value, 4), matched)))
    found.sort(key=lambda f: (-f[0], -f[1].person_id))
    return [f for _, f in found[:limit]]
