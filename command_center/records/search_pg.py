"""PostgreSQL's candidates for a name and/or a father's name, as one statement of SQL text.

Written as text with bound parameters rather than built as SQLAlchemy expressions: a search is one
statement, and building and cache-keying an expression of a dozen array subqueries cost more of the
client's CPU than the database spent answering it. What it asks (``records.search``):

* ``held``: the ``person`` rows (``records.keys``) holding, for every word asked, its code or one of
  its alternatives (``records.spellings``; the words on the records close to it are looked up by a
  subquery of the same statement), all in one scan of the GIN index of the codes. The rarest code
  bounds the work; at most ``HELD`` rows are read, the ``CANDIDATES`` closest by trigram similarity kept;
* ``name_alone``: a name alone, the newest persons whose name or alias sounds exactly like it
  (words in any order), read in order from the partial index of migration 0010 and cut short;
* ``candidates``: the keys of those persons for the fields asked, in the same statement; too few, the
  persons holding every word but one (a word misspelt beyond its close spellings) as well.
"""

# ruff: noqa: S608  (every value is bound by Statement.bind; only this module's constants and fragments are
# written into the text)
from __future__ import annotations

import itertools
from typing import Any

from command_center.records.keys import PERSON_FIELD, letters
from command_center.records.names import NameKey
from command_center.records.spellings import Position, max_edits
from command_center.records.tables import NAME_FIELDS

CANDIDATES = 300  # persons proposed before scoring
HELD = 5000  # person rows read for one query before the closest spellings are kept
MAX_ORDERS = 5  # a name of up to this many words is matched in every order of its words
_CODES = "string_to_array(phonetic, ' ')"  # as the GIN index of the codes is written


class Statement:
    """SQL text and its parameters, bound one by one as the text is written."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def bind(self, value: object, cast: str = "") -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s{cast}"

    def scope(self, category: str | None) -> str:
        return "active" + (f" AND category = {self.bind(category)}" if category is not None else "")


def alternatives(st: Statement, p: Position) -> str:
    known = st.bind(list(p.codes), "::text[]")
    if not p.word:
        return known
    edits = max_edits(p.word)
    close = (
        f"SELECT {st.bind(p.tag)} || v.code FROM cro_name_tokens v WHERE (v.token %% {st.bind(p.word)} "
        f"AND length(v.token) BETWEEN {st.bind(len(p.word) - edits)} AND {st.bind(len(p.word) + edits)}) "
        f"OR v.letters = {st.bind(letters(p.word))}"
    )
    return f"({known} || ARRAY({close}))"


def _holding(st: Statement, positions: list[Position]) -> str:
    """Every position present: ``@>`` for the words taken as written with one code, ``&&`` for each
    with alternatives (one GIN index scan)."""
    alone = [p for p in positions if not p.word and len(p.codes) == 1]
    single = sorted({p.codes[0] for p in alone})
    terms = [f"{_CODES} @> {st.bind(single, '::text[]')}"] if single else []
    terms += [f"{_CODES} && {alternatives(st, p)}" for p in positions if p not in alone]
    return "(" + " AND ".join(terms) + ")"


def held(st: Statement, variants: list[list[Position]], wanted: str, category: str | None) -> str:
    """Ids of the persons meeting any of ``variants`` (lists of positions), the closest first."""
    met = " OR ".join(_holding(st, positions) for positions in variants if positions)
    rows = (
        f"SELECT person_id, canonical FROM cro_search_keys WHERE field = '{PERSON_FIELD}' "
        f"AND {st.scope(category)} AND ({met}) LIMIT {HELD}"
    )
    return (
        f"SELECT person_id FROM ({rows}) AS held "
        f"ORDER BY similarity(canonical, {st.bind(wanted)}) DESC LIMIT {CANDIDATES}"
    )


def name_alone(st: Statement, key: NameKey, held: str, limit: int, category: str | None) -> str:
    """The CTEs of a name alone: ``sounding``, the newest persons whose name or alias sounds exactly
    like ``key`` (the field condition written out, so that the planner matches the partial index's
    predicate), and ``first``, those and the ``held`` ones. When ``limit`` of the sounding ones spell
    the name as asked (its words in any order: the best score there is, and ties go to the newest),
    they are the answer and ``held`` is not run (a one-time filter)."""
    words = key.canonical.split()
    orders = [" ".join(p) for p in itertools.permutations(words)] if len(words) <= MAX_ORDERS else []
    sounding = (
        f"SELECT person_id, canonical FROM cro_search_keys WHERE {NAME_FIELDS} AND {st.scope(category)} "
        f"AND phonetic_sorted = {st.bind(key.phonetic_sorted)} ORDER BY person_id DESC LIMIT {CANDIDATES}"
    )
    spelt = st.bind(orders or [key.canonical])
    exact = f"SELECT count(DISTINCT person_id) FROM sounding WHERE canonical = ANY({spelt})"
    first = (
        f"SELECT person_id FROM sounding UNION "
        f"SELECT person_id FROM ({held}) AS held_ WHERE ({exact}) < {st.bind(limit)}"
    )
    return f"sounding AS MATERIALIZED ({sounding}), first AS MATERIALIZED ({first})"


def candidates(st: Statement, ctes: str, more: str | None, enough: int, fields: list[str]) -> str:
    """The keys for ``fields`` of the persons of the CTE ``first`` (``ctes`` make it), and when it
    finds fewer than ``enough`` of those of ``more`` (run only then: a one-time filter on the count)."""
    ids = "SELECT person_id FROM first"
    if more is not None:
        ids += f" UNION SELECT person_id FROM ({more}) AS more WHERE (SELECT count(*) FROM first) < {enough}"
    return (
        f"WITH {ctes} "
        "SELECT person_id, field, canonical, phonetic, phonetic_sorted FROM cro_search_keys "
        f"WHERE person_id IN ({ids}) AND active AND field = ANY({st.bind(fields)})"
    )
