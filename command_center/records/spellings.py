"""The spellings a query's words may stand for: the word's own code, and the codes of close spellings.

A word misspelt beyond its sound ("Ahad" for "Ahmad", "Mohaed" for "Mohamed") has another Double
Metaphone code than the name meant, so a search by codes alone misses the person. Each word of the
query is therefore allowed the codes of

* the spellings in ``names.VARIANTS`` within one or two edits of it (a transposition counts as one),
  standing for their canonical form ("mohaed" -> "mohamed" -> muhammad);
* the words on the records (``cro_name_tokens``, trigram GIN on PostgreSQL) close to it, or with
  the same letters (two of them swapped, which costs short words most of their trigrams), looked up
  inside the search's statement.

Words of three letters or fewer are taken as written: one edit makes another name of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import Text, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from command_center.records import tables as t
from command_center.records.keys import FATHER_TAG, NAME_TAG
from command_center.records.names import VARIANTS, NameKey, phonetic_code

# A word on the records is proposed by pg_trgm's ``%`` at the server's similarity threshold (0.3 unless
# configured otherwise; a search sets its own only for its last resort) and a length within the edits
# allowed, in the search's own statement: no round trip of its own. That is looser than the edit
# distance the table's spellings are held to (a close word's code at most widens the candidates; the
# ranking decides).
_SPELLINGS = {
    spelling: canonical for canonical, forms in VARIANTS.items() for spelling in (canonical, *forms)
}


@dataclass(frozen=True, slots=True)
class Position:
    """One word of a query: the tagged codes a ``person`` row may hold for it."""

    tag: str
    word: str  # looked up among the words on the records ("" when taken as written)
    codes: tuple[str, ...]  # its own code and those of the table's spellings close to it

    def alternatives(self) -> ColumnElement[Any]:
        """The codes as an SQL array: ``codes``, and those of the words on the records close to it."""
        known = literal(list(self.codes), type_=ARRAY(Text))
        if not self.word:
            return known
        v = t.name_tokens.c
        close = select(literal(self.tag) + v.code).where(
            v.token.op("%")(self.word),
            func.abs(func.length(v.token) - len(self.word)) <= max_edits(self.word),
        )
        return known.op("||")(func.array(close.scalar_subquery()))


def max_edits(word: str) -> int:
    if len(word) <= 3:
        return 0
    return 1 if len(word) <= 6 else 2


@lru_cache(maxsize=16_384)
def table_codes(word: str) -> frozenset[str]:
    """The codes of the canonical forms whose listed spellings are within ``max_edits`` of ``word``."""
    limit = max_edits(word)
    if not limit:
        return frozenset()
    close = process.extract(word, list(_SPELLINGS), scorer=OSA.distance, score_cutoff=limit, limit=None)
    return frozenset(phonetic_code(_SPELLINGS[spelling]) for spelling, _, _ in close)


def positions_of(keys: dict[str, NameKey]) -> list[Position]:
    """One position per word of the name and father's name asked for (a word twice: once)."""
    tags = {"name": NAME_TAG, "father": FATHER_TAG}
    found: dict[Position, None] = {}
    for what, key in keys.items():
        for word, code in zip(key.canonical.split(), key.codes, strict=False):
            codes = tuple(sorted(tags[what] + c for c in {code} | table_codes(word)))
            found[Position(tags[what], word if max_edits(word) else "", codes)] = None
    return list(found)
