"""Registration numbers as text: the comparison key, the display form, and an OCR-aware distance.

The *key* of a plate is its letters and digits, upper case (``"lea-1234"`` -> ``"LEA1234"``): spaces,
dashes and dots are how people and plate makers write it, not part of the number. The *display* form
keeps the separators as written, upper case, whitespace collapsed.

``plate_distance`` is a weighted edit distance in which the substitutions plate OCR makes most often
cost a fraction of an ordinary edit (O/0, I/1, B/8, S/5, Z/2 cheapest; Q/D with O/0, L/T with I/1,
G/6, A/4 a little more). ``fold`` maps every character of a confusion group to one representative, so
two keys that differ only by confusions fold to the same text: a hash lookup finds candidates, and the
plain Levenshtein distance of folded keys is a lower bound of ``plate_distance`` (a prefilter that
never loses a match).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MIN_KEY_LENGTH = 2
MAX_KEY_LENGTH = 12
MAX_DISPLAY_LENGTH = 20
EDIT_COST = 1.0  # an insertion, deletion or substitution that is not a known OCR confusion

# Substitutions plate OCR makes, with their cost (symmetric). Fonts differ by country; these hold for
# the Latin-script plates of PK/IN/US/EU/BR.
CONFUSION_COSTS: dict[frozenset[str], float] = {
    frozenset(pair): cost
    for pairs, cost in (
        (("O0", "I1", "B8", "S5", "Z2"), 0.2),
        (("G6", "Q0", "QO", "D0", "DO"), 0.3),
        (("A4", "L1", "LI", "T1", "TI"), 0.4),
    )
    for pair in pairs
}
# Pairs many plate fonts draw alike (the reader may pick either to fit a format): a difference between
# them is no evidence of another plate, so the hotlist does not count it among a read's confusions.
SAME_GLYPH: frozenset[frozenset[str]] = frozenset({frozenset("O0"), frozenset("I1")})


def telling_differences(read: str, key: str) -> int:
    """Positions where two equally long keys differ other than by a same-glyph pair (O/0, I/1)."""
    return sum(1 for a, b in zip(read, key, strict=True) if a != b and frozenset((a, b)) not in SAME_GLYPH)


# One representative per group of characters linked by a confusion above.
_FOLD = str.maketrans(
    {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "T": "1"}
    | {
        "B": "8",
        "S": "5",
        "Z": "2",
        "G": "6",
        "A": "4",
    }
)

_ALLOWED = re.compile(r"[A-Z0-9][A-Z0-9 .\-/]*", re.ASCII)
_KEY_DROP = re.compile(r"[^A-Z0-9]", re.ASCII)


class InvalidPlateError(ValueError):
    """Text that is not a registration number; the message says why."""


def normalise_plate(text: str) -> tuple[str, str]:
    """(display, key) of a typed registration number; raises InvalidPlateError.

    Accepts ASCII letters and digits with spaces, ``-``, ``.`` and ``/`` between them; full-width and
    other compatibility forms are folded first (NFKC), anything else (another script's look-alike
    letters, control characters) is refused rather than silently dropped.
    """
    display = " ".join(unicodedata.normalize("NFKC", text).upper().split()).strip(" .-/")
    if not display:
        raise InvalidPlateError("a registration number is required")
    if len(display) > MAX_DISPLAY_LENGTH:
        raise InvalidPlateError(f"at most {MAX_DISPLAY_LENGTH} characters; {len(display)} given")
    if not _ALLOWED.fullmatch(display):
        raise InvalidPlateError("a registration number holds only A-Z, 0-9, spaces and - . /")
    key = _KEY_DROP.sub("", display)
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidPlateError(
            f"a registration number has {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} letters and digits; "
            f"{len(key)} given"
        )
    return display, key


def read_key(text: str) -> str:
    """The key of OCR output, leniently: upper case, everything but A-Z and 0-9 dropped (may be empty)."""
    return _KEY_DROP.sub("", unicodedata.normalize("NFKC", text).upper())


def fold(key: str) -> str:
    """The key with each confusion group replaced by one representative."""
    return key.translate(_FOLD)


def substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return CONFUSION_COSTS.get(frozenset((a, b)), EDIT_COST)


def is_confusion(a: str, b: str) -> bool:
    return a != b and frozenset((a, b)) in CONFUSION_COSTS


def plate_distance(a: str, b: str) -> float:
    """Weighted edit distance between two keys: confusions cost 0.2-0.4, any other edit 1."""
    if a == b:
        return 0.0
    previous = [float(j) * EDIT_COST for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        current = [float(i) * EDIT_COST]
        for j, cb in enumerate(b, 1):
            current.append(
                min(
                    previous[j] + EDIT_COST,
                    current[j - 1] + EDIT_COST,
                    previous[j - 1] + substitution_cost(ca, cb),
                )
            )
        previous = current
    return round(previous[-1], 6)


def confusions(read: str, key: str) -> list[float] | None:
    """The cost of each position where two equally long keys differ, if every difference is a known
    confusion; None if they differ in length or by any other character."""
    if len(read) != len(key):
        return None
    costs = []
    for a, b in zip(read, key, strict=True):
        if a == b:
            continue
        if not is_confusion(a, b):
            return None
        costs.append(substitution_cost(a, b))
    return costs


def literal_length(pattern: Iterable[str]) -> int:
    """How many characters of a wildcard pattern are letters or digits."""
    return sum(ch.isascii() and ch.isalnum() for ch in pattern)
