"""The search keys of a person, written with the person in one transaction on every write path.

Per person, in ``cro_search_keys``:

* one row per searchable text (name, each alias, father's name, address) with its keys from
  ``records.names`` (canonical text, phonetic codes, the codes sorted): what ``search.rank`` scores;
* one ``person`` row whose ``phonetic`` holds every phonetic code of the name and aliases (``n.CODE``)
  and of the father's name (``f.CODE``), its ``canonical`` the name and the father's name. On PostgreSQL
  its GIN index (``string_to_array(phonetic, ' ')``) answers "this name and this father's name" in one
  index scan: the rarest code decides how much is read, however common "Muhammad" is.

And ``cro_name_tokens``, the vocabulary of every canonical word of a name or a father's name with its
phonetic code and its letters sorted, so a word misspelt beyond its sound in a query ("Ahad" for
"Ahmad", "Mzahar" for "Mazhar") can be looked up among the spellings that exist (trigram GIN on
PostgreSQL, or the same letters) and stand for theirs. It only grows: a
word no longer used costs one row and never a wrong answer (the scoring decides).

Used by the store (create, update, archive), the bulk import, the migration that backfills them
(0006) and the search benchmark, so the keys are the same whichever path wrote them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert

from command_center.records import tables as t
from command_center.records.names import NameKey, name_key
from command_center.records.types import PersonFields

PERSON_FIELD = "person"  # the row of a person's combined codes
NAME_TAG, FATHER_TAG = "n.", "f."
MAX_TOKEN = 64


def texts_of(fields: PersonFields) -> list[tuple[str, str]]:
    texts = [("name", fields.name), *(("alias", a) for a in fields.aliases)]
    return [*texts, ("father", fields.father_name or ""), ("address", fields.address or "")]


def _row(person_id: int, what: str, key: NameKey, category: str, active: bool) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "field": what,
        "canonical": key.canonical[: t.MAX_TEXT],
        "phonetic": key.phonetic[: t.MAX_TEXT],
        "phonetic_sorted": key.phonetic_sorted[: t.MAX_TEXT],
        "category": category,
        "active": active,
    }


def tagged_codes(name_keys: Iterable[NameKey], father: NameKey | None) -> list[str]:
    """The ``person`` row's codes: each once, name codes tagged ``n.``, the father's ``f.``."""
    codes = [NAME_TAG + c for key in name_keys for c in key.codes]
    codes += [FATHER_TAG + c for c in (father.codes if father is not None else [])]
    return list(dict.fromkeys(codes))


def key_rows(person_id: int, fields: PersonFields, active: bool) -> list[dict[str, Any]]:
    """The search key rows of a person (see the module's docstring)."""
    keys = [(what, name_key(value)) for what, value in texts_of(fields)]
    keys = [(what, key) for what, key in keys if not key.empty]
    rows = [_row(person_id, what, key, fields.category, active) for what, key in keys]
    names = [key for what, key in keys if what in ("name", "alias")]
    father = next((key for what, key in keys if what == "father"), None)
    codes = tagged_codes(names, father)
    if codes:
        both = " ".join(k.canonical for k in names[:1] + ([father] if father else []))
        combined = NameKey(both, " ".join(codes), " ".join(sorted(codes)))
        rows.append(_row(person_id, PERSON_FIELD, combined, fields.category, active))
    return rows


def token_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """The vocabulary rows of key rows: each word of a name, alias or father's name with its code."""
    tokens: dict[str, str] = {}
    for row in rows:
        if row["field"] in ("name", "alias", "father"):
            for token, code in zip(row["canonical"].split(), row["phonetic"].split(), strict=False):
                tokens.setdefault(token[:MAX_TOKEN], code[:MAX_TOKEN])
    return [{"token": t, "code": c, "letters": letters(t)} for t, c in sorted(tokens.items())]


def letters(token: str) -> str:
    """A word's letters sorted: the same for a word and its misspelling with two letters swapped."""
    return "".join(sorted(token))


def insert_keys(
    conn: Connection, rows: Sequence[dict[str, Any]], token_columns: Sequence[str] | None = None
) -> None:
    """Insert key rows and add their words to the vocabulary (words already there are left alone);
    ``token_columns``: only those of the vocabulary (a migration before one of them was added)."""
    if not rows:
        return
    conn.execute(insert(t.search_keys), list(rows))
    tokens = token_rows(rows)
    if token_columns is not None:
        tokens = [{c: row[c] for c in token_columns} for row in tokens]
    if not tokens:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(pg_insert(t.name_tokens).on_conflict_do_nothing(index_elements=["token"]), tokens)
    else:
        conn.execute(insert(t.name_tokens).prefix_with("OR IGNORE"), tokens)


def write_keys(conn: Connection, person_id: int, fields: PersonFields, active: bool) -> None:
    """Replace a person's keys (inside the caller's transaction)."""
    conn.execute(delete(t.search_keys).where(t.search_keys.c.person_id == person_id))
    insert_keys(conn, key_rows(person_id, fields, active))
