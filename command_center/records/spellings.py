"""The spellings a query's words may stand for: the word's own code, and the codes of close spellings.

A word misspelt beyond its sound ("Ahad" for "Ahmad", "Mohaed" for "Mohamed") has another Double
Metaphone code than the name meant, so a search by codes alone misses the person. Each word of the
query is therefore allowed the codes of

* the spellings in ``names.VARIANTS`` within one or two edits of it (a transposition counts as one),
  standing for their canonical form ("mohaed" -> "mohamed" -> muhammad);
* the words on the records (``cro_name_tokens``, trigram GIN on PostgreSQL) as close to it.

Words of three letters or fewer are taken as written: one edit makes another name of them.
"""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import Connection, text

from command_center.records.keys import FATHER_TAG, NAME_TAG
from command_center.records.names import VARIANTS, NameKey, phonetic_code

# A word on the records is proposed by pg_trgm's ``%`` at the server's similarity threshold (0.3 unless
# configured otherwise; a search sets its own only for its last resort), then checked by edit distance.
_SPELLINGS = {
    spelling: canonical for canonical, forms in VARIANTS.items() for spelling in (canonical, *forms)
}
_VOCABULARY = text(
    "SELECT q.word, v.token, v.code FROM unnest(CAST(:words AS text[])) AS q(word) "
    "JOIN cro_name_tokens v ON v.token % q.word"
)


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


def _words(keys: dict[str, NameKey]) -> list[tuple[str, str, str]]:
    """(tag, word, code) of each word of the name and father's name asked for."""
    tags = {"name": NAME_TAG, "father": FATHER_TAG}
    return [
        (tags[what], word, code)
        for what, key in keys.items()
        for word, code in zip(key.canonical.split(), key.codes, strict=False)
    ]


def pg_spellings(conn: Connection, keys: dict[str, NameKey]) -> list[list[str]]:
    """One list per word of the query: the tagged codes a ``person`` row may hold for it."""
    words = _words(keys)
    asked = sorted({word for _, word, _ in words if max_edits(word)})
    on_records: dict[str, set[str]] = {}
    if asked:
        for word, token, code in conn.execute(_VOCABULARY, {"words": asked}):
            if OSA.distance(word, token, score_cutoff=max_edits(word)) <= max_edits(word):
                on_records.setdefault(word, set()).add(code)
    positions: dict[tuple[str, ...], None] = {}
    for tag, word, code in words:
        codes = {code} | table_codes(word) | on_records.get(word, set())
        positions[tuple(sorted(tag + c for c in codes))] = None
    return [list(p) for p in positions]
